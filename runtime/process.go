package runtime

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	goruntime "runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/wardrt/ward/environment"
	"github.com/wardrt/ward/internal/abi"
	"github.com/wardrt/ward/internal/chanptr"
	"github.com/wardrt/ward/internal/wasm"
	"github.com/wardrt/ward/mailbox"
)

// ProcessID identifies a process within its runtime. Ids are never reused.
type ProcessID uint64

// Process is a running Wasm instance. Its methods are safe for concurrent
// use.
type Process struct {
	id     ProcessID
	env    *Environment
	mod    *Module
	entry  string
	params []Value
	parent ProcessID // 0 when spawned from Go

	mb    *mailbox.Mailbox
	goFn  GoFunc // set for Go-native processes
	ctxMu sync.Mutex
	// ctx is the context of the spawn until a Wasm process first needs one
	// of its own (hostContext); then, as for a Go process from the start,
	// a *processContext: the spawn's values, ending when the process ends.
	ctx context.Context

	fuelUsed atomic.Uint64 // as of its last poll (wasm.Proc.FuelUsed)

	killed     atomic.Bool
	claimed    atomic.Bool                 // a goroutine runs it (claim); beside killed, in its padding
	term       atomic.Pointer[termination] // why it is being ended from outside
	trapExit   atomic.Bool
	timers     atomic.Int32  // pending SendAfter timers it set; an Int32 beside trapExit keeps Process in the 384-byte size class
	timerBytes atomic.Int64  // their message bytes
	yields     atomic.Uint64 // epoch yields so far: how often it was preempted
	sig        signalState   // guarded by sig.mu
	regMu      sync.Mutex
	reg        regState // guarded by regMu

	// The hand-off (handoff.go): who may run the process's instance while
	// its goroutine waits in a receive.
	park       atomic.Int32 // parkOwned, parkWaiting, parkBorrowed or parkHanded
	handedBack bool         // the goroutine's own note that resume is set
	// Set before it runs; beside handedBack to fill the padding there, so
	// that Process stays in the 384-byte size class.
	quiet     bool        // its failures are reported elsewhere, not logged
	outHeld   bool        // it holds its environment's WASI output pipes (wasi.go)
	wp        *wasm.Proc  // the instance, set before the first park
	waitTags  []int64     // the waiting receive's filter; held with park
	waitBuf   [3]int64    // waitTags' storage: the usual one or two tags, and a request's
	resume    wasm.Status // with parkHanded: what the goroutine serves next
	request   MonitorRef  // the watch of a pending send_receive (hostmsg.go); held with park
	requestTo ProcessID   // its target until it is watched; held with park

	// For tests, held with park: times a borrower ran it, and gave it back
	// unfinished; messages moved into its inbox (hostmsg.go); the most
	// messages one borrow served it.
	borrows, handBacks, aheads, borrowedMost int32

	done   doneChan
	reason Reason // written once, before done is closed
}

// doneChan is a process's Done channel, made only when someone asks for
// it: a process run with Environment.Run usually ends with nobody having
// asked, and a channel costs it an allocation and its close. It holds the
// channel, or endedChan when the process ended before anyone asked. Once
// set it never changes.
type doneChan struct{ p chanptr.Pointer }

// endedChan is the Done channel of every process that ended before anyone
// asked for one.
var endedChan = func() chan struct{} {
	c := make(chan struct{})
	close(c)
	return c
}()

// get returns the channel, making it if there is none yet.
func (d *doneChan) get() chan struct{} {
	if c := d.p.Load(); c != nil {
		return c
	}
	c := make(chan struct{})
	if d.p.CompareAndSwap(nil, c) {
		return c
	}
	return d.p.Load() // made meanwhile, or the process ended
}

// close records the end, after the reason (a reader that sees the end
// sees the reason): it closes the channel, or sets endedChan if there is
// none.
func (d *doneChan) close() {
	if !d.p.CompareAndSwap(nil, endedChan) {
		close(d.p.Load())
	}
}

// ended reports whether close was called.
func (d *doneChan) ended() bool {
	c := d.p.Load()
	if c == nil {
		return false
	}
	select {
	case <-c:
		return true
	default:
		return false
	}
}

// newProcess makes a process; spawnCtx, which may be nil, is the context
// whose values its host calls see (hostContext).
func newProcess(spawnCtx context.Context, id ProcessID, env *Environment, m *Module, entry string, params []Value, parent ProcessID) *Process {
	if pc, ok := spawnCtx.(*processContext); ok {
		// Another process's own context (a Go process spawning, a host
		// handler): only a process's own may be a *processContext in ctx,
		// since ending the process cancels it.
		spawnCtx = pc.base
	}
	p := &Process{
		id: id, env: env, mod: m, entry: entry, params: params, parent: parent, ctx: spawnCtx,
		mb: mailbox.New(mailbox.Limits{
			MaxMessages: env.cfg.MaxMailboxMessages,
			MaxBytes:    env.cfg.MaxMailboxBytes,
			Budget:      env.mem, // what it queues counts against MaxTotalMemory
		}),
	}
	if m == nil {
		p.ctx = newProcessContext(spawnCtx)
	}
	return p
}

// ID returns the process id.
func (p *Process) ID() ProcessID { return p.id }

// Module returns the module the process runs, nil for a Go-native process.
// After an upgrade, it is the module of the version the process moved to.
func (p *Process) Module() *Module {
	if p.mod == nil {
		return nil
	}
	return p.ranLast()
}

// Entry returns the entry function the process was spawned with.
func (p *Process) Entry() string { return p.entry }

// Environment returns the environment the process runs in.
func (p *Process) Environment() *Environment { return p.env }

// Done is closed when the process has ended and its store is freed.
func (p *Process) Done() <-chan struct{} { return p.done.get() }

// Reason returns why the process ended, or nil while it runs.
func (p *Process) Reason() Reason {
	if p.done.ended() {
		return p.reason
	}
	return nil
}

// Wait blocks until the process ends and returns why. The error is non-nil
// only when ctx ends first.
//
// Called with a ctx that can never end (context.Background) on a Wasm
// process that has not started yet, Wait runs it on the calling goroutine,
// as Environment.Run does: nothing else about the process changes, and a
// Spawn followed at once by such a Wait costs less.
func (p *Process) Wait(ctx context.Context) (Reason, error) {
	// Not with a ctx that can end: a process running here could not be
	// handed to another goroutine when the waiter gives up. Nor for a Go
	// process: its GoFunc may end its goroutine (runtime.Goexit), which
	// here would be the waiter's.
	if ctx.Done() == nil && p.mod != nil && !p.claimed.Load() {
		p.run()
		if p.done.ended() {
			return p.reason, nil
		}
	}
	for range waitYields {
		if p.done.ended() {
			return p.reason, nil
		}
		goruntime.Gosched()
	}
	if ctx.Done() == nil {
		// A ctx that can never end: a plain receive, cheaper than the
		// select.
		<-p.done.get()
		return p.reason, nil
	}
	select {
	case <-p.done.get():
		return p.reason, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// waitYields is how many times Wait lets other goroutines run before it
// parks. A process just spawned is next in line on the spawner's thread
// (the runtime puts a new goroutine there): a Wait right after Spawn that
// yields lets it run, and if it ends in that turn Wait returns without
// parking, which spares its end the wake-up of a parked waiter (a futex
// call, and the other thread woken to look for work: 0.7 µs of CPU of a
// trivial Spawn+Wait here).
const waitYields = 1

// Kill ends the process with reason Killed: at once if it is parked in a
// host call or has not started, and at its next epoch yield (within about
// one epoch interval) if it is running guest code. It cannot be trapped.
// Killing an ended process does nothing.
func (p *Process) Kill() { p.terminate(Killed, false) }

// terminate ends the process from outside with reason; the first call
// wins.
func (p *Process) terminate(reason Reason, viaLink bool) {
	if !p.term.CompareAndSwap(nil, &termination{reason: reason, viaLink: viaLink}) {
		return
	}
	p.killed.Store(true)
	p.cancelContext()
	// A parked process waits on its mailbox's Notify channel alone (one
	// channel is cheaper to wait on than a select), so a kill wakes it
	// there.
	p.mb.Wake()
}

// String returns the id in decimal.
func (id ProcessID) String() string { return strconv.FormatUint(uint64(id), 10) }

func (p *Process) String() string { return fmt.Sprintf("process %d (%s)", p.id, p.label()) }

// label is "module.entry", or "go:name" for a Go-native process.
func (p *Process) label() string {
	if p.mod == nil {
		return p.entry
	}
	m, entry := p.running()
	return m.name + "." + entry
}

// runHere runs the process on the calling goroutine (Environment.Run,
// Runtime.Request) and returns once it has ended: a Wait that found it
// in the table first may be running it instead.
func (p *Process) runHere() {
	p.run()
	<-p.done.get()
}

// claim reports whether the caller is the one to run the process: the
// goroutine Spawn started for it, or a Wait that found it not started.
// Spawn still starts a goroutine for every process, since nothing says
// anyone will wait. Not inlined: inlined into run, it took 8 bytes more
// of run's frame (see there).
//
//go:noinline
func (p *Process) claim() bool {
	// A look before the swap: the goroutine that finds the process taken
	// then leaves its line shared, not taken from the core running it.
	return !p.claimed.Load() && p.claimed.CompareAndSwap(false, true)
}

// run is the process's whole life, unless another goroutine has claimed
// it. It is a process goroutine's first frame, under every call the
// process makes, and that stack is within a few bytes of its first 2 KiB
// at its deepest: one frame more above run, or 8 bytes more in it, and
// most parked processes' goroutines grew to 4 KiB for good
// (TestReceiveParksWithin2KiBOfGoroutineStack). So the claim is made here,
// by a call, and run takes and returns nothing; its callers learn whether
// it ran from the process's end.
func (p *Process) run() {
	if !p.claim() {
		return
	}
	if limit := p.env.cfg.MaxWallTime; limit != environment.UnlimitedWallTime {
		// Held here, not in the Process: the goroutine lives exactly as
		// long as the process, and Process has no room to spare.
		t := time.AfterFunc(limit, func() { p.terminate(&TimeLimitError{Process: p.id, Limit: limit}, false) })
		defer t.Stop()
	}
	var reason Reason
	defer func() {
		// Deferred, so that runtime.Goexit still ends the process: from
		// a GoFunc, executeGo has set a reason; from a host module's
		// handler (t.Fatal in a test's handler, say) none is set.
		if reason == nil {
			if v := recover(); v != nil {
				panic(v) // a bug in the host: crash as before, not hang
			}
			// The handler's unslotted wrapper took the run slot back on
			// its way out.
			p.env.rt.releaseRun()
			reason = &GoError{Process: p.id, Name: p.label(), Err: ErrGoexit}
		}
		p.end(reason)
	}()
	p.emit(EventStart, nil, 0)
	if p.goFn != nil {
		p.executeGo(&reason)
	} else {
		reason = p.execute()
	}
}

// end is everything that follows a process's run: the table, names,
// mailbox and environment slot go, links and monitors are told, and Wait
// returns.
func (p *Process) end(reason Reason) {
	r := p.env.rt
	viaLink := false
	if t := p.term.Load(); t != nil && reason == Killed {
		reason, viaLink = t.reason, t.viaLink
	}
	p.cancelContext()
	p.closeHostStates() // before links and monitors hear: a restart finds its port free
	var names []string
	if !viaLink && !reason.Normal() && reason != Killed {
		names = p.names() // for the failure log, before the names go
	}
	kind := endKind(reason, viaLink)
	r.leave(p, kind)
	p.unregisterAll()
	p.mb.Close()
	sent, full := p.mb.Counts() // final: the mailbox is closed
	// Under the table's lock, as Stats reads them: a snapshot counts the
	// process's messages through the table or through these, never both.
	r.mu.Lock()
	r.endedSent.Add(sent)
	r.endedFull.Add(full)
	r.mu.Unlock()
	p.env.release()
	p.reason = reason
	p.propagateExit(reason)
	if !viaLink && !p.quiet {
		p.logExit(reason, names)
	}
	p.emit(EventEnd, reason, kind)
	if p.mod != nil {
		p.module().code.release() // its store is freed by now
		p.forgetUpgrade()
	}
	p.done.close()
	r.wg.Done()
}

func (p *Process) cancelContext() {
	p.ctxMu.Lock()
	defer p.ctxMu.Unlock()
	if pc, ok := p.ctx.(*processContext); ok {
		pc.cancel()
	}
}

// execute drives the process from instantiation to its end. Between polls
// no cgo frame is on this goroutine's stack: a parked process costs a
// goroutine, not an OS thread.
func (p *Process) execute() Reason {
	if p.killed.Load() {
		return Killed
	}
	r := p.env.rt
	// After the store is freed: it holds the WASI output files.
	defer p.releaseOutputs()
	wp, st, tail, reason := p.start()
	if reason != nil {
		return reason
	}
	p.wp = wp
	// p.wp and p.outHeld as they are at the end: an upgrade (upgrade.go)
	// replaces the instance, and its new one may use WASI. The tail goes
	// before teardown (see release).
	defer func() {
		if p.outHeld {
			p.env.flushOutputs(p, tail)
		}
		tail.release()
		p.teardown(p.wp)
	}()
	for {
		switch st {
		case wasm.Done:
			r.releaseRun()
			return p.classify(wp, tail)
		case wasm.Yield:
			r.releaseRun()
			p.yields.Add(1)
			if p.killed.Load() {
				return Killed // teardown drops the suspended future
			}
			r.acquireRun() // behind any process waiting for a slot
			st = p.poll(wp)
		case wasm.Host:
			// Served holding the run slot: most host calls never block,
			// and those that do let go of it while they wait (unslotted).
			if !p.serve(wp) {
				r.releaseRun()
				return Killed
			}
			if p.wp != wp {
				// Upgraded: the new instance writes to the environment's
				// stderr, and the old one's tail says nothing of it.
				tail.release()
				tail, wp = nil, p.wp
			}
			st = p.next(wp)
		}
	}
}

// start creates the process's store and runs it to its first stop. It is
// kept out of execute, and out of line, so its locals are not on the stack
// of a parked process: a parked goroutine using under a quarter of its
// stack gets it shrunk to 2 KiB by the GC, and that is 2 KiB a process.
//
// On success it returns holding a run slot; on failure, with none and a
// reason.
//
//go:noinline
func (p *Process) start() (*wasm.Proc, wasm.Status, *stderrTail, Reason) {
	r, cfg := p.env.rt, &p.env.cfg
	// Every cgo call that may take a while runs inside a run slot or a
	// teardown slot: a spawn or kill storm then holds at most 2*GOMAXPROCS
	// OS threads in C instead of one per process.
	r.acquireRun()
	wp, err := p.mod.code.newProc(p.env, uint64(p.id))
	if err != nil {
		return nil, 0, nil, p.newProcFailed(err)
	}
	// Everything but the common path is out of line: this frame is under
	// every cgo call of the start, and a goroutine whose start needs more
	// than its first 2 KiB of stack grows it to 4 KiB for good (the GC
	// never shrinks a parked one back: the frames it would have to fit in
	// are under 224 bytes) and pays a stack copy on every spawn.
	var tail *stderrTail
	if p.mod.m.UsesWASI {
		if tail, err = p.startWASI(wp); err != nil {
			return nil, 0, nil, p.startFailed(wp, tail, err)
		}
	}
	if err := p.setEntry(wp); err != nil {
		return nil, 0, nil, p.startFailed(wp, tail, err)
	}
	if cfg.FuelScope == environment.FuelPerMessage {
		wp.RefillPerMessage(cfg.MaxFuel)
	}
	wp.SendInC(p.env.permits(abi.Funcs[idSend].Permission))
	st := wp.Start()
	p.afterPoll(wp)
	return wp, st, tail, nil
}

// newProcFailed is start's reason when the store could not be made.
//
//go:noinline
func (p *Process) newProcFailed(err error) Reason {
	p.env.rt.releaseRun()
	if errors.Is(err, wasm.ErrBudget) {
		err = fmt.Errorf("%w: %w", ErrMemoryLimit, err)
	}
	return &InstantiateError{Process: p.id, Module: p.mod.name, Err: err}
}

// startFailed undoes start after its store was made.
//
//go:noinline
func (p *Process) startFailed(wp *wasm.Proc, tail *stderrTail, err error) Reason {
	p.env.rt.releaseRun()
	tail.release()
	p.teardown(wp)
	return &InstantiateError{Process: p.id, Module: p.mod.name, Err: err}
}

// startWASI gives the process its WASI context; the tail, if not nil,
// collects its stderr.
//
//go:noinline
func (p *Process) startWASI(wp *wasm.Proc) (*stderrTail, error) {
	w, tail, err := p.env.wasi(p.mod.m.IsGo)
	if err == nil {
		p.outHeld = true
		wp.SetClockEpoch(time.Now())
		err = wp.SetWASI(w)
	}
	if err != nil {
		return tail, err
	}
	p.env.syncOutputs()
	return tail, nil
}

// setEntry names the entry function and its arguments.
//
//go:noinline
func (p *Process) setEntry(wp *wasm.Proc) error {
	args := make([]wasm.Value, len(p.params))
	for i, v := range p.params {
		args[i] = v.v
	}
	return wp.SetEntry(p.entry, args, len(p.mod.m.Exports[p.entry].Results))
}

// poll resumes the process and takes note of what it did (afterPoll).
// A yield the guest made only so that a wake it owed is performed at
// once (shim.c, "Local sends") is not a preemption: the process goes on,
// a bounded number of times, so that a guest waking a new receiver on
// every send still yields its run slot.
func (p *Process) poll(wp *wasm.Proc) wasm.Status { return p.pollOn(wp, wp.Poll()) }

// pollOn is poll for a run of wp that stopped with st, its first poll
// made already (wasm.Proc.HandOff polls in the same call).
func (p *Process) pollOn(wp *wasm.Proc, st wasm.Status) wasm.Status {
	for range maxWakeYields {
		if !p.afterPoll(wp) || st != wasm.Yield || p.killed.Load() {
			return st
		}
		st = wp.Poll()
	}
	p.afterPoll(wp)
	return st
}

// maxWakeYields bounds the yields to wake a receiver that one poll goes
// on after.
const maxWakeYields = 16

// afterPoll notes what a run of wp left for Go: the fuel it has used, for
// FuelUsed; its sends that completed in C, for Stats; and the receiver
// they left waiting with a message, which only Go can wake (shim.c,
// "Local sends").
//
// It reports whether it woke a receiver.
func (p *Process) afterPoll(wp *wasm.Proc) (woke bool) {
	p.fuelUsed.Store(wp.FuelUsed())
	if n := wp.TakeSentInC(); n != 0 {
		r := p.env.rt
		r.sentInC.Add(n)
		if id := wp.TakeWake(); id != 0 {
			if q := r.lookup(ProcessID(id)); q != nil {
				q.mb.Wake()
			}
			return true
		}
	}
	return false
}

// FuelUsed returns the fuel the process has burned so far, in all its
// life (with environment.FuelPerMessage, across every refill), as of its
// last host call that left C, preemption or end: a figure for metering
// and for setting MaxFuel. It is 0 for a Go-native process.
func (p *Process) FuelUsed() uint64 { return p.fuelUsed.Load() }

func (p *Process) releaseOutputs() {
	if p.outHeld {
		p.env.releaseOutputs()
	}
}

// unslotted runs wait, a host call's blocking part, without holding a run
// slot, so a parked process never keeps another from running.
func (p *Process) unslotted(wait func()) {
	r := p.env.rt
	r.releaseRun()
	defer r.acquireRun()
	wait()
}

func (p *Process) teardown(wp *wasm.Proc) {
	r := p.env.rt
	p.afterPoll(wp) // a wake it owes must not be lost with it
	if wp.ReceivesInC() {
		p.mb.SetIntake(nil) // the intake goes with wp
	}
	r.teardownSlots <- struct{}{}
	wp.Free()
	<-r.teardownSlots
}

// classify turns how the guest ended into a Reason. tail, if not nil, is
// the guest's own stderr. A plain return is read from the C proc; the
// rest, out of line, needs a frame of over 500 bytes, which on the
// common path would grow every process goroutine past its first 2 KiB
// (see start).
func (p *Process) classify(wp *wasm.Proc, tail *stderrTail) Reason {
	if wp.Returned() {
		return Normal
	}
	return p.classifyEnd(wp, tail)
}

//go:noinline
func (p *Process) classifyEnd(wp *wasm.Proc, tail *stderrTail) Reason {
	o := wp.Outcome()
	switch o.Kind {
	case wasm.Returned:
		return Normal
	case wasm.CalledExt, wasm.WASIExit:
		if o.ExitStatus == 0 {
			return Normal
		}
		return p.memoryLimited(wp, &ExitError{Process: p.id, Code: o.ExitStatus, Stderr: tail.text()})
	case wasm.NoExport:
		return &InstantiateError{Process: p.id, Module: p.mod.name, Err: fmt.Errorf("%w: %q", ErrNoEntry, p.entry)}
	}
	m, entry := p.running() // after an upgrade, what it runs now
	t := &TrapError{
		Process: p.id, Module: m.name, Entry: entry, Names: p.names(),
		Code: TrapCode(o.TrapCode), Message: o.Message, Stderr: tail.text(),
	}
	for _, f := range o.Trace {
		t.Backtrace = append(t.Backtrace, Frame{Module: f.Module, Func: f.Func, FuncIndex: f.FuncIndex, ModuleOffset: f.ModuleOffset})
	}
	if o.Phase == "instantiate" || o.Phase == "initialize" {
		// A start function or _initialize that runs out of fuel or memory
		// ends the way it would later: the InstantiateError wraps the same
		// FuelError or MemoryLimitError, so errors.Is(reason, ErrOutOfFuel)
		// or ErrMemoryLimit holds either way.
		var err error
		if t.Code == TrapOutOfFuel {
			err = &FuelError{Limit: p.env.cfg.MaxFuel, Trap: t}
		} else {
			err = p.memoryLimited(wp, t)
		}
		if o.Kind == wasm.Failed {
			err = errors.New(o.Message)
			if wp.BudgetRefused() || strings.Contains(o.Message, "exceeds memory limits") {
				err = fmt.Errorf("%w: %s", ErrMemoryLimit, o.Message)
			} else if strings.Contains(o.Message, "count too high") {
				// wasmtime's store limiter: see wasm.MaxTables.
				err = fmt.Errorf("%w: %s (a process may have one linear memory and at most %d tables of %d elements, so that MaxMemory bounds them all)",
					ErrMemoryLimit, o.Message, wasm.MaxTables, wasm.MaxTableElements)
			}
		}
		return &InstantiateError{Process: p.id, Module: p.mod.name, Err: err}
	}
	if t.Code == TrapOutOfFuel {
		return &FuelError{Limit: p.env.cfg.MaxFuel, Trap: t}
	}
	return p.memoryLimited(wp, t)
}

// memoryLimited reports cause as a MemoryLimitError when the process's
// memory ended within one growth step of the limit: a guest whose
// memory.grow was refused usually dies of it soon after. The step is what
// allocators ask for at a time, at most 4 MiB (a Go heap arena) and at
// least one page.
func (p *Process) memoryLimited(wp *wasm.Proc, cause Reason) Reason {
	if wp.BudgetRefused() {
		// A memory.grow was refused because the environment's processes
		// hold its MaxTotalMemory between them: that, not this process's
		// own limit, is what it met.
		return &MemoryLimitError{Limit: p.env.cfg.MaxTotalMemory, Used: p.env.mem.Used(), Cause: cause, Total: true}
	}
	limit := p.env.cfg.MaxMemory
	used := uint64(wp.MemorySize())
	step := min(uint64(4<<20), limit/4)
	step = max(step, 64<<10)
	if used > 0 && limit-min(used, limit) < step {
		return &MemoryLimitError{Limit: limit, Used: used, Cause: cause}
	}
	return cause
}

func (p *Process) logExit(reason Reason, names []string) {
	if reason.Normal() || reason == Killed {
		return
	}
	attrs := []any{"pid", uint64(p.id), "process", p.label(), "entry", p.entry, "reason", reason.Error()}
	if len(names) > 0 {
		attrs = append(attrs, "names", names)
	}
	var t *TrapError
	if errors.As(reason, &t) {
		attrs = append(attrs, "trap", t.Code.String())
		if len(t.Backtrace) > 0 {
			attrs = append(attrs, "backtrace", t.Backtrace)
		}
		if t.Stderr != "" {
			attrs = append(attrs, "stderr", t.Stderr)
		}
	}
	var x *ExitError
	if errors.As(reason, &x) && x.Stderr != "" {
		attrs = append(attrs, "stderr", x.Stderr)
	}
	p.env.rt.log.LogAttrs(p.spawnValues(), slog.LevelWarn, "ward: process failed", argsToAttrs(attrs)...)
}

func argsToAttrs(args []any) []slog.Attr {
	out := make([]slog.Attr, 0, len(args)/2)
	for i := 0; i+1 < len(args); i += 2 {
		out = append(out, slog.Any(args[i].(string), args[i+1]))
	}
	return out
}
