package supervisor_test

import (
	"context"
	"errors"
	goruntime "runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wardrt/ward/runtime"
	"github.com/wardrt/ward/supervisor"
)

// TestSoak restarts children of every kind, through a tree with a nested
// supervisor and a supervisor process, until Wasm children have been
// restarted 10,000 times; Go-native processes and Go services restart on
// top of that. Then it stops the tree and checks that nothing leaked: no
// goroutine, no process, no fiber stack. (No registry entry either, once
// the registry is wired to processes: see ChildSpec.OnStart.)
//
//	go test ./supervisor -run TestSoak -supervisor.soak -v
func TestSoak(t *testing.T) {
	if !*soak || testing.Short() {
		t.Skip("the soak runs with -supervisor.soak, and not under -short")
	}
	const target = 10_000
	f := newFixture(t)
	baseline := goruntime.NumGoroutine()
	var ms goruntime.MemStats
	goruntime.GC()
	goruntime.ReadMemStats(&ms)
	heapBefore := ms.HeapAlloc

	ctx, cancel := context.WithCancel(testCtx(t))
	defer cancel()
	wasmChildren := map[string]bool{"trap": true, "exit": true, "i-trap": true, "p": true}
	var restarts, wasmRestarts, starts, hooks, gaveUp atomic.Int64
	var mu sync.Mutex
	byChild := map[string]int{}
	onEvent := func(e supervisor.Event) {
		switch e.Kind {
		case supervisor.EventRestarted:
			restarts.Add(1)
			mu.Lock()
			byChild[e.Child]++
			mu.Unlock()
			if wasmChildren[strings.TrimRight(e.Child, "-0123456789")] && wasmRestarts.Add(1) == target {
				cancel()
			}
		case supervisor.EventStarted:
			starts.Add(1)
		case supervisor.EventGaveUp:
			gaveUp.Add(1)
		}
	}
	hook := func(context.Context, *runtime.Process) error { hooks.Add(1); return nil }
	opts := func(s supervisor.Strategy) supervisor.Options {
		return supervisor.Options{Strategy: s, Intensity: 1 << 30, Period: time.Minute, Backoff: supervisor.NoBackoff, Logger: quiet(), OnEvent: onEvent}
	}

	inner := supervisor.New("inner", opts(supervisor.RestForOne))
	must(t, inner.Add(supervisor.ChildSpec{Name: "i-steady", Wasm: f.forever(), OnStart: hook}))
	must(t, inner.Add(supervisor.ChildSpec{Name: "i-trap", Wasm: f.trap(), OnStart: hook}))
	must(t, inner.Add(supervisor.ChildSpec{Name: "i-go", OnStart: hook,
		Spawn: func(ctx context.Context, _ []runtime.Value) (*runtime.Process, error) {
			return f.env.SpawnGo(ctx, "i-go", func(context.Context, *runtime.Self) error { return errInjected })
		}}))

	pool := supervisor.New("pool", opts(supervisor.SimpleOneForOne))
	must(t, pool.Add(supervisor.ChildSpec{Name: "p", Wasm: f.exit1(), Restart: supervisor.Transient, OnStart: hook}))

	top := supervisor.New("top", opts(supervisor.OneForOne))
	must(t, top.Add(supervisor.ChildSpec{Name: "steady", Wasm: f.forever(), OnStart: hook}))
	must(t, top.Add(supervisor.ChildSpec{Name: "trap", Wasm: f.trap(), OnStart: hook}))
	must(t, top.Add(supervisor.ChildSpec{Name: "exit", Wasm: f.exit1(), Restart: supervisor.Transient, OnStart: hook}))
	must(t, top.Add(supervisor.ChildSpec{Name: "svc", Service: supervisor.ServiceFunc(func(context.Context) error { return errInjected }), OnStart: hook}))
	must(t, top.Add(supervisor.ChildSpec{Name: "inner", Service: inner, OnStart: hook}))
	must(t, top.Add(supervisor.ChildSpec{Name: "pool",
		Spawn: func(ctx context.Context, _ []runtime.Value) (*runtime.Process, error) {
			return pool.SpawnProcess(ctx, f.env)
		},
		OnStart: func(ctx context.Context, p *runtime.Process) error {
			hooks.Add(1)
			// Two dynamic children, started once the pool runs.
			for range 2 {
				for {
					_, err := pool.StartDynamic(ctx)
					if err == nil {
						break
					}
					if !errors.Is(err, supervisor.ErrNotRunning) {
						return err
					}
					time.Sleep(time.Millisecond)
				}
			}
			return nil
		}}))

	began := time.Now()
	err := top.Serve(ctx)
	elapsed := time.Since(began)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Serve: %v", err)
	}
	n := restarts.Load()
	if wn := wasmRestarts.Load(); wn < target {
		t.Fatalf("%d Wasm restarts, want %d", wn, target)
	}
	if g := gaveUp.Load(); g != 0 {
		t.Errorf("%d supervisors gave up", g)
	}
	if h, want := hooks.Load(), n+starts.Load(); h != want {
		t.Errorf("OnStart ran %d times for %d starts and restarts", h, want)
	}
	if p := f.rt.NumProcesses(); p != 0 {
		t.Errorf("%d processes left", p)
	}
	if s := f.rt.Stats(); s.Processes != 0 || s.StacksInUse != 0 {
		t.Errorf("runtime stats after the soak: %+v", s)
	}
	var after int
	deadline := time.Now().Add(hang)
	for after = goruntime.NumGoroutine(); after > baseline && time.Now().Before(deadline); after = goruntime.NumGoroutine() {
		time.Sleep(10 * time.Millisecond)
	}
	if after > baseline {
		buf := make([]byte, 1<<20)
		t.Errorf("%d goroutines, %d before:\n%s", after, baseline, buf[:goruntime.Stack(buf, true)])
	}
	goruntime.GC()
	goruntime.ReadMemStats(&ms)
	mu.Lock()
	defer mu.Unlock()
	t.Logf("%d restarts, %d of them Wasm processes (%d first starts) in %v: %.0f restarts/s; by child %v",
		n, wasmRestarts.Load(), starts.Load(), elapsed.Round(time.Millisecond), float64(n)/elapsed.Seconds(), byChild)
	t.Logf("goroutines %d before, %d after; heap %d KiB before, %d KiB after; runtime %+v",
		baseline, after, heapBefore>>10, ms.HeapAlloc>>10, f.rt.Stats())
}
