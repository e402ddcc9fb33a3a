package runtime

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"

	"github.com/Masterminds/semver/v3"

	"github.com/wardrt/ward/internal/errs"
	"github.com/wardrt/ward/registry"
)

// Names: every environment has its own registry of names with semver
// versions (package registry). A process's names go when it exits; the
// process and its registrations are tied by regMu so a name can never
// outlive its process, however the two race.
//
// Entries are bounded twice, because each one is host memory a guest
// makes the host hold: per process by its environment's MaxNames, counted
// across every environment it holds names in, and per environment by
// MaxEnvironmentNames, counting its descendants' entries. The environment
// count is the registry's Budget (nameBudget), so the registry itself
// charges and releases it on every path an entry comes and goes by; the
// process count is derived from the registries, so it cannot drift.

// ErrNotRegistered is returned by Lookup when no live process matches.
var ErrNotRegistered = registry.ErrNotFound

// ErrTooManyNames is returned by Register and GetOrSpawn when the process
// already holds its environment's MaxNames entries, or the environment or
// one of its ancestors its MaxEnvironmentNames. Guests get the ErrLimit
// status.
var ErrTooManyNames = errors.New("ward: too many registered names")

// regState is the environments a process holds names in.
type regState struct {
	envs   []*Environment
	closed bool // the process has ended: no new names
	// pending counts the entry a get-or-spawn is registering for the
	// process, between its spawn and its return, so a Register racing it
	// cannot take the process past MaxNames.
	pending int
}

// addRegistration notes that a process spawned by get-or-spawn is about
// to hold a name in e.
func (p *Process) addRegistration(e *Environment) error {
	p.regMu.Lock()
	defer p.regMu.Unlock()
	if p.reg.closed {
		return fmt.Errorf("%w: %d", ErrNoProcess, p.id)
	}
	p.reg.pending++
	for _, have := range p.reg.envs {
		if have == e {
			return nil
		}
	}
	p.reg.envs = append(p.reg.envs, e)
	return nil
}

// namesHeldLocked counts the entries p holds in every environment,
// including one a get-or-spawn is registering; regMu must be held, which
// keeps the count from growing meanwhile.
func (p *Process) namesHeldLocked() int {
	n := p.reg.pending
	for _, e := range p.reg.envs {
		n += e.reg.Count(uint64(p.id))
	}
	return n
}

// nameBudget charges an environment's registry entries to it and to each
// of its ancestors, as process slots are (see takeUp). The registry calls
// it under its own lock, so it only touches atomic counters.
type nameBudget struct{ e *Environment }

func nameCount(e *Environment) *atomic.Int64 { return &e.names }
func maxEnvNames(e *Environment) int64       { return int64(e.cfg.MaxEnvironmentNames) }

func (b nameBudget) Take() error {
	if env, n := b.e.takeUp(nameCount, maxEnvNames, 1); env != nil {
		return fmt.Errorf("%w: the environment holds %d, counting its child environments', "+
			"and its MaxEnvironmentNames is %d; unregister names or raise the limit",
			ErrTooManyNames, n, env.cfg.MaxEnvironmentNames)
	}
	if !b.e.mem.Take(nameEntryCost) {
		b.e.giveUp(nameCount, 1)
		return fmt.Errorf("%w: the environment's MaxTotalMemory %d is used up", ErrTooManyNames, b.e.cfg.MaxTotalMemory)
	}
	return nil
}

func (b nameBudget) Give(n int) {
	b.e.giveUp(nameCount, int64(n))
	b.e.mem.Give(int64(n) * nameEntryCost)
}

// nameEntryCost is what a registry entry costs against MaxTotalMemory
// (measured at 163-241 bytes; docs/limits.md).
const nameEntryCost = 512

// NumNames reports the registry entries of this environment and its
// descendants, the count MaxEnvironmentNames bounds.
func (e *Environment) NumNames() int { return int(e.names.Load()) }

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
// ErrTooManyNames if p already holds MaxNames entries (its own
// environment's limit, counted over every environment it holds names in)
// or this environment or an ancestor MaxEnvironmentNames,
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
	// name behind, nor a concurrent Register take it past MaxNames.
	p.regMu.Lock()
	defer p.regMu.Unlock()
	if p.reg.closed {
		return e.rt.noProcess(p.id)
	}
	if n, limit := p.namesHeldLocked(), p.env.cfg.MaxNames; n >= limit {
		return fmt.Errorf("%w: process %d holds %d and its MaxNames is %d; unregister one first or raise the limit",
			ErrTooManyNames, p.id, n, limit)
	}
	if err := e.reg.Register(name, version, uint64(p.id)); err != nil {
		return err
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
		return err
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
			return nil, nil, errs.Errorf("ward: lookup %s: %w (%w)", name, ErrClosed, err)
		}
		return nil, nil, err
	}
	p := e.rt.lookup(ProcessID(ent.ID))
	if p == nil && e.rt.isClosing() {
		return nil, nil, errs.Errorf("ward: lookup %s: %w (%w)", ent, ErrClosed, ErrNotRegistered)
	}
	if p == nil {
		// Ended a moment ago; its names are on their way out.
		return nil, nil, errs.Wrap(ErrNotRegistered, "%s", ent)
	}
	return p, ent.Version, nil
}

// GetOrSpawn returns the process registered here as name at exactly
// version, spawning and registering it (entry of m with params) if there is
// none. Concurrent callers for the same name and version get the same
// process, and only one spawns; spawned reports whether this call did. With
// MaxEnvironmentNames reached here or in an ancestor it spawns nothing and
// fails with an error matching ErrTooManyNames.
func (e *Environment) GetOrSpawn(ctx context.Context, name, version string, m *Module, entry string, params ...Value) (p *Process, spawned bool, err error) {
	return e.getOrSpawn(ctx, name, version, m, entry, params, 0)
}

func (e *Environment) getOrSpawn(ctx context.Context, name, version string, m *Module, entry string, params []Value, parent ProcessID) (*Process, bool, error) {
	if e.life.closed.Load() {
		return nil, false, e.closedError("get-or-spawn " + name)
	}
	var started *Process
	pending := false
	id, spawned, err := e.reg.GetOrSpawn(ctx, name, version, func(context.Context) (registry.ID, error) {
		// Admitted but not yet running: it cannot end before the registry
		// records its name.
		p, err := e.register(ctx, m, entry, params, parent, nil)
		if err != nil {
			return 0, err
		}
		started = p // run (or killed) below whatever happens next
		if err := p.addRegistration(e); err != nil {
			return 0, err
		}
		pending = true
		return uint64(p.id), nil
	})
	if started != nil {
		if pending {
			started.regMu.Lock()
			started.reg.pending-- // registered by now, or never will be
			started.regMu.Unlock()
		}
		if err != nil || !spawned {
			started.Kill() // never reached the registry: do not leave it running
		}
		go started.run()
	}
	if err != nil {
		return nil, false, errs.Wrap(err, "get-or-spawn %s@%s", name, version)
	}
	if spawned {
		return started, true, nil
	}
	p := e.rt.lookup(ProcessID(id))
	if p == nil {
		return nil, false, errs.Wrap(ErrNotRegistered, "%s@%s", name, version)
	}
	return p, false, nil
}

// Registered lists the names registered in this environment.
func (e *Environment) Registered() []registry.Entry { return e.reg.List() }
