package runtime

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/wardrt/ward/internal/errs"
)

// GoFunc is the body of a Go-native process. It runs on its own goroutine
// with its own mailbox and process id; Wasm processes message, link and
// monitor it like any other. ctx is cancelled when the process is killed
// (or a linked peer's end takes it down); the function should then return.
// Returning nil is a normal exit; an error or a panic is an abnormal one
// (*GoError).
type GoFunc func(ctx context.Context, self *Self) error

// GoError is the reason of a Go-native process that returned an error or
// panicked.
type GoError struct {
	Process ProcessID
	Name    string // as given to SpawnGo
	Err     error  // what the function returned, nil after a panic
	Panic   any    // what it panicked with
}

func (e *GoError) Error() string {
	if e.Err == nil {
		return fmt.Sprintf("process %d (go:%s) panicked: %v", e.Process, e.Name, e.Panic)
	}
	return fmt.Sprintf("process %d (go:%s) failed: %v", e.Process, e.Name, e.Err)
}

// Normal reports false.
func (e *GoError) Normal() bool { return false }

// Unwrap returns the function's error.
func (e *GoError) Unwrap() error { return e.Err }

// SpawnGo starts a Go-native process running fn in this environment. name
// appears in logs and reasons. It counts against the environment's process
// limit like any process. fn's ctx carries ctx's values and ends when the
// process does, not when ctx does.
func (e *Environment) SpawnGo(ctx context.Context, name string, fn GoFunc) (*Process, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if fn == nil {
		return nil, errors.New("ward: SpawnGo with a nil function")
	}
	p, err := e.admit(ctx, nil, "go:"+name, nil, 0, nil)
	if err != nil {
		return nil, err
	}
	p.goFn = fn
	go p.run()
	return p, nil
}

// executeGo runs the GoFunc and stores why it ended in *reason. It
// stores it from a deferred call, so even runtime.Goexit, which unwinds
// the goroutine without returning, leaves a reason for run's own deferred
// end of the process.
func (p *Process) executeGo(reason *Reason) {
	if p.killed.Load() {
		*reason = Killed
		return
	}
	self := &Self{p: p}
	name := strings.TrimPrefix(p.entry, "go:") // the label's prefix, not the name
	returned := false
	defer func() {
		if v := recover(); v != nil {
			*reason = &GoError{Process: p.id, Name: name, Panic: v}
		} else if !returned {
			*reason = &GoError{Process: p.id, Name: name, Err: ErrGoexit}
		}
		if p.killed.Load() {
			*reason = Killed
		}
	}()
	err := p.goFn(p.ctx, self)
	returned = true
	if err != nil {
		*reason = &GoError{Process: p.id, Name: name, Err: err}
		return
	}
	*reason = Normal
}

// ErrGoexit is the error of a process whose goroutine exited through
// runtime.Goexit, as testing's FailNow and Fatal do, from a Go-native
// process's function or a host module's handler: the process ends with a
// *GoError wrapping it.
var ErrGoexit = errors.New("ward: the process's goroutine exited without returning (runtime.Goexit)")

// Self is a Go-native process's view of itself.
type Self struct{ p *Process }

// ID returns the process's id.
func (s *Self) ID() ProcessID { return s.p.id }

// Process returns the process.
func (s *Self) Process() *Process { return s.p }

// Runtime returns the runtime the process runs in.
func (s *Self) Runtime() *Runtime { return s.p.env.rt }

// Send sends m to the process with that id, from this one.
func (s *Self) Send(to ProcessID, m Message) error { return s.send(to, m, 0) }

// send is Send, and with hops > 0 a send before waiting for the reply: it
// may then run a Wasm target parked in a receive itself (handOff), in a
// run slot like any poll, if one is free.
func (s *Self) send(to ProcessID, m Message, hops int) error {
	rt := s.p.env.rt
	q := rt.lookup(to)
	if q == nil {
		return rt.sendTo(s.p.id, to, m)
	}
	m.Sender = uint64(s.p.id)
	if hops == 0 || q.park.Load() != parkWaiting || !rt.runSlots.tryAcquire() {
		return q.deliver(m)
	}
	defer rt.releaseRun()
	return handOff(s.p, q, m, hops)
}

// Reply answers req: it sends m under req's tag to req's sender.
func (s *Self) Reply(req Message, m Message) error {
	m.Tag = req.Tag
	return s.Send(ProcessID(req.Sender), m)
}

// TryReceive takes the oldest message with one of tags (any message when
// none are given) without waiting.
func (s *Self) TryReceive(tags ...int64) (Message, bool) { return s.p.mb.TryReceive(tags...) }

// Receive waits for the oldest message with one of tags (any message when
// none are given). It returns ctx's error when ctx ends, and an error
// matching context.Canceled when the process is being killed.
func (s *Self) Receive(ctx context.Context, tags ...int64) (Message, error) {
	for {
		if m, ok := s.p.mb.TryReceive(tags...); ok {
			return m, nil
		}
		select {
		case _, open := <-s.p.mb.Notify():
			if !open {
				return Message{}, errs.Wrap(context.Canceled, "process %d ended", s.p.id)
			}
		case <-ctx.Done():
			return Message{}, ctx.Err()
		case <-s.p.ctx.Done():
			return Message{}, errs.Wrap(context.Canceled, "process %d is ending", s.p.id)
		}
	}
}

// Request sends m to the process with that id under a fresh tag and waits
// for the first message back with that tag. Like Erlang's gen_server:call
// it watches the target meanwhile: if the target ends first, or is not
// alive, Request fails with an error matching both ErrNoProcess and the
// target's reason (errors.Is(err, Killed), for one).
func (s *Self) Request(ctx context.Context, to ProcessID, m Message) (Message, error) {
	rt := s.p.env.rt
	m.Tag = UniqueTag()
	ref := rt.watchRequest(s.p, to, m.Tag) // its DOWN comes under the reply's tag
	var reply Message
	err := s.send(to, m, maxHandOffHops)
	if err == nil || errors.Is(err, ErrNoProcess) {
		// On ErrNoProcess the target is not alive, and the monitor, set
		// first, has its DOWN with the reason queued or on its way.
		reply, err = s.Receive(ctx, m.Tag)
	}
	if reason, ended := endedBeforeReply(reply); err == nil && ended {
		if reason == NoProc {
			return Message{}, errs.Errorf("ward: request to process %s: %w: %w", to, ErrNoProcess, reason)
		}
		return Message{}, &CallError{Process: to, Reason: reason}
	}
	if !rt.demonitor(s.p, ref) {
		s.flushDown(m.Tag) // the target ended meanwhile
	}
	if err != nil {
		if rt.isClosing() && !errors.Is(err, ErrClosed) {
			return Message{}, errs.Errorf("ward: request to %d: %w: %w", to, ErrClosed, err)
		}
		return Message{}, err
	}
	return reply, nil
}

// flushDown takes the DOWN of a request's monitor that fired, and any late
// reply queued before it: propagateExit queued the DOWN, holding the
// requester's signal lock, before demonitor could see the monitor gone, so
// it is there now, and it
// must not be left in the mailbox. Nothing here waits, as in endRequest.
func (s *Self) flushDown(tag int64) {
	for {
		m, ok := s.p.mb.TryReceive(tag)
		if _, ended := endedBeforeReply(m); ended || !ok {
			return // !ok: only when the mailbox is closed, as the process ends
		}
	}
}

// Link links this process and the process with that id; see the
// ward_process.link guest function for the semantics. It fails with
// ErrNoProcess if that process is not alive, ErrTooManyLinks if either
// process has its environment's MaxLinks, and an error matching
// mailbox.ErrFull if either mailbox is full. Unlike a guest, a Go-native
// process may link to a process in any environment: Go code may kill any
// process anyway.
func (s *Self) Link(to ProcessID) error {
	q := s.p.env.rt.lookup(to)
	if c := s.p.env.rt.remoteOf(to); q == nil && c != nil {
		return c.linkRemote(s.p, to)
	}
	if q == nil {
		return s.p.env.rt.noProcess(to)
	}
	return s.p.env.rt.link(s.p, q)
}

// Unlink removes the link to that process, if any.
func (s *Self) Unlink(to ProcessID) { s.p.env.rt.unlink(s.p, to) }

// TrapExit sets whether linked processes' ends arrive as TagExit messages
// (see ParseExit) instead of ending this process.
func (s *Self) TrapExit(on bool) { s.p.trapExit.Store(on) }

// Monitor watches the process with that id: one TagDown message (see
// ParseDown) arrives when it ends, at once with NoProc if it is not alive.
// It fails with ErrTooManyMonitors when this process already holds its
// environment's MaxMonitors, and with an error matching mailbox.ErrFull
// when its mailbox is full (the NoProc DOWN counts against the mailbox's
// limits like any message).
func (s *Self) Monitor(to ProcessID) (MonitorRef, error) { return s.p.env.rt.monitor(s.p, to) }

// Demonitor stops a monitor.
func (s *Self) Demonitor(ref MonitorRef) { s.p.env.rt.demonitor(s.p, ref) }

// SendAfter sends m to the process with that id after d, from this one.
func (s *Self) SendAfter(d time.Duration, to ProcessID, m Message) (TimerID, error) {
	if m.Tag < 0 {
		return 0, ErrReservedTag
	}
	m.Sender = uint64(s.p.id)
	return s.p.env.rt.sendAfter(s.p, d, to, m)
}
