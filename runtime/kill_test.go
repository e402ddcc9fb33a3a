package runtime

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/wardrt/ward/internal/wasm"
	"github.com/wardrt/ward/testdata"
)

func TestKillInEveryState(t *testing.T) {
	r := newRuntime(t)
	env := r.Environment()
	spin := load(t, r, "spin", testdata.Spin)
	procs := load(t, r, "procs", testdata.Procs)

	t.Run("running", func(t *testing.T) {
		// A long but finite job: Kill must end it long before it finishes.
		p := spawn(t, env, spin, "count", I64(1<<50))
		waitFor(t, 10*time.Second, "the job to run", func() bool { return p.yields.Load() > 0 })
		p.Kill()
		if reason := wait(t, p); reason != Killed {
			t.Fatalf("reason %v", reason)
		}
	})
	t.Run("spinning", func(t *testing.T) {
		p := spawn(t, env, spin, "spin")
		waitFor(t, 10*time.Second, "the spinner to run", func() bool { return p.yields.Load() > 2 })
		p.Kill()
		if reason := wait(t, p); !errors.Is(reason, Killed) {
			t.Fatalf("reason %v", reason)
		}
	})
	t.Run("parked in a host call", func(t *testing.T) {
		p := spawn(t, env, procs, "sleep_forever")
		waitFor(t, 10*time.Second, "the process to park", func() bool {
			inUse, _ := r.engine.StacksInUse()
			return inUse == 1
		})
		p.Kill()
		if reason := wait(t, p); reason != Killed {
			t.Fatalf("reason %v", reason)
		}
	})
	t.Run("not yet started", func(t *testing.T) {
		stores := wasm.LiveProcs()
		p, err := env.register(context.Background(), procs, "sleep_forever", nil, 0, nil)
		if err != nil {
			t.Fatal(err)
		}
		p.Kill()
		go p.run()
		if reason := wait(t, p); reason != Killed {
			t.Fatalf("reason %v", reason)
		}
		if wasm.LiveProcs() != stores {
			t.Fatal("a process killed before it started must never get a store")
		}
	})
	t.Run("trapping", func(t *testing.T) {
		// Killing a process that ends on its own at the same moment: either
		// reason is fine, but it must end exactly once and never hang.
		traps := load(t, r, "traps", testdata.Traps)
		for range 50 {
			p := spawn(t, env, traps, "unreachable")
			p.Kill()
			var te *TrapError
			if reason := wait(t, p); reason != Killed && !errors.As(reason, &te) {
				t.Fatalf("reason %v", reason)
			}
		}
	})
	t.Run("twice and after the end", func(t *testing.T) {
		p := spawn(t, env, procs, "exit_with", I32(0))
		if reason := wait(t, p); reason != Normal {
			t.Fatalf("reason %v", reason)
		}
		p.Kill()
		p.Kill()
		if p.Reason() != Normal {
			t.Fatalf("Kill after the end changed the reason to %v", p.Reason())
		}
	})
}

func TestCloseKillsEverything(t *testing.T) {
	r := newRuntime(t)
	env := r.Environment()
	spin := load(t, r, "spin", testdata.Spin)
	procs := load(t, r, "procs", testdata.Procs)
	var all []*Process
	for range 4 {
		all = append(all, spawn(t, env, spin, "spin"), spawn(t, env, procs, "sleep_forever"))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := r.Close(ctx); err != nil {
		t.Fatal(err)
	}
	for _, p := range all {
		if p.Reason() != Killed {
			t.Fatalf("%v: reason %v after Close", p, p.Reason())
		}
	}
	if _, err := env.Spawn(ctx, procs, "sleep_forever"); !errors.Is(err, ErrClosed) {
		t.Fatalf("Spawn after Close: %v", err)
	}
	if _, err := r.LoadModule(ctx, "x", testdata.Trivial); !errors.Is(err, ErrClosed) {
		t.Fatalf("LoadModule after Close: %v", err)
	}
}

func TestWaitHonoursContext(t *testing.T) {
	r := newRuntime(t)
	p := spawn(t, r.Environment(), load(t, r, "procs", testdata.Procs), "sleep_forever")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Millisecond)
	defer cancel()
	if reason, err := p.Wait(ctx); !errors.Is(err, context.DeadlineExceeded) || reason != nil {
		t.Fatalf("Wait = %v, %v", reason, err)
	}
	if p.Reason() != nil {
		t.Fatal("a Wait timing out must not end the process")
	}
}

func TestRunOnCallerGoroutine(t *testing.T) {
	r := newRuntime(t)
	env := r.Environment()
	procs := load(t, r, "procs", testdata.Procs)
	if reason, err := env.Run(testCtx(t), procs, "exit_with", I32(0)); err != nil || reason != Normal {
		t.Fatalf("Run = %v, %v", reason, err)
	}
	var ee *ExitError
	if reason, err := env.Run(testCtx(t), procs, "exit_with", I32(9)); err != nil || !errors.As(reason, &ee) || ee.Code != 9 {
		t.Fatalf("Run = %v, %v", reason, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if reason, err := env.Run(ctx, procs, "sleep_forever"); reason != Killed || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Run past its context = %v, %v", reason, err)
	}
}

// Run with a ctx that can never end (no watch on it) still ends like any
// process: normally, or killed from outside with a nil error.
func TestRunWithBackgroundContext(t *testing.T) {
	r := newRuntime(t)
	env := r.Environment()
	procs := load(t, r, "procs", testdata.Procs)
	ctx := context.Background()
	if reason, err := env.Run(ctx, procs, "exit_with", I32(0)); err != nil || reason != Normal {
		t.Fatalf("Run = %v, %v", reason, err)
	}
	go func() {
		// The only process alive once it is in the table.
		for {
			if procs := r.processesWithin(env); len(procs) > 0 {
				procs[0].Kill()
				return
			}
			time.Sleep(time.Millisecond)
		}
	}()
	if reason, err := env.Run(ctx, procs, "sleep_forever"); reason != Killed || err != nil {
		t.Fatalf("Run killed from outside = %v, %v", reason, err)
	}
}

// Wait with a ctx that can never end returns the process's reason, for a
// process that ends later and for one that has ended.
func TestWaitWithBackgroundContext(t *testing.T) {
	r := newRuntime(t)
	env := r.Environment()
	procs := load(t, r, "procs", testdata.Procs)
	p := spawn(t, env, procs, "sleep", I64(20))
	for range 2 {
		if reason, err := p.Wait(context.Background()); err != nil || reason != Normal {
			t.Fatalf("Wait = %v, %v", reason, err)
		}
	}
	q := spawn(t, env, procs, "exit_with", I32(9))
	var ee *ExitError
	if reason, err := q.Wait(context.Background()); err != nil || !errors.As(reason, &ee) || ee.Code != 9 {
		t.Fatalf("Wait = %v, %v", reason, err)
	}
}
