package supervisor

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"sync"

	"github.com/wardrt/ward/internal/errs"
	"github.com/wardrt/ward/runtime"
)

// Supervisor starts children, watches them and restarts them by its
// Strategy. It is a Service (Serve), so supervisors nest; it can also run
// as a ward process of its own (SpawnProcess).
//
// Children added with Add before Serve are its configuration: every Serve
// starts them afresh, in order. Children started with StartChild or
// StartDynamic belong to one run of Serve and are gone when it returns, as
// in OTP, where a restarted supervisor starts from its init spec.
//
// The methods are safe for concurrent use.
type Supervisor struct {
	name string
	opts Options
	log  *slog.Logger

	mu    sync.Mutex
	specs []ChildSpec // added with Add
	run   *run        // the current run of Serve, nil when not serving
}

// run is one run of Serve.
type run struct {
	reqs chan func(*loop) // calls into the supervisor's goroutine
	done chan struct{}    // closed when the run has ended
	// children in start order. Written only by the loop, under
	// Supervisor.mu, so the loop reads them without it.
	children []*child
	proc     *runtime.Process // set when running as a process
}

// New returns a supervisor named name (used in events, logs and errors).
// Add its children, then Serve it, add it to another supervisor, or
// SpawnProcess it.
func New(name string, opts Options) *Supervisor {
	log := opts.Logger
	if log == nil {
		log = slog.Default()
	}
	return &Supervisor{name: name, opts: opts, log: log}
}

// Name returns the supervisor's name.
func (s *Supervisor) Name() string { return s.name }

// String returns "supervisor NAME".
func (s *Supervisor) String() string { return "supervisor " + s.name }

// Add adds a child to the supervisor's configuration; Serve starts the
// children in the order they were added. For a SimpleOneForOne supervisor,
// the one child added is the template of its dynamic children. Add fails
// with ErrRunning while Serve runs (use StartChild then), ErrInvalidSpec
// and ErrDuplicateChild.
func (s *Supervisor) Add(spec ChildSpec) error {
	if err := spec.validate(); err != nil {
		return s.errorf("%w", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.run != nil {
		return s.errorf("adding child %s: %w", spec.Name, ErrRunning)
	}
	if s.opts.Strategy == SimpleOneForOne && len(s.specs) > 0 {
		return s.errorf("adding child %s: %w: a simple_one_for_one supervisor has one child spec, its template", spec.Name, ErrInvalidSpec)
	}
	for _, c := range s.specs {
		if c.Name == spec.Name {
			return s.errorf("adding child %s: %w", spec.Name, ErrDuplicateChild)
		}
	}
	s.specs = append(s.specs, spec)
	return nil
}

// Serve starts the children in order and supervises them until ctx ends,
// then stops them in reverse order and returns ctx's error (joined with a
// *StopError for each child that would not stop). It returns early with
// an *IntensityError when the children needed more restarts than allowed,
// a *StartError when a child failed to start at first, ErrInvalidSpec for
// bad options, and ErrRunning if it is already running. In all cases every
// child has been stopped (or abandoned, see StopError) by then.
//
// When Serve returns because the runtime of a process child was closed
// (runtime.ErrClosed), or the environment it runs in
// (runtime.ErrEnvironmentClosed), the error says so.
func (s *Supervisor) Serve(ctx context.Context) error { return s.serve(ctx, nil) }

func (s *Supervisor) serve(ctx context.Context, self *runtime.Self) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if s.opts.Strategy < OneForOne || s.opts.Strategy > SimpleOneForOne {
		return s.errorf("%w: unknown strategy %d", ErrInvalidSpec, int(s.opts.Strategy))
	}
	s.mu.Lock()
	if s.run != nil {
		s.mu.Unlock()
		return s.errorf("%w", ErrRunning)
	}
	specs := slices.Clone(s.specs)
	r := &run{reqs: make(chan func(*loop)), done: make(chan struct{})}
	if s.opts.Strategy != SimpleOneForOne {
		// Published with the run, so WhichChildren lists the configured
		// children (Stopped) while they start instead of none at all.
		for _, spec := range specs {
			r.children = append(r.children, &child{spec: spec})
		}
	}
	if self != nil {
		r.proc = self.Process()
	}
	s.run = r
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		s.run = nil
		s.mu.Unlock()
		close(r.done)
	}()

	if s.opts.Strategy == SimpleOneForOne && len(specs) != 1 {
		return s.errorf("%w: a simple_one_for_one supervisor needs its template child spec (Add)", ErrInvalidSpec)
	}
	l := newLoop(ctx, s, r)
	if self != nil {
		// Answer requests on a goroutine of the process's own, through the
		// same calls as any caller; stop it before the run ends.
		actx, cancel := context.WithCancel(ctx)
		var wg sync.WaitGroup
		wg.Go(func() { s.answer(actx, self) })
		defer func() {
			cancel()
			wg.Wait()
		}()
	}
	return l.main(specs)
}

// SpawnProcess runs the supervisor as a Go-native ward process in env (see
// runtime.Environment.SpawnGo) and returns that process: it has an id that
// other processes can link to, monitor and message, and it answers the
// requests described in the package documentation (Request, Call).
//
// The process runs Serve. Killing it, or an abnormal end of a process
// linked to it, stops the children in reverse order and ends it (Killed,
// or the linked reason). When the supervisor gives up, the process ends
// with a *runtime.GoError wrapping the *IntensityError, which is what its
// links and monitors see. It does not trap exits.
func (s *Supervisor) SpawnProcess(ctx context.Context, env *runtime.Environment) (*runtime.Process, error) {
	if env == nil {
		return nil, s.errorf("%w: SpawnProcess needs an environment", ErrInvalidSpec)
	}
	s.mu.Lock()
	running := s.run != nil
	s.mu.Unlock()
	if running {
		return nil, s.errorf("%w", ErrRunning)
	}
	p, err := env.SpawnGo(ctx, "supervisor:"+s.name, func(ctx context.Context, self *runtime.Self) error {
		return s.serve(ctx, self)
	})
	if err != nil {
		return nil, errs.Wrap(err, "supervisor %s: spawning as a process", s.name)
	}
	return p, nil
}

// Process returns the process the supervisor runs as (SpawnProcess), nil
// when it is not running as one.
func (s *Supervisor) Process() *runtime.Process {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.run == nil {
		return nil
	}
	return s.run.proc
}

// StartChild adds a child to the running supervisor, after the others,
// and starts it. The child lasts for this run of Serve only (see
// Supervisor). It fails with ErrNotRunning, ErrStrategy for a
// SimpleOneForOne supervisor (use StartDynamic), ErrInvalidSpec,
// ErrDuplicateChild, or a *StartError, in which case the child is not
// added. If ctx ends first, its error is returned and the start may still
// happen.
func (s *Supervisor) StartChild(ctx context.Context, spec ChildSpec) (ChildInfo, error) {
	if err := spec.validate(); err != nil {
		return ChildInfo{}, s.errorf("%w", err)
	}
	var info ChildInfo
	err := s.call(ctx, func(l *loop) error {
		if l.simple() {
			return s.errorf("StartChild: %w (use StartDynamic)", ErrStrategy)
		}
		if l.find(spec.Name) != nil {
			return s.errorf("starting child %s: %w", spec.Name, ErrDuplicateChild)
		}
		c := &child{spec: spec}
		l.add(c)
		if err := l.start(c, false); err != nil {
			l.remove(c)
			return err
		}
		info = c.info()
		return nil
	})
	return info, err
}

// StartDynamic starts a new child of a SimpleOneForOne supervisor from its
// template, named after it with a number (worker-1, worker-2, ...). A Wasm
// template gets args appended to its Params; a Spawn template gets them as
// its args. It fails with ErrNotRunning, ErrStrategy when the strategy is
// another, or a *StartError.
func (s *Supervisor) StartDynamic(ctx context.Context, args ...runtime.Value) (ChildInfo, error) {
	var info ChildInfo
	err := s.call(ctx, func(l *loop) error {
		if !l.simple() {
			return s.errorf("StartDynamic: %w (needs simple_one_for_one)", ErrStrategy)
		}
		l.nextDynamic++
		c := &child{spec: l.template, dynamic: true, args: args}
		c.spec.Name = fmt.Sprintf("%s-%d", l.template.Name, l.nextDynamic)
		l.add(c)
		if err := l.start(c, false); err != nil {
			l.remove(c)
			return err
		}
		info = c.info()
		return nil
	})
	return info, err
}

// TerminateChild stops the named child (see ChildSpec.Shutdown) or cancels
// its pending restart. A static child stays in the supervisor, stopped,
// until RestartChild or DeleteChild; a dynamic or Temporary child is
// removed. It fails with ErrNotRunning, ErrNoChild or a *StopError.
func (s *Supervisor) TerminateChild(ctx context.Context, name string) error {
	return s.call(ctx, func(l *loop) error {
		c := l.find(name)
		if c == nil {
			return s.errorf("terminating %s: %w", name, ErrNoChild)
		}
		var err error
		switch c.state {
		case Running:
			err = l.stop(c)
		case Restarting:
			l.setState(c, Stopped)
		}
		if c.dynamic || c.spec.Restart == Temporary {
			l.remove(c)
		}
		return err
	})
}

// RestartChild starts a stopped static child again (one that was
// terminated, or a Transient child that ended normally). It fails with
// ErrNotRunning, ErrNoChild, ErrStrategy (SimpleOneForOne),
// ErrChildRunning or a *StartError.
func (s *Supervisor) RestartChild(ctx context.Context, name string) (ChildInfo, error) {
	var info ChildInfo
	err := s.call(ctx, func(l *loop) error {
		if l.simple() {
			return s.errorf("RestartChild: %w", ErrStrategy)
		}
		c := l.find(name)
		if c == nil {
			return s.errorf("restarting %s: %w", name, ErrNoChild)
		}
		if c.state != Stopped {
			return s.errorf("restarting %s: %w", name, ErrChildRunning)
		}
		if err := l.start(c, false); err != nil {
			return err
		}
		info = c.info()
		return nil
	})
	return info, err
}

// DeleteChild removes a stopped static child from the running supervisor.
// It fails with ErrNotRunning, ErrNoChild, ErrStrategy (SimpleOneForOne)
// or ErrChildRunning (terminate it first).
func (s *Supervisor) DeleteChild(ctx context.Context, name string) error {
	return s.call(ctx, func(l *loop) error {
		if l.simple() {
			return s.errorf("DeleteChild: %w", ErrStrategy)
		}
		c := l.find(name)
		if c == nil {
			return s.errorf("deleting %s: %w", name, ErrNoChild)
		}
		if c.state != Stopped {
			return s.errorf("deleting %s: %w", name, ErrChildRunning)
		}
		l.remove(c)
		return nil
	})
}

// ChildState is where a child is in its life.
type ChildState int

// Child states.
const (
	// Stopped: not running and not about to be (not started yet,
	// terminated, or a Transient child that ended normally).
	Stopped ChildState = iota
	// Running: started and not known to have ended.
	Running
	// Restarting: ended and waiting out its backoff before a restart.
	Restarting
)

// String returns "stopped", "running" or "restarting".
func (s ChildState) String() string {
	switch s {
	case Stopped:
		return "stopped"
	case Running:
		return "running"
	case Restarting:
		return "restarting"
	}
	return fmt.Sprintf("ChildState(%d)", int(s))
}

// ChildInfo describes a child, as WhichChildren reports it.
type ChildInfo struct {
	Name     string
	State    ChildState
	Process  *runtime.Process // the running process; nil for a Service or when not running
	Restart  Restart
	Restarts int            // restarts in this run of Serve
	Reason   runtime.Reason // why it last ended, nil if it has not
	Dynamic  bool           // started with StartDynamic
}

// WhichChildren lists the children in start order: while Serve runs, their
// current state; otherwise the configured children, all Stopped (none for
// a SimpleOneForOne supervisor). It does not wait for the supervisor's
// goroutine, so it is safe from an OnEvent callback.
func (s *Supervisor) WhichChildren() []ChildInfo {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.run == nil {
		if s.opts.Strategy == SimpleOneForOne {
			return nil
		}
		out := make([]ChildInfo, len(s.specs))
		for i, spec := range s.specs {
			out[i] = ChildInfo{Name: spec.Name, State: Stopped, Restart: spec.Restart}
		}
		return out
	}
	out := make([]ChildInfo, len(s.run.children))
	for i, c := range s.run.children {
		out[i] = c.info()
	}
	return out
}

// call runs f on the supervisor's goroutine and returns its error.
func (s *Supervisor) call(ctx context.Context, f func(l *loop) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.Lock()
	r := s.run
	s.mu.Unlock()
	if r == nil {
		return s.errorf("%w", ErrNotRunning)
	}
	reply := make(chan error, 1)
	select {
	case r.reqs <- func(l *loop) { reply <- f(l) }:
	case <-r.done:
		return s.errorf("%w", ErrNotRunning)
	case <-ctx.Done():
		return ctx.Err()
	}
	select {
	case err := <-reply:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (s *Supervisor) errorf(format string, args ...any) error {
	return fmt.Errorf("ward: supervisor %s: "+format, append([]any{s.name}, args...)...)
}
