package runtime

import (
	"context"
	"errors"
	"fmt"
	goruntime "runtime"
	"sync"
	"sync/atomic"

	"github.com/wardrt/ward/environment"
	"github.com/wardrt/ward/internal/abi"
	"github.com/wardrt/ward/internal/errs"
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

// ErrEnvironmentClosed is returned by calls on an environment that
// Environment.Close closed, or one below it: spawning, creating a child,
// registering and looking up names. On a Runtime that is closed, the same
// calls return ErrClosed instead.
var ErrEnvironmentClosed = errors.New("ward: environment closed")

// ErrRootEnvironment is returned by Close on a runtime's root environment:
// the root lives as long as its runtime, and Runtime.Close ends both.
var ErrRootEnvironment = errors.New("ward: the root environment cannot be closed on its own; close the Runtime")

// Environment is where processes run: every process spawned in it gets its
// limits (memory, fuel, host namespaces, WASI setup) and counts against its
// process limit and its ancestors'. Environments nest; a child can only
// narrow its parent.
//
// An environment lives until it is closed (Close) or nothing refers to it
// any more: no live process runs in it, no pending timer was set by one of
// its processes, and the program holds no pointer to it. Either way it
// then releases what it holds (the WASI output resources, its names, its
// place among its parent's children), so a program may make one per
// request or per plugin and simply drop it; a dropped one is released
// after the garbage collector finds it unreachable, Close releases at
// once. The Runtime keeps no other reference to an environment, and
// Runtime.Close releases the environments still held.
type Environment struct {
	rt     *Runtime
	id     uint64
	parent *Environment
	cfg    environment.Config
	live   atomic.Int64 // processes alive here and in descendants
	timers atomic.Int64 // pending timers their processes set (timers.go)
	names  atomic.Int64 // registry entries here and in descendants (names.go)
	// timerBytes is the message bytes of those timers (timers.go).
	timerBytes atomic.Int64

	reg *registry.Registry // names registered here
	// mem counts the linear memory and tables of the processes here and
	// in descendants against MaxTotalMemory; the C memory creator charges
	// it as memories grow.
	mem *wasm.Budget

	// life is what must be given back when the environment ends; it does
	// not point back here, so it can outlive the environment (see envLife).
	life *envLife
	// importOK caches, per module code, whether the module's imports are
	// allowed here (nil stored as errOK): environments are immutable, and
	// a spawn should not walk the import list every time. It is kept on
	// the environment, not the code, because code may live long and would
	// keep every environment reachable; importAdds paces the sweeps that
	// drop freed code (checkImports).
	importOK   sync.Map // *moduleCode -> error
	importAdds atomic.Int64

	outMu   sync.Mutex
	outputs map[outKey]*outStream // WASI stdout and stderr, made on first use

	hostCfgs []environment.HostConfig // cfg.Host by host module index (hoststate.go)
}

type outKey int

const (
	outStdout outKey = 1
	outStderr outKey = 2
)

func newEnvironment(rt *Runtime, parent *Environment, cfg environment.Config) *Environment {
	e := &Environment{rt: rt, id: rt.nextEnvID.Add(1), parent: parent, cfg: cfg, life: &envLife{}}
	e.hostCfgs = hostConfigs(rt, cfg)
	e.reg = registry.New(registry.WithBudget(nameBudget{e}))
	var parentMem *wasm.Budget
	if parent != nil {
		e.life.parent = parent.life
		parentMem = parent.mem
	}
	e.mem = wasm.NewBudget(parentMem, cfg.MaxTotalMemory)
	e.life.mem = e.mem
	return e
}

// ID returns a number no other environment of the runtime has; the root's
// is 1. Nodes of a cluster name a guest's environments by it when they
// check what the guest may do to their processes.
func (e *Environment) ID() uint64 { return e.id }

// Config returns the environment's effective configuration.
func (e *Environment) Config() environment.Config { return e.cfg }

// Runtime returns the runtime the environment belongs to.
func (e *Environment) Runtime() *Runtime { return e.rt }

// Parent returns the parent environment, nil for the root.
func (e *Environment) Parent() *Environment { return e.parent }

// NumProcesses reports the processes alive in this environment and its
// descendants.
func (e *Environment) NumProcesses() int { return int(e.live.Load()) }

// MemoryInUse reports the bytes of linear memory and table limits that the
// processes of the environment and of its child environments hold, which
// MaxTotalMemory bounds. A process's memory goes when its store is freed,
// just after it ends.
func (e *Environment) MemoryInUse() uint64 { return e.mem.Used() }

// NewChild creates an environment that narrows this one: zero fields of c
// inherit, and asking for more than the parent has is an error matching
// environment.ErrWiden.
//
// On a closed runtime it fails with ErrClosed, and on a closed environment
// with ErrEnvironmentClosed.
func (e *Environment) NewChild(c environment.Config) (*Environment, error) {
	if e.rt.isClosing() {
		return nil, errs.Wrap(ErrClosed, "new environment")
	}
	eff, err := e.cfg.Narrow(c)
	if err != nil {
		return nil, errs.Wrap(err, "new environment")
	}
	child := newEnvironment(e.rt, e, eff)
	if !e.life.adopt(child.life) {
		return nil, e.closedError("new environment")
	}
	// The child's resources go when it becomes unreachable: a process
	// keeps it reachable (p.env) while it runs, so this cannot fire under
	// a live process.
	goruntime.AddCleanup(child, (*envLife).end, child.life)
	return child, nil
}

// closedError is the error of a call on a closed environment: ErrClosed
// when the whole runtime is closing, ErrEnvironmentClosed otherwise.
func (e *Environment) closedError(op string) error {
	if e.rt.isClosing() {
		return errs.Wrap(ErrClosed, "%s", op)
	}
	return errs.Wrap(ErrEnvironmentClosed, "%s", op)
}

// Close ends the environment: it kills every process of it and of its
// child environments, waits until they have ended, cancels the timers
// they set, drops the names registered in it and releases what it holds
// (the WASI output resources). From the moment Close is called, spawning,
// creating a child, registering and looking up in this environment or any
// below it fail with an error matching ErrEnvironmentClosed.
//
// If ctx ends first, Close returns an error wrapping ctx's and the
// processes still end in the background; calling Close again waits for
// them and finishes the job. Close on the root environment fails with
// ErrRootEnvironment (close the Runtime instead), and on a closed runtime
// with ErrClosed.
//
// Close waits for every process of the environment, so a Go-native process
// (or a host function) running in it that calls Close waits for itself
// until ctx ends: close an environment from outside it.
//
// Closing is optional: an environment that nothing refers to any more
// releases the same resources on its own (see Environment).
func (e *Environment) Close(ctx context.Context) error {
	r := e.rt
	if e.parent == nil {
		return ErrRootEnvironment
	}
	if r.isClosing() {
		return errs.Wrap(ErrClosed, "closing environment")
	}
	e.life.close()
	// enter refuses a process of a closed environment, so after this
	// scan no process of e can start.
	procs := r.processesWithin(e)
	for _, p := range procs {
		p.Kill()
	}
	for i, p := range procs {
		select {
		case <-p.done.get():
		case <-ctx.Done():
			return errs.Errorf("ward: closing environment: %d processes still ending: %w", len(procs)-i, ctx.Err())
		}
	}
	// The processes have ended, so they set no more timers; the pending
	// ones would keep the environment reachable until they fire.
	r.cancelTimersWithin(e)
	for _, ent := range e.reg.List() {
		e.reg.RemoveProcess(ent.ID)
	}
	e.life.release()
	return nil
}

// cancelTimersWithin cancels the pending timers set by processes of env or
// of an environment below it.
func (r *Runtime) cancelTimersWithin(env *Environment) {
	var ids []TimerID
	r.timerMu.Lock()
	for id, t := range r.timers {
		if t.from != nil && t.from.env.within(env) {
			ids = append(ids, id)
		}
	}
	r.timerMu.Unlock()
	for _, id := range ids {
		r.cancelTimer(id, env)
	}
}

// envLife is an environment's lifetime: whether it is closed, and which
// child environments closing it must reach. (Its WASI output pipes need
// no hook here: they live only while a process uses them.) It is kept apart from the Environment and never
// points back to it, so that the parent, the runtime (through the root's
// children) and the GC cleanup of the environment can all reach it
// without keeping the environment itself reachable.
type envLife struct {
	parent *envLife
	closed atomic.Bool // Close was called on it or on an ancestor

	mu       sync.Mutex
	released bool
	kids     map[*envLife]struct{} // child environments not yet released
	mem      *wasm.Budget          // the environment's, released when it ends
}

// adopt records kid as a child, so closing or releasing l reaches it; it
// reports false when l is closed already.
func (l *envLife) adopt(kid *envLife) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed.Load() || l.released {
		return false
	}
	if l.kids == nil {
		l.kids = map[*envLife]struct{}{}
	}
	l.kids[kid] = struct{}{}
	return true
}

// close marks l and everything below it closed. Marking under mu orders
// it with adopt: a child made concurrently is either marked here or
// refused there.
func (l *envLife) close() {
	l.mu.Lock()
	l.closed.Store(true)
	kids := make([]*envLife, 0, len(l.kids))
	for k := range l.kids {
		kids = append(kids, k)
	}
	l.mu.Unlock()
	for _, k := range kids {
		k.close()
	}
}

// release ends l and everything below it; only the first call does
// anything. The closed mark is set too: nothing may use a released
// environment.
func (l *envLife) release() {
	l.mu.Lock()
	l.closed.Store(true)
	if l.released {
		l.mu.Unlock()
		return
	}
	l.released = true
	kids := l.kids
	l.kids = nil
	l.mu.Unlock()
	for k := range kids {
		k.release()
	}
}

// end is release for an environment that has become unreachable: it also
// forgets l in its parent, whose kids map is the only thing still
// pointing to it.
func (l *envLife) end() {
	l.release()
	l.mem.Release() // memories still charged to it keep it until they go
	if p := l.parent; p != nil {
		p.mu.Lock()
		delete(p.kids, l)
		p.mu.Unlock()
	}
}

// reserve takes a process slot here and in every ancestor, or none.
func (e *Environment) reserve() error {
	if env, n := e.takeUp(liveCount, maxProcesses, 1); env != nil {
		return fmt.Errorf("%w (%d alive, limit %d)", ErrProcessLimit, n, env.cfg.MaxProcesses)
	}
	return nil
}

func (e *Environment) release() { e.giveUp(liveCount, 1) }

// Counters an environment keeps for itself and its descendants, and their
// limits, for takeUp and giveUp.
func liveCount(e *Environment) *atomic.Int64  { return &e.live }
func timerCount(e *Environment) *atomic.Int64 { return &e.timers }
func maxProcesses(e *Environment) int64       { return int64(e.cfg.MaxProcesses) }

// takeUp adds n to the counter here and in every ancestor, or to none:
// it returns the environment whose limit stopped it, with the count it
// saw there, or nil. Each count only moves from within its limit, so
// NumProcesses never reads more than the limit, even while a spawn is
// being refused.
func (e *Environment) takeUp(count func(*Environment) *atomic.Int64, limit func(*Environment) int64, n int64) (*Environment, int64) {
	for env := e; env != nil; env = env.parent {
		if seen, ok := addBelow(count(env), limit(env), n); !ok {
			for undo := e; undo != env; undo = undo.parent {
				count(undo).Add(-n)
			}
			return env, seen
		}
	}
	return nil, 0
}

// giveUp undoes a successful takeUp.
func (e *Environment) giveUp(count func(*Environment) *atomic.Int64, n int64) {
	for env := e; env != nil; env = env.parent {
		count(env).Add(-n)
	}
}

// addBelow adds n to c unless that would take it past limit; it returns
// the count it saw.
func addBelow(c *atomic.Int64, limit, n int64) (int64, bool) {
	for {
		v := c.Load()
		if n > limit-v {
			return v, false
		}
		if c.CompareAndSwap(v, v+n) {
			return v, true
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
// killed. ctx's values stay with the process: its host handlers
// (hostapi.Handler) and the processes it spawns see them.
func (e *Environment) Spawn(ctx context.Context, m *Module, entry string, params ...Value) (*Process, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	p, err := e.register(ctx, m, entry, params, 0, nil)
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
//
// A ctx that has already ended is checked before anything else: Run then
// spawns nothing and returns a nil Reason and an error wrapping ctx's
// (context.Canceled or context.DeadlineExceeded), every time, whatever the
// state of the runtime or the environment.
func (e *Environment) Run(ctx context.Context, m *Module, entry string, params ...Value) (Reason, error) {
	if err := ctx.Err(); err != nil {
		return nil, errs.Wrap(err, "run %s", entry)
	}
	p, err := e.register(ctx, m, entry, params, 0, nil)
	if err != nil {
		return nil, err
	}
	if ctx.Done() == nil {
		// A ctx that can never end (context.Background) needs no watch:
		// AfterFunc and its stop cost three allocations and about 0.4 µs,
		// a tenth of a trivial process's run.
		p.runHere()
		return p.reason, nil
	}
	stop := context.AfterFunc(ctx, p.Kill)
	if ctx.Err() != nil {
		// Ended since the check above: AfterFunc kills on a goroutine of
		// its own, which could lose the race to a short process. Kill
		// now, so a ctx that ended before the run always reads Killed.
		p.Kill()
	}
	p.runHere()
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
	p, err := e.register(parent.spawnValues(), m, entry, params, parent.id, linkTo)
	if err != nil {
		return nil, err
	}
	go p.run()
	return p, nil
}

// register checks a Wasm spawn and admits the process; the caller then
// runs it, on a new goroutine or its own.
func (e *Environment) register(spawnCtx context.Context, m *Module, entry string, params []Value, parent ProcessID, linkTo *Process) (*Process, error) {
	if m == nil || m.rt != e.rt {
		return nil, ErrForeignModule
	}
	if err := checkEntry(m, entry, params); err != nil {
		return nil, err
	}
	if err := m.checkImports(e); err != nil {
		return nil, errs.Wrap(err, "spawning %s.%s", m.name, entry)
	}
	if err := m.checkVerified(e); err != nil {
		return nil, errs.Wrap(err, "spawning %s.%s", m.name, entry)
	}
	// The process holds the code until it ends (Process.end).
	if err := m.acquire(parent != 0); err != nil {
		return nil, errs.Wrap(err, "spawning %s.%s", m.name, entry)
	}
	p, err := e.admit(spawnCtx, m, entry, params, parent, linkTo)
	if err != nil {
		m.code.release()
	}
	return p, err
}

// admit takes a process slot and enters a new process in the table, linked
// to linkTo when it is not nil.
func (e *Environment) admit(spawnCtx context.Context, m *Module, entry string, params []Value, parent ProcessID, linkTo *Process) (*Process, error) {
	if err := e.reserve(); err != nil {
		return nil, errs.Wrap(err, "spawning %s", entry)
	}
	r := e.rt
	p := newProcess(spawnCtx, r.newID(), e, m, entry, params, parent)
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
			return nil, errs.Wrap(err, "spawning %s linked to %d", entry, linkTo.id)
		}
	}
	if err := r.enter(p); err != nil {
		if linkTo != nil {
			r.unlink(p, linkTo.id)
		}
		e.release()
		return nil, errs.Wrap(err, "spawning %s", entry)
	}
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

// wasi builds the WASI context of a process spawned here. A Go guest
// gets a stderr of its own (stderrTail), which the caller must release
// once its guest has stopped.
func (e *Environment) wasi(goGuest bool) (wasm.WASI, *stderrTail, error) {
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
		return w, nil, err
	}
	if w.Stderr, err = e.outputPath(outStderr); err != nil {
		if s := e.stream(outStdout); s != nil {
			s.release()
		}
		return w, nil, err
	}
	var tail *stderrTail
	if goGuest {
		if tail = e.newStderrTail(); tail != nil {
			w.Stderr = tail.pipe.path
		}
	}
	return w, tail, nil
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
	case abi.PermCompileModules:
		return e.cfg.Permissions.CompileModules.Allowed()
	case abi.PermCreateEnvironments:
		return e.cfg.Permissions.CreateEnvironments.Allowed()
	}
	return false // a permission this runtime does not know: refuse
}
