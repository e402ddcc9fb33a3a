package runtime

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/wardrt/ward/environment"
	"github.com/wardrt/ward/internal/abi"
	"github.com/wardrt/ward/internal/wasm"
	"github.com/wardrt/ward/registry"
)

// Spawn errors, for errors.Is.
var (
	// ErrProcessLimit: the environment, or one of its ancestors, already
	// has MaxProcesses processes alive.
	ErrProcessLimit = errors.New("ward: process limit reached")
	// ErrNoEntry: the module has no exported function of that name.
	ErrNoEntry = errors.New("ward: no such entry function")
	// ErrBadParams: the arguments do not match the entry's parameters.
	ErrBadParams = errors.New("ward: arguments do not match the entry function")
	// ErrForeignModule: the module was loaded by another runtime.
	ErrForeignModule = errors.New("ward: module belongs to another runtime")
)

// Environment is where processes run: every process spawned in it gets its
// limits (memory, fuel, host namespaces, WASI setup) and counts against its
// process limit and its ancestors'. Environments nest; a child can only
// narrow its parent.
type Environment struct {
	rt     *Runtime
	parent *Environment
	cfg    environment.Config
	live   atomic.Int64 // processes alive here and in descendants
	timers atomic.Int64 // pending timers their processes set (timers.go)
	// timerBytes is the message bytes of those timers (timers.go).
	timerBytes atomic.Int64

	reg *registry.Registry // names registered here

	outMu   sync.Mutex
	outputs map[outKey]*outPipe // WASI stdout and stderr, made on first use
}

type outKey int

const (
	outStdout outKey = 1
	outStderr outKey = 2
)

func newEnvironment(rt *Runtime, parent *Environment, cfg environment.Config) *Environment {
	return &Environment{rt: rt, parent: parent, cfg: cfg, reg: registry.New()}
}

// Config returns the environment's effective configuration.
func (e *Environment) Config() environment.Config { return e.cfg }

// Runtime returns the runtime the environment belongs to.
func (e *Environment) Runtime() *Runtime { return e.rt }

// Parent returns the parent environment, nil for the root.
func (e *Environment) Parent() *Environment { return e.parent }

// NumProcesses reports the processes alive in this environment and its
// descendants.
func (e *Environment) NumProcesses() int { return int(e.live.Load()) }

// NewChild creates an environment that narrows this one: zero fields of c
// inherit, and asking for more than the parent has is an error matching
// environment.ErrWiden.
func (e *Environment) NewChild(c environment.Config) (*Environment, error) {
	eff, err := e.cfg.Narrow(c)
	if err != nil {
		return nil, fmt.Errorf("ward: new environment: %w", err)
	}
	return newEnvironment(e.rt, e, eff), nil
}

// reserve takes a process slot here and in every ancestor, or none.
func (e *Environment) reserve() error {
	if env, n := e.takeUp(liveCount, maxProcesses); env != nil {
		return fmt.Errorf("%w (%d alive, limit %d)", ErrProcessLimit, n, env.cfg.MaxProcesses)
	}
	return nil
}

func (e *Environment) release() { e.giveUp(liveCount) }

// Counters an environment keeps for itself and its descendants, and their
// limits, for takeUp and giveUp.
func liveCount(e *Environment) *atomic.Int64  { return &e.live }
func timerCount(e *Environment) *atomic.Int64 { return &e.timers }
func maxProcesses(e *Environment) int64       { return int64(e.cfg.MaxProcesses) }

// takeUp adds one to the counter here and in every ancestor, or to none:
// it returns the environment whose limit stopped it, with the count it
// saw there, or nil. Each count only moves from below its limit, so
// NumProcesses never reads more than the limit, even while a spawn is
// being refused.
func (e *Environment) takeUp(count func(*Environment) *atomic.Int64, limit func(*Environment) int64) (*Environment, int64) {
	for env := e; env != nil; env = env.parent {
		if n, ok := takeBelow(count(env), limit(env)); !ok {
			for undo := e; undo != env; undo = undo.parent {
				count(undo).Add(-1)
			}
			return env, n
		}
	}
	return nil, 0
}

// giveUp undoes a successful takeUp.
func (e *Environment) giveUp(count func(*Environment) *atomic.Int64) {
	for env := e; env != nil; env = env.parent {
		count(env).Add(-1)
	}
}

// takeBelow adds one to c unless it is at limit; it returns the count it
// saw.
func takeBelow(c *atomic.Int64, limit int64) (int64, bool) {
	for {
		n := c.Load()
		if n >= limit {
			return n, false
		}
		if c.CompareAndSwap(n, n+1) {
			return n, true
		}
	}
}

// Spawn starts a process running the exported function entry of m with
// params, and returns at once: instantiation and the run happen on the
// process's own goroutine, and their failures are the process's exit
// Reason (see Process.Wait). Spawn itself fails, with an error naming the
// problem, when the runtime is closed, the module imports a namespace this
// environment does not allow (environment.ErrNamespaceDenied), the process
// limit is reached (ErrProcessLimit), or entry does not exist or take those
// params (ErrNoEntry, ErrBadParams).
//
// ctx bounds only the spawn itself; the process lives until it ends or is
// killed.
func (e *Environment) Spawn(ctx context.Context, m *Module, entry string, params ...Value) (*Process, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	p, err := e.register(m, entry, params, 0, nil)
	if err != nil {
		return nil, err
	}
	go p.run()
	return p, nil
}

// Run is Spawn followed by Wait, without the hand-off to a new goroutine:
// the process runs on the calling goroutine, which suits a request handler
// that needs a fresh process per request (it saves about half the cost of
// a trivial process). The process is otherwise like any other: it has an
// id, it can be killed, and Close waits for it. If ctx ends first, the
// process is killed and Run returns Killed with ctx's error.
func (e *Environment) Run(ctx context.Context, m *Module, entry string, params ...Value) (Reason, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	p, err := e.register(m, entry, params, 0, nil)
	if err != nil {
		return nil, err
	}
	stop := context.AfterFunc(ctx, p.Kill)
	p.run()
	if !stop() && p.reason == Killed {
		return p.reason, ctx.Err()
	}
	return p.reason, nil
}

// spawn starts a process on behalf of parent (a guest's spawn), linked to
// it when link is set.
func (e *Environment) spawn(m *Module, entry string, params []Value, parent *Process, link bool) (*Process, error) {
	var linkTo *Process
	if link {
		linkTo = parent
	}
	p, err := e.register(m, entry, params, parent.id, linkTo)
	if err != nil {
		return nil, err
	}
	go p.run()
	return p, nil
}

// register checks a Wasm spawn and admits the process; the caller then
// runs it, on a new goroutine or its own.
func (e *Environment) register(m *Module, entry string, params []Value, parent ProcessID, linkTo *Process) (*Process, error) {
	if m == nil || m.rt != e.rt {
		return nil, ErrForeignModule
	}
	if err := checkEntry(m, entry, params); err != nil {
		return nil, err
	}
	if err := m.checkImports(e); err != nil {
		return nil, fmt.Errorf("ward: spawning %s.%s: %w", m.name, entry, err)
	}
	return e.admit(m, entry, params, parent, linkTo)
}

// admit takes a process slot and enters a new process in the table, linked
// to linkTo when it is not nil.
func (e *Environment) admit(m *Module, entry string, params []Value, parent ProcessID, linkTo *Process) (*Process, error) {
	if err := e.reserve(); err != nil {
		return nil, fmt.Errorf("ward: spawning %s: %w", entry, err)
	}
	r := e.rt
	p := newProcess(ProcessID(r.nextID.Add(1)), e, m, entry, params, parent)
	if linkTo != nil {
		// Before the child is in the table, so before it runs or anyone
		// can reach it: spawn-with-link is atomic, and a link refused
		// (linkTo at MaxLinks, or its mailbox full) refuses the spawn. A
		// parent that ended meanwhile takes the child with it.
		if err := r.link(p, linkTo); errors.Is(err, ErrNoProcess) {
			if !linkTo.reason.Normal() {
				// link took linkTo's signal lock after its end was
				// recorded, so its reason is visible here.
				p.terminate(linkTo.reason, true)
			}
		} else if err != nil {
			e.release()
			return nil, fmt.Errorf("ward: spawning %s linked to %d: %w", entry, linkTo.id, err)
		}
	}
	r.mu.Lock()
	if r.closing {
		r.mu.Unlock()
		if linkTo != nil {
			r.unlink(p, linkTo.id)
		}
		e.release()
		return nil, ErrClosed
	}
	r.procs[p.id] = p
	r.wg.Add(1)
	r.mu.Unlock()
	return p, nil
}

func checkEntry(m *Module, entry string, params []Value) error {
	ft, ok := m.m.Exports[entry]
	if !ok {
		return fmt.Errorf("%w: module %s exports no function %q", ErrNoEntry, m.name, entry)
	}
	if len(ft.Params) != len(params) {
		return fmt.Errorf("%w: %s.%s takes %d params, got %d", ErrBadParams, m.name, entry, len(ft.Params), len(params))
	}
	for i, k := range ft.Params {
		if params[i].v.Kind != k {
			return fmt.Errorf("%w: %s.%s param %d is %v, got %v", ErrBadParams, m.name, entry, i, k, params[i].v.Kind)
		}
	}
	if len(params) > 16 || len(ft.Results) > 8 {
		return fmt.Errorf("%w: %s.%s has more than 16 params or 8 results", ErrBadParams, m.name, entry)
	}
	return nil
}

// wasi builds the WASI context of a process spawned here.
func (e *Environment) wasi() (wasm.WASI, error) {
	w := wasm.WASI{Args: e.cfg.WASI.Args}
	for k, v := range e.cfg.WASI.Env {
		w.Env = append(w.Env, [2]string{k, v})
	}
	for _, d := range e.cfg.WASI.Dirs {
		w.HostDirs = append(w.HostDirs, d.HostPath)
		w.GuestDirs = append(w.GuestDirs, d.GuestPath)
	}
	var err error
	if w.Stdout, err = e.outputPath(outStdout); err != nil {
		return w, err
	}
	if w.Stderr, err = e.outputPath(outStderr); err != nil {
		return w, err
	}
	return w, nil
}

// within reports whether e is anc or one of its descendants.
func (e *Environment) within(anc *Environment) bool {
	for env := e; env != nil; env = env.parent {
		if env == anc {
			return true
		}
	}
	return false
}

// permits reports whether processes here have a permission the ABI table
// names.
func (e *Environment) permits(perm abi.Permission) bool {
	switch perm {
	case abi.PermNone:
		return true
	case abi.PermSpawn:
		return e.cfg.Permissions.Spawn.Allowed()
	}
	return false // a permission this runtime does not know: refuse
}
