package runtime

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/Masterminds/semver/v3"
	"github.com/wardrt/ward/internal/errs"
)

// Versions, Erlang's way: a module name has a current version, which new
// spawns by name get (Current, Resolve), and at most one old one, whose
// processes run on. Installing a version makes it current, the current
// one old, and purges the old one: its processes end with a *PurgedError.
// A process moves itself to the current version with an upgrade (see
// upgrade.go), keeping its id, mailbox, names, links and monitors.

// Errors of installed versions, for errors.Is.
var (
	// ErrNoVersion: no installed version of the name matches.
	ErrNoVersion = errors.New("ward: no installed version matches")
	// ErrInstalled: the module is installed already (a module is
	// installed under one name, at one version), or a handle the runtime
	// owns (from Current or Resolve) was closed.
	ErrInstalled = errors.New("ward: module is installed")
	// ErrPurged: the process ran a version that a newer installation
	// purged (a *PurgedError).
	ErrPurged = errors.New("ward: module version purged")
	// ErrBadVersion: a version or constraint is not semver.
	ErrBadVersion = errors.New("ward: not a semver version or constraint")
)

// PurgedError is the reason of a process that ran the old version of an
// installed module when another version was installed: Erlang's purge,
// which ends what still runs the oldest code. Guests see it as
// ReasonPurged.
type PurgedError struct {
	Process ProcessID
	Name    string // the name the module was installed under
	Version string // the version the process ran
}

func (e *PurgedError) Error() string {
	return fmt.Sprintf("process %s ran %s@%s, purged when a newer version was installed over the current one", e.Process, e.Name, e.Version)
}

// Normal reports false.
func (e *PurgedError) Normal() bool { return false }

// Is matches ErrPurged.
func (e *PurgedError) Is(target error) bool { return target == ErrPurged }

// versions holds the installed versions by name.
type versions struct {
	mu     sync.Mutex
	byName map[string]*versionPair // nil once closed
}

type versionPair struct{ cur, old *installedVersion }

type installedVersion struct {
	v   *semver.Version
	raw string
	m   *Module // owned by the runtime
}

// Install makes m the current version of name: new spawns by name
// (Current, Resolve, a supervisor child naming its module) get it, and
// processes calling upgrade move to it. The version current until now
// becomes old, and its processes run on; the one that was old is purged:
// its processes end with a *PurgedError, and the runtime lets go of it.
// Install returns once they have ended; if ctx ends first, the new version
// is installed all the same, the purge goes on, and Install returns an
// error wrapping ctx's.
//
// version is semver ("1.4.0"); it must differ from the current one's. A
// module's code is installed under one name at one version (ErrInstalled
// otherwise). The runtime keeps a handle of its own, so the caller may
// Close m at once. Closing the runtime releases every version.
func (r *Runtime) Install(ctx context.Context, name, version string, m *Module) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	v, err := semver.NewVersion(version)
	switch {
	case err != nil:
		return errs.Errorf("ward: installing %s@%s: %w: %w", name, version, ErrBadVersion, err)
	case name == "":
		return errs.Wrap(ErrBadVersion, "installing @%s: the name is empty", version)
	case m == nil || m.rt != r:
		return errs.Wrap(ErrForeignModule, "installing %s@%s", name, version)
	}
	if r.isClosing() {
		return errs.Wrap(ErrClosed, "installing %s@%s", name, version)
	}
	if err := m.acquire(false); err != nil {
		return errs.Wrap(err, "installing %s@%s", name, version)
	}
	own := r.newHandle(name, m.code)
	own.owned = true
	vs := &r.versions
	vs.mu.Lock()
	if vs.byName == nil {
		vs.mu.Unlock()
		m.code.release()
		return errs.Wrap(ErrClosed, "installing %s@%s", name, version)
	}
	if at := m.code.installed; at != "" {
		vs.mu.Unlock()
		m.code.release()
		return fmt.Errorf("%w: installing %s@%s: its code is installed under %s already; load other bytes for a new version", ErrInstalled, name, version, at)
	}
	pair := vs.byName[name]
	if pair == nil {
		pair = &versionPair{}
		vs.byName[name] = pair
	}
	if pair.cur != nil && pair.cur.v.Equal(v) {
		vs.mu.Unlock()
		m.code.release()
		return errs.Wrap(ErrInstalled, "installing %s@%s: that version is current already", name, version)
	}
	purge := pair.old
	pair.old, pair.cur = pair.cur, &installedVersion{v: v, raw: version, m: own}
	m.code.installed = name
	if purge != nil {
		purge.m.code.installed = ""
	}
	vs.mu.Unlock()
	if purge == nil {
		return nil
	}
	defer purge.m.code.release()
	if err := r.purge(ctx, name, purge); err != nil {
		return errs.Errorf("ward: installed %s@%s, but the processes of %s@%s being purged had not all ended when ctx did: %w",
			name, version, name, purge.raw, err)
	}
	return nil
}

// purge ends the processes running iv's code and waits, within ctx, until
// they have: one that spawned a child as it was told to end has the child
// in the process table by then, and the next look finds it.
func (r *Runtime) purge(ctx context.Context, name string, iv *installedVersion) error {
	code := iv.m.code
	for {
		var doomed []*Process
		r.mu.RLock()
		for _, p := range r.procs {
			if p.mod != nil && p.module().code == code {
				doomed = append(doomed, p)
			}
		}
		r.mu.RUnlock()
		if len(doomed) == 0 {
			return nil
		}
		for _, p := range doomed {
			p.terminate(&PurgedError{Process: p.id, Name: name, Version: iv.raw}, false)
		}
		for _, p := range doomed {
			if _, err := p.Wait(ctx); err != nil {
				return err
			}
		}
	}
}

// Current returns the current version of name and the version it was
// installed as. The handle belongs to the runtime: spawn from it, do not
// close it.
func (r *Runtime) Current(name string) (*Module, string, bool) {
	vs := &r.versions
	vs.mu.Lock()
	defer vs.mu.Unlock()
	if pair := vs.byName[name]; pair != nil && pair.cur != nil {
		return pair.cur.m, pair.cur.raw, true
	}
	return nil, "", false
}

// Resolve returns the installed version of name that matches constraint
// (semver: "^1.2", "~1.4.0", ">=2, <3"; empty for any): the current one if
// it matches, else the old one if it does, else an error wrapping
// ErrNoVersion. The handle belongs to the runtime: spawn from it, do not
// close it.
func (r *Runtime) Resolve(name, constraint string) (*Module, error) {
	var c *semver.Constraints
	if constraint != "" {
		var err error
		if c, err = semver.NewConstraint(constraint); err != nil {
			return nil, errs.Errorf("ward: resolving %s %q: %w: %w", name, constraint, ErrBadVersion, err)
		}
	}
	vs := &r.versions
	vs.mu.Lock()
	defer vs.mu.Unlock()
	if vs.byName == nil {
		return nil, errs.Wrap(ErrClosed, "resolving %s %q", name, constraint)
	}
	if pair := vs.byName[name]; pair != nil {
		for _, iv := range []*installedVersion{pair.cur, pair.old} {
			if iv != nil && (c == nil || c.Check(iv.v)) {
				return iv.m, nil
			}
		}
	}
	return nil, errs.Wrap(ErrNoVersion, "resolving %s %q: install a version that matches", name, constraint)
}

// currentFor returns the current version of the name code is installed
// under, if code is installed and not current itself.
func (r *Runtime) currentFor(code *moduleCode) (*Module, bool) {
	vs := &r.versions
	vs.mu.Lock()
	defer vs.mu.Unlock()
	if code.installed == "" {
		return nil, false
	}
	if pair := vs.byName[code.installed]; pair != nil && pair.cur != nil && pair.cur.m.code != code {
		return pair.cur.m, true
	}
	return nil, false
}

func (vs *versions) init() { vs.byName = map[string]*versionPair{} }

// closeAll releases every installed version; the runtime is closing, and
// its processes have ended.
func (vs *versions) closeAll() {
	vs.mu.Lock()
	byName := vs.byName
	vs.byName = nil
	for _, pair := range byName {
		for _, iv := range []*installedVersion{pair.cur, pair.old} {
			if iv != nil {
				iv.m.code.installed = ""
			}
		}
	}
	vs.mu.Unlock()
	for _, pair := range byName {
		for _, iv := range []*installedVersion{pair.cur, pair.old} {
			if iv != nil {
				iv.m.code.release()
			}
		}
	}
}
