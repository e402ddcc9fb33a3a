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

// A Wait with a ctx that cannot end runs a process nothing has started,
// and no later start runs it again.
func TestWaitRunsAProcessNotStarted(t *testing.T) {
	r := newRuntime(t)
	env := r.Environment()
	m := loadTrivialT(t, r)
	p, err := env.register(context.Background(), m, "run", nil, 0, nil)
	if err != nil {
		t.Fatal(err)
	}
	// Nothing else can run it: only the Wait can end it.
	ended := make(chan Reason, 1)
	go func() {
		reason, _ := p.Wait(context.Background())
		ended <- reason
	}()
	select {
	case reason := <-ended:
		if reason != Normal {
			t.Fatalf("reason %v", reason)
		}
	case <-testCtx(t).Done():
		t.Fatal("Wait did not run the process it found not started")
	}
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
	env := r.Environment()
	m := loadTrivialT(t, r)
	p, err := env.register(context.Background(), m, "run", nil, 0, nil)
	if err != nil {
		t.Fatal(err)
	}
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
	r := newRuntime(t)
	env := r.Environment()
	procs := load(t, r, "procs", testdata.Procs)
	parked := func() bool { inUse, _ := r.engine.StacksInUse(); return inUse == 1 }

	t.Run("killed", func(t *testing.T) {
		p, err := env.register(context.Background(), procs, "sleep_forever", nil, 0, nil)
		if err != nil {
			t.Fatal(err)
		}
		ended := make(chan Reason, 1)
		go func() {
			reason, _ := p.Wait(context.Background())
			ended <- reason
		}()
		waitFor(t, 10*time.Second, "the process to park", parked)
		if p.claim() {
			t.Fatal("a process its waiter runs can be claimed again")
		}
		p.Kill()
		select {
		case reason := <-ended:
			if reason != Killed {
				t.Fatalf("reason %v", reason)
			}
		case <-testCtx(t).Done():
			t.Fatal("the waiter running a killed process did not return")
		}
	})
	t.Run("closed", func(t *testing.T) {
		r2 := newRuntime(t)
		procs2 := load(t, r2, "procs", testdata.Procs)
		p, err := r2.Environment().register(context.Background(), procs2, "sleep_forever", nil, 0, nil)
		if err != nil {
			t.Fatal(err)
		}
		ended := make(chan Reason, 1)
		go func() {
			reason, _ := p.Wait(context.Background())
			ended <- reason
		}()
		waitFor(t, 10*time.Second, "the process to park", func() bool { inUse, _ := r2.engine.StacksInUse(); return inUse == 1 })
		if err := r2.Close(testCtx(t)); err != nil {
			t.Fatal(err)
		}
		if reason := p.Reason(); reason != Killed {
			t.Fatalf("reason %v once Close returned", reason)
		}
		select {
		case <-ended:
		case <-testCtx(t).Done():
			t.Fatal("the waiter running a process Close ended did not return")
		}
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
