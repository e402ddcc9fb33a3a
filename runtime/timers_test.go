package runtime

import (
	"context"
	"errors"
	"math"
	"testing"
	"time"

	"github.com/wardrt/ward/environment"
	"github.com/wardrt/ward/internal/abi"
)

// pendingTimers reports the timers in the runtime's table.
func pendingTimers(r *Runtime) int {
	r.timerMu.Lock()
	defer r.timerMu.Unlock()
	return len(r.timers)
}

// setTimers runs a Go process in env that sets n timers of size bytes to
// target, an hour away, and ends; it returns the ids set and the error
// that stopped it.
func setTimers(t *testing.T, env *Environment, target *Process, n, size int) ([]TimerID, error) {
	t.Helper()
	var ids []TimerID
	p := goProc(t, env, "timers", func(ctx context.Context, self *Self) error {
		for range n {
			id, err := self.SendAfter(time.Hour, target.ID(), Message{Data: make([]byte, size)})
			if err != nil {
				return err
			}
			ids = append(ids, id)
		}
		return nil
	})
	if reason := wait(t, p); reason != Normal {
		return ids, reason
	}
	return ids, nil
}

// A process has at most MaxTimers timers and MaxTimerBytes bytes of their
// messages pending; since timers outlive their setters, an environment
// holds at most MaxProcesses times each, counting its children's.
func TestTimerLimits(t *testing.T) {
	r := newRuntime(t)
	target := goProc(t, r.Environment(), "target", blockGo)

	t.Run("count", func(t *testing.T) {
		env := childEnv(t, r.Environment(), environment.Config{MaxProcesses: 2, MaxTimers: 10})
		if _, err := setTimers(t, env, target, 11, 0); !errors.Is(err, ErrTooManyTimers) {
			t.Fatalf("one timer past the process's MaxTimers: %v, want ErrTooManyTimers", err)
		}
		// That process ended with its 10 timers pending; so does this one.
		ids, err := setTimers(t, env, target, 10, 0)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := setTimers(t, env, target, 1, 0); !errors.Is(err, ErrTooManyTimers) {
			t.Fatalf("a timer past the environment's 2 x 10: %v, want ErrTooManyTimers", err)
		}
		if !r.CancelTimer(ids[0]) {
			t.Fatal("CancelTimer of a pending timer")
		}
		if _, err := setTimers(t, env, target, 1, 0); err != nil {
			t.Errorf("a timer once one was cancelled: %v", err)
		}
	})
	t.Run("bytes", func(t *testing.T) {
		env := childEnv(t, r.Environment(), environment.Config{MaxProcesses: 2, MaxTimerBytes: 1000})
		if _, err := setTimers(t, env, target, 1, 1001); !errors.Is(err, ErrTooManyTimers) {
			t.Fatalf("a message larger than MaxTimerBytes: %v, want ErrTooManyTimers", err)
		}
		if ids, err := setTimers(t, env, target, 3, 400); !errors.Is(err, ErrTooManyTimers) || len(ids) != 2 {
			t.Fatalf("3 x 400 bytes: %d set, then %v; want 2, then ErrTooManyTimers", len(ids), err)
		}
		if _, err := setTimers(t, env, target, 2, 500); err != nil {
			t.Fatal(err)
		}
		if got := env.timerBytes.Load(); got != 1800 {
			t.Errorf("the environment is charged %d bytes, want 1800", got)
		}
		if _, err := setTimers(t, env, target, 1, 201); !errors.Is(err, ErrTooManyTimers) {
			t.Fatalf("201 bytes past the environment's 2 x 1000 - 1800: %v, want ErrTooManyTimers", err)
		}
		if _, err := setTimers(t, env, target, 1, 200); err != nil {
			t.Fatalf("the environment's last 200 bytes: %v", err)
		}
	})
	t.Run("children count against their ancestors", func(t *testing.T) {
		env := childEnv(t, r.Environment(), environment.Config{MaxProcesses: 1, MaxTimerBytes: 1000})
		child := childEnv(t, env, environment.Config{})
		if _, err := setTimers(t, child, target, 1, 1000); err != nil {
			t.Fatal(err)
		}
		if _, err := setTimers(t, env, target, 1, 1); !errors.Is(err, ErrTooManyTimers) {
			t.Fatalf("a timer in a parent whose child holds its share: %v, want ErrTooManyTimers", err)
		}
		if got := r.Environment().timerBytes.Load(); got < 1000 {
			t.Errorf("the root is charged %d bytes, want the child's 1000 at least", got)
		}
	})
	t.Run("no practical process limit", func(t *testing.T) {
		// An environment with no practical process limit has no
		// practical timer limit either: its share once overflowed to a
		// negative one.
		r := newRuntime(t, WithRootEnvironment(environment.Config{MaxProcesses: math.MaxInt, MaxTimerBytes: math.MaxInt}))
		target := goProc(t, r.Environment(), "target", blockGo)
		if _, err := setTimers(t, r.Environment(), target, 1, 10); err != nil {
			t.Errorf("a timer in an environment of MaxProcesses math.MaxInt: %v", err)
		}
	})
}

// A timer whose target ends is cancelled, as Erlang cancels one to a pid:
// its message, its table entry and its setter's charge go with the
// target, not when it would have fired. A timer to a process that is not
// alive is never set.
func TestTimerToAnEndedProcessIsCancelled(t *testing.T) {
	r := newRuntime(t)
	env := childEnv(t, r.Environment(), environment.Config{})
	target := goProc(t, r.Environment(), "target", blockGo)
	ids, err := setTimers(t, env, target, 3, 100)
	if err != nil {
		t.Fatal(err)
	}
	if n, b := pendingTimers(r), env.timerBytes.Load(); n != 3 || b != 300 {
		t.Fatalf("%d timers pending and %d bytes charged, want 3 and 300", n, b)
	}
	target.Kill()
	wait(t, target)
	if n := pendingTimers(r); n != 0 {
		t.Errorf("%d timers pending once their target ended", n)
	}
	if n, b := env.timers.Load(), env.timerBytes.Load(); n != 0 || b != 0 {
		t.Errorf("%d timers and %d bytes still charged once their target ended", n, b)
	}
	if r.CancelTimer(ids[0]) {
		t.Error("CancelTimer found a timer of an ended target")
	}

	// To a process that has ended: an id, and nothing held.
	if _, err := setTimers(t, env, target, 1, 100); err != nil {
		t.Fatal(err)
	}
	if n, b := pendingTimers(r), env.timerBytes.Load(); n != 0 || b != 0 {
		t.Errorf("a timer to an ended process: %d pending, %d bytes charged", n, b)
	}
}

// The hostile guest of the review, scaled down: one process setting big
// timers to a long-lived process and ending, again and again, used to pin
// their bytes with no limit counting them. Now each process holds at most
// MaxTimerBytes, its environment MaxProcesses times that, and the bytes go
// when the timers fire or their target ends.
func TestGuestTimersAreBounded(t *testing.T) {
	r := newRuntime(t)
	env := childEnv(t, r.Environment(), environment.Config{MaxProcesses: 2, MaxTimerBytes: 4 << 20})
	m := load(t, r, "signals", []byte(signalsWAT))
	rep, reports := reporter(t, r.Environment())
	target := goProc(t, r.Environment(), "target", blockGo)
	bigTimers := func(to *Process, n int64, delayMs int64) guestReport {
		t.Helper()
		p := spawn(t, env, m, "big_timers", I64(int64(to.ID())), I64(n), I32(1<<20), I64(delayMs), I64(int64(rep.ID())))
		got := report(t, reports)
		if reason := wait(t, p); reason != Normal {
			t.Fatalf("big_timers: %v", reason)
		}
		return got
	}
	if got := bigTimers(target, 48, 3_600_000); got.ok != 4 || got.refused != -abi.ErrLimit {
		t.Fatalf("48 timers of 1 MiB: %d set, first refusal %d; want 4 (MaxTimerBytes), then %d", got.ok, got.refused, -abi.ErrLimit)
	}
	if got := bigTimers(target, 48, 3_600_000); got.ok != 4 {
		t.Fatalf("a second process: %d set, want 4", got.ok)
	}
	if got := bigTimers(target, 48, 3_600_000); got.ok != 0 || got.refused != -abi.ErrLimit {
		t.Fatalf("a third process: %d set, want none past the environment's 2 x 4 MiB", got.ok)
	}
	if b := env.timerBytes.Load(); b != 8<<20 {
		t.Fatalf("the environment is charged %d bytes, want 8 MiB", b)
	}
	target.Kill()
	wait(t, target)
	if n, b := pendingTimers(r), env.timerBytes.Load(); n != 0 || b != 0 {
		t.Fatalf("the target ended: %d timers pending, %d bytes charged; want none", n, b)
	}

	// Timers that fire give their bytes back too, after their setter
	// ended.
	got := make(chan int, 1)
	sink := goProc(t, r.Environment(), "sink", func(ctx context.Context, self *Self) error {
		for i := range 4 {
			if _, err := self.Receive(ctx, 1); err != nil {
				return err
			}
			if i == 3 {
				got <- 4
			}
		}
		<-ctx.Done()
		return nil
	})
	if r := bigTimers(sink, 4, 1); r.ok != 4 {
		t.Fatalf("4 timers of 1 MiB firing soon: %d set", r.ok)
	}
	select {
	case <-got:
	case <-time.After(30 * time.Second):
		t.Fatal("the timers did not fire")
	}
	waitFor(t, 10*time.Second, "the charge of the fired timers to go", func() bool {
		return pendingTimers(r) == 0 && env.timerBytes.Load() == 0 && env.timers.Load() == 0
	})
}
