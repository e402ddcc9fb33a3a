package runtime

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	goruntime "runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/wardrt/ward/environment"
	"github.com/wardrt/ward/hostapi"
	"github.com/wardrt/ward/internal/errs"
	"github.com/wardrt/ward/internal/wasm"
)

// ErrClosed is returned, wrapped, by calls on a Runtime that is closing or
// closed, and on its environments, processes and modules: spawning,
// sending, requests, timers, names, loading modules, new environments.
// Calls that report rather than act (NumProcesses, Stats, Process,
// Process.Wait) keep answering, and Close itself may be called again.
var ErrClosed = errors.New("ward: runtime closed")

// Runtime runs Wasm processes. It owns a wasmtime engine, the compiled
// modules, the process table and the root environment. A program usually
// has one; tests may make one each, they are independent.
type Runtime struct {
	opts   options
	log    *slog.Logger
	engine *wasm.Engine
	root   *Environment

	// runSlots bounds the process goroutines inside a poll (running guest
	// code) to GOMAXPROCS. Without it every running guest would take an OS
	// thread, and a spinning guest would starve everyone (docs/why.md).
	runSlots *runSlots
	// teardownSlots bounds concurrent store deletions: each is a long cgo
	// call that holds an OS thread, and 100k of them at once would exhaust
	// Go's thread limit.
	teardownSlots chan struct{}

	nextID  atomic.Uint64
	mu      sync.RWMutex           // guards procs, closing, closed
	procs   map[ProcessID]*Process // by the node-local part of the id (router.go)
	closing bool
	closed  bool           // Close has finished: the engine is gone
	wg      sync.WaitGroup // one per process goroutine

	timerMu   sync.Mutex
	timers    map[TimerID]timerEntry // nil once closed
	nextTimer atomic.Uint64

	// No field refers to an environment other than root: the others are
	// reachable through their live processes only, so that one nothing
	// refers to can be collected (Environment, envLife).
	modules moduleCache
	// cache is the compile cache of WithCacheDir, nil without one
	// (cache.go).
	cache    *compileCache
	versions versions // installed module versions (versions.go)
	// upgraded holds, for a process that upgraded, the module and entry
	// it runs now (upgrade.go): a side table, since Process has no room
	// and few processes ever upgrade.
	upgraded sync.Map // *Process -> *upgradedTo
	// upgradedEnded holds what an upgraded process ran last once it has
	// ended, until the program drops the Process.
	upgradedEnded sync.Map // weak.Pointer[Process] -> *Module
	// dyn holds the modules and environments guests made (handles.go).
	dyn dynState

	extHandlers []extHandler // host module functions, by id - len(abi.Funcs)

	tailPipes tailPipes // Go guests' stderr pipes between processes (stderrtail.go)

	// cluster is the runtime's place in a cluster (remote.go), nil until
	// it joins one; remoteDropped counts messages from other nodes that
	// found no process or a full mailbox.
	cluster       atomic.Pointer[attachment]
	remoteDropped atomic.Uint64
	nextEnvID     atomic.Uint64

	// Counters for Stats. spawned and ended are kept under mu, which
	// enter and leave hold anyway; what ended processes' mailboxes
	// counted is folded into the atomics once per process, so a send
	// touches no shared counter (mailbox.Counts).
	spawned              uint64
	ended                [NumEndKinds]uint64
	endedSent, endedFull atomic.Uint64
	// sentInC counts Wasm processes' sends that completed in C (inbox.go),
	// which no mailbox counted, as their senders next return to Go.
	sentInC atomic.Uint64
}

type options struct {
	logger        *slog.Logger
	cacheDir      string
	cacheKey      []byte
	maxModuleSize int64
	epochInterval time.Duration
	stackSize     int
	maxWasmStack  int
	maxStacks     int
	memoryReserve uint64
	root          environment.Config
	hostModules   []hostapi.Module
	events        func(Event)
	noGoImages    bool
	// hostCallObserver, if set, times host modules' calls (hostobserve.go).
	hostCallObserver func(function string, d time.Duration)
}

// Option configures a Runtime.
type Option func(*options)

// WithLogger sets where process failures are logged. The default is
// slog.Default().
func WithLogger(l *slog.Logger) Option { return func(o *options) { o.logger = l } }

// WithCacheDir keeps compiled modules in dir, keyed by the SHA-256 of
// their bytes, so a restarted program does not compile them again. Each
// entry is authenticated with a key (WithCacheKey, or one the runtime
// keeps in dir) before the engine loads it; an entry that does not
// authenticate is logged, compiled again and rewritten, never run.
func WithCacheDir(dir string) Option { return func(o *options) { o.cacheDir = dir } }

// WithCacheKey sets the HMAC-SHA256 key that authenticates the entries of
// the compile cache (WithCacheDir), at least 16 bytes; keep it where the
// cache directory's writers cannot read it. Without it the runtime makes a
// random key, on first use, in the file ward-cache.key of the cache
// directory (mode 0600), which protects against damage and against those
// who can write the directory but not read the key.
func WithCacheKey(key []byte) Option {
	return func(o *options) { o.cacheKey = append([]byte(nil), key...) }
}

// WithMaxModuleSize bounds the bytes Load reads from a module's source
// (default DefaultMaxModuleSize; 0 or less keeps it); MaxModuleSize
// overrides it per call.
func WithMaxModuleSize(n int64) Option {
	return func(o *options) {
		if n > 0 {
			o.maxModuleSize = n
		}
	}
}

// WithEpochInterval sets how often a running guest yields so others can run
// and kills take effect (default 1ms). Shorter is fairer and costs more.
func WithEpochInterval(d time.Duration) Option { return func(o *options) { o.epochInterval = d } }

// WithMaxWasmStack sets the stack Wasm frames of one process may use
// (default 512 KiB); deeper recursion traps with TrapStackOverflow.
func WithMaxWasmStack(bytes int) Option { return func(o *options) { o.maxWasmStack = bytes } }

// WithMaxStacks bounds the fiber stacks alive at once (default 1<<20),
// which bounds processes alive at once: a running or parked process holds
// one. Address space only is reserved for them, 2 MiB each; memory is used
// as touched.
func WithMaxStacks(n int) Option { return func(o *options) { o.maxStacks = n } }

// WithMemoryReserve maps bytes more than a new process's initial linear
// memory up front, so that much growth needs no remapping at all.
//
// It is rarely needed: ward's linear memories grow with mremap, which
// moves page tables, not data, so growth is cheap either way (4 MiB in
// 64 KiB steps: 0.34 ms without a reserve, 0.05 ms with one, on the
// project's VM). The reserve is address space plus page tables, not
// memory, until the guest touches it.
func WithMemoryReserve(bytes uint64) Option { return func(o *options) { o.memoryReserve = bytes } }

// WithHostModule adds a host module: its functions become importable by
// guests under its namespace, in environments that allow the namespace.
// Its handlers run on the calling process's goroutine while the guest is
// suspended; see package hostapi.
func WithHostModule(m hostapi.Module) Option {
	return func(o *options) { o.hostModules = append(o.hostModules, m) }
}

// WithGoImages sets whether Go guests are pre-initialised when loaded
// (default true): the Go runtime's start-up, about 3.5 ms and 750k fuel,
// runs once per module instead of once per process, and processes start
// from a copy-on-write image of the memory it leaves. See docs/why.md,
// "Pre-initialised Go guests", for what an image freezes.
func WithGoImages(on bool) Option { return func(o *options) { o.noGoImages = !on } }

// WithRootEnvironment sets the limits of the root environment. Zero fields
// take the defaults of environment.Root.
func WithRootEnvironment(c environment.Config) Option { return func(o *options) { o.root = c } }

// New creates a runtime. Close it to free everything it holds.
func New(opts ...Option) (*Runtime, error) {
	o := options{
		epochInterval: time.Millisecond,
		stackSize:     2 << 20,
		maxWasmStack:  512 << 10,
		maxStacks:     1 << 20,
		maxModuleSize: DefaultMaxModuleSize,
	}
	for _, opt := range opts {
		opt(&o)
	}
	if o.logger == nil {
		o.logger = slog.Default()
	}
	if o.epochInterval < 10*time.Microsecond {
		return nil, fmt.Errorf("ward: epoch interval %v is below 10µs", o.epochInterval)
	}
	// Host code on the fiber (WASI, our C functions) needs room above the
	// Wasm frames: keep at least 1 MiB between the two.
	if o.maxWasmStack <= 0 || o.maxWasmStack > o.stackSize-(1<<20) {
		o.stackSize = o.maxWasmStack + 2<<20
	}
	if o.root.Namespaces == nil && len(o.hostModules) > 0 {
		// Registering a host module means guests should be able to use
		// it; an explicit root namespace list still has the last word.
		o.root.Namespaces = append([]string(nil), environment.DefaultNamespaces...)
		for _, m := range o.hostModules {
			o.root.Namespaces = append(o.root.Namespaces, m.Namespace)
		}
	}
	o.root.Host = withHostDefaults(o.root.Host, o.hostModules)
	rootCfg, err := environment.Root(o.root)
	if err != nil {
		return nil, errs.Wrap(err, "root environment")
	}
	extra, handlers, err := hostFuncs(o.hostModules)
	if err != nil {
		return nil, err
	}
	n := goruntime.GOMAXPROCS(0)
	eng, err := wasm.NewEngine(wasm.EngineConfig{
		RunSlots:      n,
		Extra:         extra,
		StackSize:     o.stackSize,
		MaxWasmStack:  o.maxWasmStack,
		MaxStacks:     o.maxStacks,
		EpochInterval: o.epochInterval,
		MemoryReserve: o.memoryReserve,
	})
	if err != nil {
		return nil, err
	}
	r := &Runtime{
		opts:          o,
		log:           o.logger,
		engine:        eng,
		runSlots:      newRunSlots(n, eng.RunGate()),
		teardownSlots: make(chan struct{}, n),
		procs:         map[ProcessID]*Process{},
		timers:        map[TimerID]timerEntry{},
		extHandlers:   handlers,
	}
	r.modules.init()
	if o.cacheDir != "" {
		if r.cache, err = newCompileCache(o.cacheDir, o.cacheKey, eng, r.log); err != nil {
			eng.Close()
			return nil, err
		}
	}
	r.versions.init()
	r.root = newEnvironment(r, nil, rootCfg)
	return r, nil
}

// Environment returns the root environment.
func (r *Runtime) Environment() *Environment { return r.root }

// NewEnvironment creates a child of the root environment; see
// Environment.NewChild.
func (r *Runtime) NewEnvironment(c environment.Config) (*Environment, error) {
	return r.root.NewChild(c)
}

// Process returns the live process with that id.
func (r *Runtime) Process(id ProcessID) (*Process, bool) {
	p := r.lookup(id)
	return p, p != nil
}

// NumProcesses reports the processes alive now.
func (r *Runtime) NumProcesses() int {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return len(r.procs)
}

// Stats is a snapshot of a runtime's resource use.
type Stats struct {
	Processes   int // alive
	Modules     int // compiled code alive: used by an open handle or a live process
	StacksInUse int // fiber stacks held by running or parked calls
	StacksAlloc int // fiber stacks mapped (address space)
	// RemoteDropped counts messages from other nodes of a cluster that
	// were dropped on arrival: no such process, or its mailbox full (a
	// remote sender cannot be told in time, so, unlike a local send,
	// nothing refuses it).
	RemoteDropped uint64

	// Spawned counts the processes started since New, Go-native ones
	// and those Request makes included; Ended counts those that ended,
	// by EndKind.
	Spawned uint64
	Ended   [NumEndKinds]uint64
	// MessagesSent counts messages queued in the mailboxes of this
	// runtime's processes: sends from processes and from Go, timers'
	// messages and arrivals from other nodes, but not the exit and DOWN
	// signals of links and monitors (a DOWN for a monitor of a process
	// already gone is queued as a message, and counted; a send that
	// completed in C is counted once its sender next returns to Go).
	// MailboxFull
	// counts messages a full mailbox refused (mailbox.ErrFull), including
	// those from other nodes, which RemoteDropped counts too.
	MessagesSent uint64
	MailboxFull  uint64

	// MailboxQueued is the messages waiting in the mailboxes of the
	// processes alive, signals included; MailboxMax the most waiting in
	// any one of them: a process falling behind shows here.
	MailboxQueued int
	MailboxMax    int
}

// Stats returns a snapshot of the runtime's resource use and counters. Its
// cost grows with the processes alive, whose mailboxes it asks for their
// counts: call it now and then, not per message. The messages of a
// process ending at that moment may show up in the next snapshot instead.
// Once Close has finished, the resource fields are zero and the counters
// keep their final values.
func (r *Runtime) Stats() Stats {
	r.mu.RLock()
	s := Stats{Processes: len(r.procs), Spawned: r.spawned, Ended: r.ended, RemoteDropped: r.remoteDropped.Load()}
	for _, p := range r.procs {
		sent, full := p.mb.Counts()
		s.MessagesSent += sent
		s.MailboxFull += full
		n := p.mb.Len()
		s.MailboxQueued += n
		s.MailboxMax = max(s.MailboxMax, n)
	}
	s.MessagesSent += r.endedSent.Load() + r.sentInC.Load()
	s.MailboxFull += r.endedFull.Load()
	closed := r.closed
	r.mu.RUnlock()
	if closed {
		return s // the stack pool went with the engine
	}
	s.Modules = r.modules.len()
	s.StacksInUse, s.StacksAlloc = r.engine.StacksInUse()
	return s
}

// Close kills every process, waits until each has ended and its store is
// freed, then frees the modules, what the environments still hold (see
// Environment) and the engine. New spawns fail with
// ErrClosed from the moment Close is called. If ctx ends first, Close
// returns its error and leaves the engine alive for the stragglers; calling
// Close again waits for them. Once Close has returned nil, calling it again
// does nothing and returns nil.
func (r *Runtime) Close(ctx context.Context) error {
	live := r.closeTable()
	r.stopTimers()
	for _, p := range live {
		p.Kill()
	}
	done := make(chan struct{})
	go func() {
		r.wg.Wait()
		close(done)
	}()
	select {
	case <-done:
	case <-ctx.Done():
		return errs.Wrap(ctx.Err(), "closing runtime: %d processes still ending", r.NumProcesses())
	}
	if err := r.modules.drain(ctx); err != nil {
		return errs.Wrap(err, "closing runtime: a module is still compiling")
	}
	r.tailPipes.close() // every process, and so every tail, has ended
	r.versions.closeAll()
	r.modules.closeAll()
	// Every environment not yet released is below the root (envLife.kids).
	r.root.life.release()
	r.root.mem.Release() // every store is freed: nothing is charged to it any more
	r.engine.Close()
	r.mu.Lock()
	r.closed = true
	r.mu.Unlock()
	return nil
}

// acquireRun and releaseRun bracket every poll.
func (r *Runtime) acquireRun() { r.runSlots.acquire() }
func (r *Runtime) releaseRun() { r.runSlots.release() }

func (r *Runtime) isClosing() bool {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return r.closing
}
