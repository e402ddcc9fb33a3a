package runtime

import (
	"context"
	"fmt"

	"github.com/Masterminds/semver/v3"

	"github.com/wardrt/ward/registry"
)

// Names: every environment has its own registry of names with semver
// versions (package registry). A process's names go when it exits; the
// process and its registrations are tied by regMu so a name can never
// outlive its process, however the two race.

// ErrNotRegistered is returned by Lookup when no live process matches.
var ErrNotRegistered = registry.ErrNotFound

// regState is the environments a process holds names in.
type regState struct {
	envs   []*Environment
	closed bool // the process has ended: no new names
}

func (p *Process) addRegistration(e *Environment) error {
	p.regMu.Lock()
	defer p.regMu.Unlock()
	if p.reg.closed {
		return fmt.Errorf("%w: %d", ErrNoProcess, p.id)
	}
	for _, have := range p.reg.envs {
		if have == e {
			return nil
		}
	}
	p.reg.envs = append(p.reg.envs, e)
	return nil
}

// unregisterAll removes every name of an ended process.
func (p *Process) unregisterAll() {
	p.regMu.Lock()
	p.reg.closed = true
	envs := p.reg.envs
	p.reg.envs = nil
	p.regMu.Unlock()
	for _, e := range envs {
		e.reg.RemoveProcess(uint64(p.id))
	}
}

// names lists "name@version" for each registration of the process.
func (p *Process) names() []string {
	p.regMu.Lock()
	envs := p.reg.envs
	p.regMu.Unlock()
	var out []string
	for _, e := range envs {
		for _, n := range e.reg.Names(uint64(p.id)) {
			out = append(out, n.String())
		}
	}
	return out
}

// Register gives p the name at an exact version in this environment. The
// name goes when p exits. It fails with an error matching registry.ErrTaken
// if another process holds that name and version, registry.ErrBadVersion or
// registry.ErrBadName for malformed input, ErrNoProcess if p has ended,
// ErrEnvironmentClosed if the environment is closed and ErrClosed if the
// runtime is.
func (e *Environment) Register(name, version string, p *Process) error {
	if p.env.rt != e.rt {
		return ErrForeignModule
	}
	if e.life.closed.Load() {
		return e.closedError("register " + name)
	}
	// Hold regMu across both steps so p cannot end in between and leave the
	// name behind.
	p.regMu.Lock()
	defer p.regMu.Unlock()
	if p.reg.closed {
		return e.rt.noProcess(p.id)
	}
	if err := e.reg.Register(name, version, uint64(p.id)); err != nil {
		return fmt.Errorf("ward: %w", err)
	}
	for _, have := range p.reg.envs {
		if have == e {
			return nil
		}
	}
	p.reg.envs = append(p.reg.envs, e)
	return nil
}

// Unregister removes a name and version from this environment.
func (e *Environment) Unregister(name, version string) error {
	if err := e.reg.Unregister(name, version); err != nil {
		if e.life.closed.Load() {
			return e.closedError("unregister " + name)
		}
		return fmt.Errorf("ward: %w", err)
	}
	return nil
}

// Lookup returns the live process registered here under name with the
// highest version matching constraint ("^1.2", "~1.4.0", ">=2, <3", "" for
// any), and that version. No match is an error matching ErrNotRegistered.
func (e *Environment) Lookup(name, constraint string) (*Process, *semver.Version, error) {
	if e.life.closed.Load() {
		return nil, nil, e.closedError("lookup " + name)
	}
	ent, err := e.reg.Lookup(name, constraint)
	if err != nil {
		if e.rt.isClosing() {
			// Names go as Close ends their processes: say why.
			return nil, nil, fmt.Errorf("ward: lookup %s: %w (%w)", name, ErrClosed, err)
		}
		return nil, nil, fmt.Errorf("ward: %w", err)
	}
	p := e.rt.lookup(ProcessID(ent.ID))
	if p == nil && e.rt.isClosing() {
		return nil, nil, fmt.Errorf("ward: lookup %s: %w (%w)", ent, ErrClosed, ErrNotRegistered)
	}
	if p == nil {
		// Ended a moment ago; its names are on their way out.
		return nil, nil, fmt.Errorf("ward: %s: %w", ent, ErrNotRegistered)
	}
	return p, ent.Version, nil
}

// GetOrSpawn returns the process registered here as name at exactly
// version, spawning and registering it (entry of m with params) if there is
// none. Concurrent callers for the same name and version get the same
// process, and only one spawns; spawned reports whether this call did.
func (e *Environment) GetOrSpawn(ctx context.Context, name, version string, m *Module, entry string, params ...Value) (p *Process, spawned bool, err error) {
	return e.getOrSpawn(ctx, name, version, m, entry, params, 0)
}

func (e *Environment) getOrSpawn(ctx context.Context, name, version string, m *Module, entry string, params []Value, parent ProcessID) (*Process, bool, error) {
	if e.life.closed.Load() {
		return nil, false, e.closedError("get-or-spawn " + name)
	}
	var started *Process
	id, spawned, err := e.reg.GetOrSpawn(ctx, name, version, func(context.Context) (registry.ID, error) {
		// Admitted but not yet running: it cannot end before the registry
		// records its name.
		p, err := e.register(m, entry, params, parent, nil)
		if err != nil {
			return 0, err
		}
		if err := p.addRegistration(e); err != nil {
			return 0, err
		}
		started = p
		return uint64(p.id), nil
	})
	if started != nil {
		if err != nil || !spawned {
			started.Kill() // never reached the registry: do not leave it running
		}
		go started.run()
	}
	if err != nil {
		return nil, false, fmt.Errorf("ward: get-or-spawn %s@%s: %w", name, version, err)
	}
	if spawned {
		return started, true, nil
	}
	p := e.rt.lookup(ProcessID(id))
	if p == nil {
		return nil, false, fmt.Errorf("ward: %s@%s: %w", name, version, ErrNotRegistered)
	}
	return p, false, nil
}

// Registered lists the names registered in this environment.
func (e *Environment) Registered() []registry.Entry { return e.reg.List() }
