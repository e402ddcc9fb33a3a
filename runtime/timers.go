package runtime

import (
	"errors"
	"fmt"
	"time"
)

// TimerID identifies a pending SendAfter.
type TimerID uint64

// MaxTimersPerProcess bounds the pending timers one process may hold, so a
// guest cannot exhaust the host's memory with timers. A timer outlives the
// process that set it (as in Erlang), so an environment also holds at
// most this many per process it may run at once (its MaxProcesses),
// counting its child environments': processes that set timers and end
// cannot pile up more than live ones could.
const MaxTimersPerProcess = 10_000

// ErrTooManyTimers is returned when a process already has
// MaxTimersPerProcess timers pending, or its environment its share.
var ErrTooManyTimers = errors.New("ward: too many pending timers")

type timerEntry struct {
	t    *time.Timer
	from *Process // nil when set from outside any process
}

// SendAfter sends m to the process with that id after d, as from outside
// any process. Like Erlang's send_after, the message is dropped if the
// process has ended by then. Cancel with CancelTimer.
func (r *Runtime) SendAfter(d time.Duration, to ProcessID, m Message) (TimerID, error) {
	if m.Tag < 0 {
		return 0, ErrReservedTag
	}
	m.Sender = 0
	return r.sendAfter(nil, d, to, m)
}

func (r *Runtime) sendAfter(from *Process, d time.Duration, to ProcessID, m Message) (TimerID, error) {
	if q := r.lookup(to); q != nil {
		if err := q.acceptsHandles(m); err != nil {
			return 0, err // refused now: a timer drops what fails when it fires
		}
	}
	if from != nil {
		if err := chargeTimer(from); err != nil {
			return 0, err
		}
	}
	id := TimerID(r.nextTimer.Add(1))
	r.timerMu.Lock()
	defer r.timerMu.Unlock()
	if r.timers == nil { // closed
		if from != nil {
			unchargeTimer(from)
		}
		return 0, ErrClosed
	}
	t := time.AfterFunc(d, func() {
		if !r.takeTimer(id) {
			return // cancelled meanwhile
		}
		if q := r.lookup(to); q != nil {
			_ = q.deliver(m) // dropped when full or ended, as Erlang drops it
		}
	})
	r.timers[id] = timerEntry{t: t, from: from}
	return id, nil
}

// takeTimer removes a timer that fired; false if it was cancelled first.
func (r *Runtime) takeTimer(id TimerID) bool {
	_, ok := r.removeTimer(id, nil)
	return ok
}

// CancelTimer cancels a pending SendAfter. It reports false when the timer
// has already fired or does not exist.
func (r *Runtime) CancelTimer(id TimerID) bool { return r.cancelTimer(id, nil) }

// cancelTimer is CancelTimer for a timer set by a process of env or of an
// environment below it, or for any timer when env is nil. Timer ids are
// sequential, so a guest could otherwise cancel the timers of environments
// it has no business with; guests cancel under the rule kill follows.
func (r *Runtime) cancelTimer(id TimerID, env *Environment) bool {
	t, ok := r.removeTimer(id, env)
	if ok {
		t.Stop()
	}
	return ok
}

// removeTimer takes a pending timer out of the table, with the rule of
// cancelTimer, and gives its setter's charge back.
func (r *Runtime) removeTimer(id TimerID, env *Environment) (*time.Timer, bool) {
	r.timerMu.Lock()
	e, ok := r.timers[id]
	if ok && env != nil && (e.from == nil || !e.from.env.within(env)) {
		ok = false
	}
	if ok {
		delete(r.timers, id)
	}
	r.timerMu.Unlock()
	if ok && e.from != nil {
		unchargeTimer(e.from)
	}
	return e.t, ok
}

// chargeTimer counts a pending timer set by from against its own limit and
// its environments' (see MaxTimersPerProcess).
func chargeTimer(from *Process) error {
	if from.timers.Add(1) > MaxTimersPerProcess {
		from.timers.Add(-1)
		return fmt.Errorf("%w: %d for one process", ErrTooManyTimers, MaxTimersPerProcess)
	}
	if env, _ := from.env.takeUp(timerCount, maxTimers); env != nil {
		from.timers.Add(-1)
		return fmt.Errorf("%w: %d in the environment (%d for each of its %d processes)",
			ErrTooManyTimers, maxTimers(env), MaxTimersPerProcess, env.cfg.MaxProcesses)
	}
	return nil
}

// unchargeTimer undoes chargeTimer once the timer has fired or been
// cancelled.
func unchargeTimer(from *Process) {
	from.timers.Add(-1)
	from.env.giveUp(timerCount)
}

func (r *Runtime) stopTimers() {
	r.timerMu.Lock()
	timers := r.timers
	r.timers = nil
	r.timerMu.Unlock()
	for _, e := range timers {
		e.t.Stop()
	}
}
