package supervisor

import (
	"context"
	"errors"
	"slices"
	"time"

	"github.com/wardrt/ward/runtime"
)

// maxRecent bounds the restart times kept per child for its backoff: past
// a few dozen the delay is at its Max anyway.
const maxRecent = 64

// loop is the state of one run of Serve. Everything in it is owned by the
// goroutine running main; other goroutines reach it through run.reqs.
type loop struct {
	s        *Supervisor
	r        *run
	ctx      context.Context // Serve's
	base     context.Context // ctx without its cancellation: children's ctxs derive from it, so that they stop in order, not all at once
	exits    chan *instance  // instances that ended
	timer    *time.Timer     // fires when the earliest pending restart is due
	restarts []time.Time     // restarts within the period, oldest first

	intensity int
	period    time.Duration
	backoff   Backoff

	template    ChildSpec // SimpleOneForOne
	nextDynamic int
	pending     int // children in state Restarting
}

// child is one child of a run. state, inst, restarts and last are written
// only by the loop, under Supervisor.mu (WhichChildren reads them).
type child struct {
	spec    ChildSpec
	dynamic bool
	args    []runtime.Value

	state    ChildState
	inst     *instance
	restarts int
	last     runtime.Reason

	due     time.Time     // Restarting: when to start it
	delay   time.Duration // Restarting: the backoff it waits
	started bool          // it has started in this run: the next start is a restart
	recent  []time.Time   // its restarts within the period, for the backoff
}

// instance is one start of a child: one process or one Serve call.
type instance struct {
	c      *child
	proc   *runtime.Process   // nil for a Service
	cancel context.CancelFunc // a Service's
	done   chan struct{}      // closed when it has ended
	reason runtime.Reason     // written before done is closed
}

func newLoop(ctx context.Context, s *Supervisor, r *run) *loop {
	t := time.NewTimer(time.Hour)
	t.Stop()
	return &loop{
		s: s, r: r, ctx: ctx, base: context.WithoutCancel(ctx),
		exits:     make(chan *instance),
		timer:     t,
		intensity: s.opts.intensity(),
		period:    s.opts.period(),
		backoff:   s.opts.Backoff,
	}
}

func (l *loop) simple() bool { return l.s.opts.Strategy == SimpleOneForOne }

func (c *child) info() ChildInfo {
	i := ChildInfo{
		Name: c.spec.Name, State: c.state, Restart: c.spec.Restart,
		Restarts: c.restarts, Reason: c.last, Dynamic: c.dynamic,
	}
	if c.inst != nil {
		i.Process = c.inst.proc
	}
	return i
}

// main starts the children and supervises them until the run ends.
func (l *loop) main(specs []ChildSpec) error {
	defer l.timer.Stop()
	if l.simple() {
		l.template = specs[0]
	} else {
		for _, c := range slices.Clone(l.r.children) {
			if err := l.start(c, false); err != nil {
				return l.stopAll(err)
			}
		}
	}
	for {
		select {
		case <-l.ctx.Done():
			return l.stopAll(l.ctx.Err())
		case inst := <-l.exits:
			if err := l.exited(inst); err != nil {
				return l.giveUp(err)
			}
		case f := <-l.r.reqs:
			f(l)
		case <-l.timer.C:
		}
		if err := l.startDue(); err != nil {
			return l.giveUp(err)
		}
	}
}

// exited handles the end of an instance the supervisor did not stop.
func (l *loop) exited(inst *instance) error {
	c := inst.c
	if c.inst != inst {
		return nil // stopped by the supervisor, or its child was removed
	}
	l.s.mu.Lock()
	c.inst, c.state, c.last = nil, Stopped, inst.reason
	l.s.mu.Unlock()
	l.s.emit(Event{Kind: EventExited, Child: c.spec.Name, Process: inst.pid(), Reason: inst.reason})
	switch {
	case c.spec.Restart == Temporary:
		l.remove(c)
		return nil
	case c.spec.Restart == Transient && inst.reason.Normal():
		if c.dynamic {
			l.remove(c)
		}
		return nil
	}
	return l.restart(c, inst.reason)
}

// restart counts a failure of c against the intensity, stops the siblings
// the strategy takes down with it, and schedules them all to start again
// after c's backoff.
func (l *loop) restart(c *child, reason runtime.Reason) error {
	now := time.Now()
	l.restarts = prune(append(l.restarts, now), now.Add(-l.period))
	if len(l.restarts) > l.intensity {
		return &IntensityError{
			Supervisor: l.s.name, Intensity: l.intensity, Period: l.period,
			Child: c.spec.Name, Reason: reason,
		}
	}
	c.recent = prune(append(c.recent, now), now.Add(-l.period))
	if len(c.recent) > maxRecent {
		c.recent = c.recent[len(c.recent)-maxRecent:]
	}
	delay := l.backoff.Delay(len(c.recent))

	group := l.group(c)
	for i := len(group) - 1; i >= 0; i-- {
		m := group[i]
		if m != c && m.state == Running {
			_ = l.stop(m) // a child that will not stop is reported and forgotten
		}
	}
	for _, m := range group {
		if m != c && m.spec.Restart == Temporary {
			l.remove(m) // temporary children are never restarted
			continue
		}
		if m.state != Restarting {
			l.pending++
		}
		l.setState(m, Restarting)
		m.due, m.delay = now.Add(delay), delay
	}
	return nil
}

// group returns the children the strategy restarts when c fails, in start
// order: c, and those of its siblings that are running or about to.
func (l *loop) group(c *child) []*child {
	var from int
	switch l.s.opts.Strategy {
	case OneForAll:
		from = 0
	case RestForOne:
		from = slices.Index(l.r.children, c)
	default:
		return []*child{c}
	}
	var g []*child
	for _, m := range l.r.children[from:] {
		if m == c || m.state != Stopped {
			g = append(g, m)
		}
	}
	return g
}

// startDue starts, in order, the children whose restart is due, and sets
// the timer for the next one. A failed start is a failure like a crash.
func (l *loop) startDue() error {
	for l.pending > 0 {
		if err := l.ctx.Err(); err != nil {
			return nil // main stops everything on its next turn
		}
		now := time.Now()
		var next *child
		var earliest time.Time
		for _, c := range l.r.children {
			if c.state != Restarting {
				continue
			}
			if !c.due.After(now) {
				next = c
				break
			}
			if earliest.IsZero() || c.due.Before(earliest) {
				earliest = c.due
			}
		}
		if next == nil {
			l.timer.Reset(earliest.Sub(now))
			return nil
		}
		err := l.start(next, true)
		if err == nil {
			continue
		}
		if errors.Is(err, runtime.ErrClosed) || errors.Is(err, runtime.ErrEnvironmentClosed) {
			return err // the runtime or the child's environment is gone: no restart can work
		}
		var se *StartError
		errors.As(err, &se)
		if err := l.restart(next, se); err != nil {
			return err
		}
	}
	l.timer.Stop()
	return nil
}

// start starts c. A failure is reported (EventStartFailed) and returned as
// a *StartError; c is then Stopped.
func (l *loop) start(c *child, restart bool) error {
	l.setState(c, Stopped)
	inst, err := l.launch(c)
	if err != nil {
		se := &StartError{Supervisor: l.s.name, Child: c.spec.Name, Err: err}
		l.s.mu.Lock()
		c.last = se
		l.s.mu.Unlock()
		l.s.emit(Event{Kind: EventStartFailed, Child: c.spec.Name, Err: err})
		return se
	}
	l.s.mu.Lock()
	c.inst, c.state = inst, Running
	if restart && c.started {
		c.restarts++
	}
	l.s.mu.Unlock()
	if restart && c.started {
		l.s.emit(Event{Kind: EventRestarted, Child: c.spec.Name, Process: inst.pid(), Restarts: c.restarts, Delay: c.delay})
	} else {
		l.s.emit(Event{Kind: EventStarted, Child: c.spec.Name, Process: inst.pid()})
	}
	c.started = true
	return nil
}

// launch runs the child's spawn (or Serve) and its OnStart hook.
func (l *loop) launch(c *child) (*instance, error) {
	spec := &c.spec
	inst := &instance{c: c, done: make(chan struct{})}
	if spec.Service != nil {
		if spec.OnStart != nil {
			if err := spec.OnStart(l.ctx, nil); err != nil {
				return nil, err
			}
		}
		ctx, cancel := context.WithCancel(l.base)
		inst.cancel = cancel
		go l.serveService(ctx, inst)
		return inst, nil
	}
	var p *runtime.Process
	var err error
	if spec.Wasm != nil {
		p, err = spec.Wasm.spawn(l.ctx, c.args)
	} else {
		p, err = spec.Spawn(l.ctx, c.args)
	}
	if err == nil && p == nil {
		err = errors.New("spawn returned no process")
	}
	if err != nil {
		return nil, err
	}
	if spec.OnStart != nil {
		if err := spec.OnStart(l.ctx, p); err != nil {
			p.Kill()
			waitDone(p.Done(), killWait(spec.shutdown()))
			return nil, err
		}
	}
	inst.proc = p
	go func() {
		<-p.Done()
		inst.reason = p.Reason()
		close(inst.done)
		l.notify(inst)
	}()
	return inst, nil
}

func (l *loop) serveService(ctx context.Context, inst *instance) {
	inst.reason = runService(ctx, inst.c.spec.Name, inst.c.spec.Service)
	inst.cancel()
	close(inst.done)
	l.notify(inst)
}

func runService(ctx context.Context, name string, svc Service) (reason runtime.Reason) {
	defer func() {
		if v := recover(); v != nil {
			reason = &ServiceError{Child: name, Panic: v}
		}
	}()
	if err := svc.Serve(ctx); err != nil {
		return &ServiceError{Child: name, Err: err}
	}
	return runtime.Normal
}

// notify tells the loop that inst ended, unless the run is over.
func (l *loop) notify(inst *instance) {
	select {
	case l.exits <- inst:
	case <-l.r.done:
	}
}

func (inst *instance) pid() runtime.ProcessID {
	if inst.proc == nil {
		return 0
	}
	return inst.proc.ID()
}

// stop stops a running child as its spec says and waits for it; see
// ChildSpec.Shutdown. It returns a *StopError for a child that would not
// stop, which is then forgotten.
func (l *loop) stop(c *child) error {
	inst, spec := c.inst, &c.spec
	grace := spec.shutdown()
	var err error
	if p := inst.proc; p != nil {
		stopped := false
		if spec.Stop != nil && grace != BrutalKill {
			deadline := time.Now().Add(grace)
			ctx, cancel := withDeadline(l.base, grace, deadline)
			stopErr := spec.Stop(ctx, p)
			cancel()
			stopped = waitDone(inst.done, untilDeadline(grace, deadline))
			if !stopped {
				l.s.emit(Event{Kind: EventKilled, Child: spec.Name, Process: p.ID(), Err: stopErr})
			}
		}
		if !stopped {
			p.Kill()
			wait := killWait(grace)
			if !waitDone(inst.done, wait) {
				err = &StopError{Supervisor: l.s.name, Child: spec.Name, Waited: wait}
			}
		}
	} else {
		inst.cancel()
		wait := killWait(grace)
		if !waitDone(inst.done, wait) {
			err = &StopError{Supervisor: l.s.name, Child: spec.Name, Waited: wait}
		}
	}
	l.s.mu.Lock()
	c.inst, c.state = nil, Stopped
	if err == nil {
		c.last = inst.reason
	}
	l.s.mu.Unlock()
	if err != nil {
		l.s.emit(Event{Kind: EventAbandoned, Child: spec.Name, Process: inst.pid(), Err: err})
	} else {
		l.s.emit(Event{Kind: EventExited, Child: spec.Name, Process: inst.pid(), Reason: inst.reason, Stopped: true})
	}
	return err
}

// stopAll stops every child in reverse start order and returns cause
// joined with the errors of those that would not stop.
func (l *loop) stopAll(cause error) error {
	errs := []error{cause}
	for _, c := range slices.Backward(l.r.children) {
		switch c.state {
		case Running:
			if err := l.stop(c); err != nil {
				errs = append(errs, err)
			}
		case Restarting:
			l.setState(c, Stopped)
		}
	}
	l.pending = 0
	if len(errs) == 1 {
		return cause
	}
	return errors.Join(errs...)
}

// giveUp ends the run after a fatal error: the intensity was exceeded, or
// the runtime is closed.
func (l *loop) giveUp(err error) error {
	err = l.stopAll(err)
	l.s.emit(Event{Kind: EventGaveUp, Err: err})
	return err
}

func (l *loop) find(name string) *child {
	for _, c := range l.r.children {
		if c.spec.Name == name {
			return c
		}
	}
	return nil
}

func (l *loop) add(c *child) {
	l.s.mu.Lock()
	l.r.children = append(l.r.children, c)
	l.s.mu.Unlock()
}

func (l *loop) remove(c *child) {
	if c.state == Restarting {
		l.pending--
	}
	l.s.mu.Lock()
	if i := slices.Index(l.r.children, c); i >= 0 {
		l.r.children = slices.Delete(l.r.children, i, i+1)
	}
	c.inst, c.state = nil, Stopped
	l.s.mu.Unlock()
}

func (l *loop) setState(c *child, s ChildState) {
	if c.state == Restarting && s != Restarting {
		l.pending--
	}
	l.s.mu.Lock()
	c.state = s
	l.s.mu.Unlock()
}

// prune drops the times before cutoff from ts, which is oldest first.
func prune(ts []time.Time, cutoff time.Time) []time.Time {
	i := 0
	for i < len(ts) && ts[i].Before(cutoff) {
		i++
	}
	if i == 0 {
		return ts
	}
	return append(ts[:0], ts[i:]...)
}

// killWait is how long to wait for a child once it has been killed (or,
// for a Service, cancelled) with grace as its Shutdown.
func killWait(grace time.Duration) time.Duration {
	if grace == BrutalKill {
		return DefaultShutdown
	}
	return grace
}

// waitDone waits for done up to d (forever for Infinity) and reports
// whether it closed.
func waitDone(done <-chan struct{}, d time.Duration) bool {
	if d == Infinity {
		<-done
		return true
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-done:
		return true
	case <-t.C:
		return false
	}
}

func withDeadline(parent context.Context, grace time.Duration, deadline time.Time) (context.Context, context.CancelFunc) {
	if grace == Infinity {
		return context.WithCancel(parent)
	}
	return context.WithDeadline(parent, deadline)
}

func untilDeadline(grace time.Duration, deadline time.Time) time.Duration {
	if grace == Infinity {
		return Infinity
	}
	return max(time.Until(deadline), 0)
}
