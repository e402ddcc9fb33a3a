package runtime

import (
	"context"
	"errors"
	goruntime "runtime"
	"testing"
	"time"

	"github.com/wardrt/ward/testdata"
)

// The tests below admit processes with register, which is Spawn without
// its goroutine: Wait then finds them not started, every time, and
// whatever runs them is known.

// notStarted admits a process running entry of m without starting it.
func notStarted(t *testing.T, env *Environment, m *Module, entry string) *Process {
	t.Helper()
	p, err := env.register(context.Background(), m, entry, nil, 0, nil)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// waitBackground calls p.Wait(context.Background()) on a goroutine of its
// own and sends what it returns.
func waitBackground(p *Process) <-chan Reason {
	ended := make(chan Reason, 1)
	go func() {
		reason, _ := p.Wait(context.Background())
		ended <- reason
	}()
	return ended
}

// endedWith fails unless ended gives want (any reason if want is nil)
// before the test's deadline.
func endedWith(t *testing.T, ended <-chan Reason, want Reason, what string) {
	t.Helper()
	select {
	case reason := <-ended:
		if want != nil && reason != want {
			t.Fatalf("%s: reason %v, want %v", what, reason, want)
		}
	case <-testCtx(t).Done():
		t.Fatalf("%s: Wait did not return", what)
	}
}

// A Wait with a ctx that cannot end runs a process nothing has started,
// and no one can claim it after.
func TestWaitRunsAProcessNotStarted(t *testing.T) {
	r := newRuntime(t)
	p := notStarted(t, r.Environment(), loadTrivialT(t, r), "run")
	// Nothing else can run it: only the Wait can end it.
	endedWith(t, waitBackground(p), Normal, "a process only Wait could run")
	if p.claim() {
		t.Fatal("a process Wait ran can be claimed again")
	}
	if n := r.Stats().Processes; n != 0 {
		t.Fatalf("%d processes in the table after the end", n)
	}
}

// A Wait with a ctx that can end never runs the process itself: it could
// not leave it when ctx ends.
func TestWaitWithDeadlineLeavesTheProcessToItsGoroutine(t *testing.T) {
	r := newRuntime(t)
	p := notStarted(t, r.Environment(), loadTrivialT(t, r), "run")
	// A trivial process run here would end Normal long before the
	// deadline; nothing runs it, so the deadline must come first.
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if reason, err := p.Wait(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Wait with a deadline returned %v, %v: it ran the process", reason, err)
	}
	go p.run()
	if reason := wait(t, p); reason != Normal {
		t.Fatalf("reason %v", reason)
	}
}

// A process run by its waiter parks, is killed and ends like any other,
// and Close waits for it.
func TestWaitRunsAProcessThatParks(t *testing.T) {
	parked := func(r *Runtime) func() bool {
		return func() bool { inUse, _ := r.engine.StacksInUse(); return inUse == 1 }
	}
	t.Run("killed", func(t *testing.T) {
		r := newRuntime(t)
		p := notStarted(t, r.Environment(), load(t, r, "procs", testdata.Procs), "sleep_forever")
		ended := waitBackground(p)
		waitFor(t, 10*time.Second, "the process to park", parked(r))
		if p.claim() {
			t.Fatal("a process its waiter runs can be claimed again")
		}
		p.Kill()
		endedWith(t, ended, Killed, "a killed process its waiter ran")
	})
	t.Run("closed", func(t *testing.T) {
		r := newRuntime(t)
		p := notStarted(t, r.Environment(), load(t, r, "procs", testdata.Procs), "sleep_forever")
		ended := waitBackground(p)
		waitFor(t, 10*time.Second, "the process to park", parked(r))
		if err := r.Close(testCtx(t)); err != nil {
			t.Fatal(err)
		}
		if reason := p.Reason(); reason != Killed {
			t.Fatalf("reason %v once Close returned", reason)
		}
		endedWith(t, ended, nil, "a process Close ended, its waiter running it")
	})
}

// A Go process is always left to its own goroutine: its GoFunc may end
// that goroutine, and must not end its waiter's.
func TestWaitLeavesGoProcessesToTheirGoroutine(t *testing.T) {
	r := newRuntime(t)
	env := r.Environment()
	for range 50 {
		p, err := env.SpawnGo(context.Background(), "goexit", func(context.Context, *Self) error {
			goruntime.Goexit()
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		// Wait at once, most often before the goroutine starts: were
		// Wait to run it here, Goexit would end this test's goroutine.
		reason, err := p.Wait(context.Background())
		var ge *GoError
		if err != nil || !errors.As(reason, &ge) || !errors.Is(ge, ErrGoexit) {
			t.Fatalf("Wait: %v, %v", reason, err)
		}
	}
}
