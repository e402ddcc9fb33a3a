package runtime

import (
	"errors"
	"fmt"
	"math"
	"sync/atomic"
	"time"

	"github.com/wardrt/ward/internal/errs"
	"github.com/wardrt/ward/internal/route"
)

// TimerID identifies a pending SendAfter.
type TimerID uint64

// ErrTooManyTimers is returned when a process already has its
// environment's MaxTimers timers pending, or MaxTimerBytes bytes of
// message in them, or its environment its share of either (see
// environment.Config.MaxTimers).
var ErrTooManyTimers = errors.New("ward: too many pending timers")

// A pending timer holds its message, so what a process can make the host
// hold through timers is bounded twice. A process has at most MaxTimers
// timers and MaxTimerBytes bytes of their messages pending. A timer
// outlives the process that set it (as in Erlang), so its environment
// also holds at most MaxProcesses times each, counting its child
// environments': processes that set timers and end cannot pile up more
// than live ones could. A timer whose target ends is cancelled, as Erlang
// cancels a timer to a pid, and a timer to a process that is not alive is
// never set: neither holds its bytes until it would have fired.
type timerEntry struct {
	t     *time.Timer
	from  *Process // the setter, charged for it; nil when set from outside any process
	to    *Process // nil for a process on another node
	bytes int64    // len(Data) of its message
}

// SendAfter sends m to the process with that id after d, as from outside
// any process. Like Erlang's send_after, the message is dropped if the
// process has ended by then, and the timer is cancelled when the process
// ends (at once if it is not alive). Cancel it with CancelTimer.
func (r *Runtime) SendAfter(d time.Duration, to ProcessID, m Message) (TimerID, error) {
	if m.Tag < 0 {
		return 0, ErrReservedTag
	}
	m.Sender = 0
	return r.sendAfter(nil, d, to, m)
}

func (r *Runtime) sendAfter(from *Process, d time.Duration, to ProcessID, m Message) (TimerID, error) {
	q := r.lookup(to)
	if q != nil {
		if err := q.acceptsHandles(m); err != nil {
			return 0, err // refused now: a timer drops what fails when it fires
		}
	}
	if r.isClosing() {
		return 0, ErrClosed
	}
	id := TimerID(r.nextTimer.Add(1))
	if q == nil {
		if c := r.remoteOf(to); c != nil {
			return r.sendAfterRemote(id, from, d, to, m)
		}
		return id, nil // cancelled at once, as its target has ended
	}
	size := int64(len(m.Data))
	if from != nil {
		if err := chargeTimer(from, size); err != nil {
			return 0, err
		}
	}
	// The target's lock, then the table's: a target ending either sees
	// the timer in its timersTo, or the timer sees it dead.
	q.sig.mu.Lock()
	defer q.sig.mu.Unlock()
	if q.sig.dead {
		if from != nil {
			unchargeTimer(from, size)
		}
		return id, nil
	}
	err := r.armTimer(id, timerEntry{from: from, to: q, bytes: size}, d, func() {
		_ = q.deliver(m) // dropped when full or ended, as Erlang drops it
	})
	if err != nil {
		return 0, err
	}
	if q.sig.timersTo == nil {
		q.sig.timersTo = map[TimerID]struct{}{}
	}
	q.sig.timersTo[id] = struct{}{}
	return id, nil
}

// sendAfterRemote sets a timer to a process on another node. Its end
// there is not known here, so the timer stays until it fires or is
// cancelled, bounded like any timer by its setter's limits.
func (r *Runtime) sendAfterRemote(id TimerID, from *Process, d time.Duration, to ProcessID, m Message) (TimerID, error) {
	if len(m.Handles) > 0 {
		return 0, errs.Wrap(route.ErrHandles, "timer to process %s", to)
	}
	size := int64(len(m.Data))
	if from != nil {
		if err := chargeTimer(from, size); err != nil {
			return 0, err
		}
	}
	err := r.armTimer(id, timerEntry{from: from, bytes: size}, d, func() {
		_ = r.sendTo(ProcessID(m.Sender), to, m) // dropped when it cannot go, as a local one is
	})
	if err != nil {
		return 0, err
	}
	return id, nil
}

// armTimer enters e as timer id, to fire after d unless cancelled first;
// the setter (e.from) has been charged for it. Once the runtime is closed
// it gives the charge back and fails with ErrClosed.
func (r *Runtime) armTimer(id TimerID, e timerEntry, d time.Duration, fire func()) error {
	r.timerMu.Lock()
	defer r.timerMu.Unlock()
	if r.timers == nil { // closed
		if e.from != nil {
			unchargeTimer(e.from, e.bytes)
		}
		return ErrClosed
	}
	e.t = time.AfterFunc(d, func() {
		if r.takeTimer(id) { // false: cancelled meanwhile
			fire()
		}
	})
	r.timers[id] = e
	return nil
}

// takeTimer removes a timer that fired; false if it was cancelled first.
func (r *Runtime) takeTimer(id TimerID) bool {
	_, ok := r.removeTimer(id, nil)
	return ok
}

// CancelTimer cancels a pending SendAfter. It reports false when the timer
// has already fired, been cancelled (its target's end cancels it too) or
// does not exist.
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

// removeTimer takes a pending timer out of the table and its target's
// index, with the rule of cancelTimer, and gives its setter's charge back.
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
	if !ok {
		return nil, false
	}
	if e.to != nil { // nil for a timer to another node
		e.to.sig.mu.Lock()
		delete(e.to.sig.timersTo, id) // a no-op once the target has ended
		e.to.sig.mu.Unlock()
	}
	if e.from != nil {
		unchargeTimer(e.from, e.bytes)
	}
	return e.t, true
}

// chargeTimer counts a pending timer of size bytes set by from against its
// own limits and its environments' shares.
func chargeTimer(from *Process, size int64) error {
	cfg := &from.env.cfg
	if n := from.timers.Add(1); int(n) > cfg.MaxTimers || n < 0 { // n < 0: past math.MaxInt32
		from.timers.Add(-1)
		return fmt.Errorf("%w: process %d has %d pending, its environment's MaxTimers", ErrTooManyTimers, from.id, n-1)
	}
	if n, ok := addBelow(&from.timerBytes, int64(cfg.MaxTimerBytes), size); !ok {
		from.timers.Add(-1)
		return fmt.Errorf("%w: process %d has %d bytes of messages pending, and %d more would pass its environment's MaxTimerBytes %d",
			ErrTooManyTimers, from.id, n, size, cfg.MaxTimerBytes)
	}
	if env, n := from.env.takeUp(timerCount, maxTimers, 1); env != nil {
		from.timers.Add(-1)
		from.timerBytes.Add(-size)
		return fmt.Errorf("%w: %d pending in the environment, its limit (MaxTimers %d for each of its MaxProcesses %d)",
			ErrTooManyTimers, n, env.cfg.MaxTimers, env.cfg.MaxProcesses)
	}
	if env, n := from.env.takeUp(timerByteCount, maxTimerBytes, size); env != nil {
		from.timers.Add(-1)
		from.timerBytes.Add(-size)
		from.env.giveUp(timerCount, 1)
		return fmt.Errorf("%w: %d bytes of messages pending in the environment, and %d more would pass its limit (MaxTimerBytes %d for each of its MaxProcesses %d)",
			ErrTooManyTimers, n, size, env.cfg.MaxTimerBytes, env.cfg.MaxProcesses)
	}
	if !from.env.mem.Take(size + timerOverhead) {
		from.timers.Add(-1)
		from.timerBytes.Add(-size)
		from.env.giveUp(timerCount, 1)
		from.env.giveUp(timerByteCount, size)
		return fmt.Errorf("%w: the environment's MaxTotalMemory %d is used up", ErrTooManyTimers, from.env.cfg.MaxTotalMemory)
	}
	return nil
}

// timerOverhead is what a pending timer costs beyond its message's bytes,
// as charged to MaxTotalMemory: the time.Timer, its closure and the table
// entries (measured at 335 bytes, docs/limits.md).
const timerOverhead = 512

// unchargeTimer undoes chargeTimer once the timer has fired or been
// cancelled.
func unchargeTimer(from *Process, size int64) {
	from.timers.Add(-1)
	from.timerBytes.Add(-size)
	from.env.giveUp(timerCount, 1)
	from.env.giveUp(timerByteCount, size)
	from.env.mem.Give(size + timerOverhead)
}

func timerByteCount(e *Environment) *atomic.Int64 { return &e.timerBytes }

// maxTimers and maxTimerBytes are an environment's shares: its per-process
// bound for each process it may run. Saturated: a MaxProcesses of
// math.MaxInt, meaning no limit, must not wrap to a negative limit that
// refuses every timer.
func maxTimers(e *Environment) int64 { return perProcesses(e, e.cfg.MaxTimers) }
func maxTimerBytes(e *Environment) int64 {
	return perProcesses(e, e.cfg.MaxTimerBytes)
}

func perProcesses(e *Environment, each int) int64 {
	if each <= 0 {
		return 0
	}
	return int64(min(e.cfg.MaxProcesses, math.MaxInt64/each)) * int64(each)
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
