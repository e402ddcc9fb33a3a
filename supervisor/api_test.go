package supervisor_test

import (
	"context"
	"errors"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wardrt/ward/environment"
	"github.com/wardrt/ward/runtime"
	"github.com/wardrt/ward/supervisor"
)

// OnStart runs after every start and restart, with the new process: the
// hook the registry will use to register restarted processes' names again.
func TestOnStartCalledOnEveryRestart(t *testing.T) {
	f := newFixture(t)
	var rec recorder
	opts := options(supervisor.OneForOne, &rec)
	opts.Intensity = 10
	sup := supervisor.New("s", opts)
	var mu sync.Mutex
	var seen []runtime.ProcessID
	var svcHooks int
	must(t, sup.Add(supervisor.ChildSpec{
		Name: "named", Wasm: f.forever(),
		OnStart: func(ctx context.Context, p *runtime.Process) error {
			mu.Lock()
			defer mu.Unlock()
			seen = append(seen, p.ID())
			return nil
		},
	}))
	must(t, sup.Add(supervisor.ChildSpec{
		Name: "svc", Service: &failing{n: 2},
		OnStart: func(ctx context.Context, p *runtime.Process) error {
			mu.Lock()
			defer mu.Unlock()
			if p != nil {
				t.Errorf("a Service's OnStart got process %v", p)
			}
			svcHooks++
			return nil
		},
	}))
	serve(t, sup)
	rec.wait(t, 1, supervisor.EventStarted, "named")
	for i := range 3 {
		if i > 0 {
			rec.wait(t, i, supervisor.EventRestarted, "named")
		}
		child(t, sup, "named").Process.Kill()
	}
	rec.wait(t, 3, supervisor.EventRestarted, "named")
	rec.wait(t, 2, supervisor.EventRestarted, "svc")
	barrier(t, sup)

	mu.Lock()
	defer mu.Unlock()
	var started []runtime.ProcessID
	for _, e := range rec.all() {
		if e.Child == "named" && (e.Kind == supervisor.EventStarted || e.Kind == supervisor.EventRestarted) {
			started = append(started, e.Process)
		}
	}
	if len(seen) != 4 || !slices.Equal(seen, started) {
		t.Errorf("OnStart saw %v, started %v: want the 4 processes, in order", seen, started)
	}
	if svcHooks != 3 {
		t.Errorf("the Service's OnStart ran %d times, want 3", svcHooks)
	}
}

// A failing OnStart at the first start fails Serve, after stopping the
// children already started; the process it was given is killed.
func TestOnStartFailsServe(t *testing.T) {
	f := newFixture(t)
	var rec recorder
	sup := supervisor.New("s", options(supervisor.OneForOne, &rec))
	must(t, sup.Add(supervisor.ChildSpec{Name: "ok", Wasm: f.forever()}))
	must(t, sup.Add(supervisor.ChildSpec{Name: "bad", Wasm: f.forever(), OnStart: func(context.Context, *runtime.Process) error { return errInjected }}))
	must(t, sup.Add(supervisor.ChildSpec{Name: "never", Wasm: f.forever()}))
	err := serveUntilError(t, sup)
	var se *supervisor.StartError
	if !errors.As(err, &se) || se.Child != "bad" || !errors.Is(err, errInjected) {
		t.Fatalf("Serve: %v, want bad's StartError", err)
	}
	if got := childNames(rec.of(supervisor.EventStarted, "")); !slices.Equal(got, []string{"ok"}) {
		t.Errorf("started %v", got)
	}
	if n := f.rt.NumProcesses(); n != 0 {
		t.Errorf("%d processes left", n)
	}
}

func TestSpecValidation(t *testing.T) {
	f := newFixture(t)
	sup := supervisor.New("s", supervisor.Options{Logger: quiet()})
	for _, spec := range []supervisor.ChildSpec{
		{Wasm: f.forever()},
		{Name: "none"},
		{Name: "two", Wasm: f.forever(), Service: &failing{}},
		{Name: "half", Wasm: &supervisor.Wasm{Module: f.procs, Entry: "sleep_forever"}},
		{Name: "both", Wasm: &supervisor.Wasm{Env: f.env, Module: f.procs, ModuleName: "procs", Entry: "sleep_forever"}},
		{Name: "neither", Wasm: &supervisor.Wasm{Env: f.env, Entry: "sleep_forever"}},
		{Name: "version of a module", Wasm: &supervisor.Wasm{Env: f.env, Module: f.procs, Version: "^1", Entry: "sleep_forever"}},
		{Name: "restart", Wasm: f.forever(), Restart: 7},
		{Name: "shutdown", Wasm: f.forever(), Shutdown: -2},
	} {
		if err := sup.Add(spec); !errors.Is(err, supervisor.ErrInvalidSpec) {
			t.Errorf("Add(%s): %v, want ErrInvalidSpec", spec.Name, err)
		}
	}
	must(t, sup.Add(supervisor.ChildSpec{Name: "a", Wasm: f.forever()}))
	if err := sup.Add(supervisor.ChildSpec{Name: "a", Wasm: f.forever()}); !errors.Is(err, supervisor.ErrDuplicateChild) {
		t.Errorf("duplicate Add: %v", err)
	}
	if got := sup.WhichChildren(); len(got) != 1 || got[0].Name != "a" || got[0].State != supervisor.Stopped {
		t.Errorf("WhichChildren before Serve: %+v", got)
	}

	ctx := testCtx(t)
	if _, err := sup.StartChild(ctx, supervisor.ChildSpec{Name: "b", Wasm: f.forever()}); !errors.Is(err, supervisor.ErrNotRunning) {
		t.Errorf("StartChild before Serve: %v", err)
	}
	if err := supervisor.New("x", supervisor.Options{Strategy: 9}).Serve(ctx); !errors.Is(err, supervisor.ErrInvalidSpec) {
		t.Errorf("Serve with a bad strategy: %v", err)
	}
	if err := supervisor.New("x", supervisor.Options{Strategy: supervisor.SimpleOneForOne}).Serve(ctx); !errors.Is(err, supervisor.ErrInvalidSpec) {
		t.Errorf("simple_one_for_one without a template: %v", err)
	}
	simple := supervisor.New("x", supervisor.Options{Strategy: supervisor.SimpleOneForOne})
	must(t, simple.Add(supervisor.ChildSpec{Name: "t", Wasm: f.forever()}))
	if err := simple.Add(supervisor.ChildSpec{Name: "u", Wasm: f.forever()}); !errors.Is(err, supervisor.ErrInvalidSpec) {
		t.Errorf("a second template: %v", err)
	}

	serve(t, sup)
	waitUntil(t, func() bool { return child(t, sup, "a").State == supervisor.Running }, "a to run")
	if err := sup.Serve(ctx); !errors.Is(err, supervisor.ErrRunning) {
		t.Errorf("second Serve: %v", err)
	}
	if _, err := sup.StartDynamic(ctx); !errors.Is(err, supervisor.ErrStrategy) {
		t.Errorf("StartDynamic on one_for_one: %v", err)
	}
	if _, err := sup.StartChild(ctx, supervisor.ChildSpec{Name: "a", Wasm: f.forever()}); !errors.Is(err, supervisor.ErrDuplicateChild) {
		t.Errorf("StartChild duplicate: %v", err)
	}
	if err := sup.DeleteChild(ctx, "a"); !errors.Is(err, supervisor.ErrChildRunning) {
		t.Errorf("DeleteChild of a running child: %v", err)
	}
	if _, err := sup.RestartChild(ctx, "a"); !errors.Is(err, supervisor.ErrChildRunning) {
		t.Errorf("RestartChild of a running child: %v", err)
	}
	if _, err := sup.RestartChild(ctx, "zz"); !errors.Is(err, supervisor.ErrNoChild) {
		t.Errorf("RestartChild of nobody: %v", err)
	}
	canceled, cancel := context.WithCancel(ctx)
	cancel()
	if err := sup.TerminateChild(canceled, "a"); !errors.Is(err, context.Canceled) {
		t.Errorf("TerminateChild with a cancelled ctx: %v", err)
	}
}

// Children added while running: StartChild, then terminate, restart and
// delete them. They belong to this run of Serve only.
func TestStartTerminateRestartDelete(t *testing.T) {
	f := newFixture(t)
	var rec recorder
	sup := supervisor.New("s", options(supervisor.RestForOne, &rec))
	must(t, sup.Add(supervisor.ChildSpec{Name: "a", Wasm: f.forever()}))
	stop, _ := serve(t, sup)
	ctx := testCtx(t)
	waitUntil(t, func() bool { return child(t, sup, "a").State == supervisor.Running }, "a to run")
	info, err := sup.StartChild(ctx, supervisor.ChildSpec{Name: "b", Wasm: f.forever()})
	if err != nil || info.State != supervisor.Running || info.Process == nil {
		t.Fatalf("StartChild: %+v, %v", info, err)
	}
	if _, err := sup.StartChild(ctx, supervisor.ChildSpec{Name: "c", Wasm: &supervisor.Wasm{Env: f.env, Module: f.procs, Entry: "nope"}}); !errors.Is(err, runtime.ErrNoEntry) {
		t.Errorf("StartChild of a missing entry: %v", err)
	}
	must(t, sup.TerminateChild(ctx, "b"))
	if c := child(t, sup, "b"); c.State != supervisor.Stopped || c.Reason != runtime.Killed {
		t.Errorf("b after TerminateChild: %+v", c)
	}
	info, err = sup.RestartChild(ctx, "b")
	if err != nil || info.State != supervisor.Running {
		t.Errorf("RestartChild: %+v, %v", info, err)
	}
	must(t, sup.TerminateChild(ctx, "b"))
	must(t, sup.DeleteChild(ctx, "b"))
	if got := names(sup.WhichChildren()); !slices.Equal(got, []string{"a"}) {
		t.Errorf("children %v", got)
	}
	must(t, sup.TerminateChild(ctx, "a"))
	must(t, ignoreCanceled(stop()))

	// A new run starts from the configuration: a, not b.
	serve(t, sup)
	waitUntil(t, func() bool { return child(t, sup, "a").State == supervisor.Running }, "a to run again")
	if got := names(sup.WhichChildren()); !slices.Equal(got, []string{"a"}) {
		t.Errorf("children of the second run %v", got)
	}
}

// Closing the runtime kills the children; restarts cannot work any more,
// and the supervisor ends with an error that says why.
func TestRuntimeClosed(t *testing.T) {
	f := newFixture(t)
	var rec recorder
	sup := supervisor.New("s", options(supervisor.OneForOne, &rec))
	must(t, sup.Add(supervisor.ChildSpec{Name: "a", Wasm: f.forever()}))
	_, wait := serve(t, sup)
	rec.wait(t, 1, supervisor.EventStarted, "a")
	must(t, f.rt.Close(testCtx(t)))
	if err := wait(); !errors.Is(err, runtime.ErrClosed) {
		t.Errorf("Serve: %v, want runtime.ErrClosed", err)
	}
}

// Closing the environment a child runs in is the same, for that child:
// it cannot be restarted there, so the supervisor gives up at once rather
// than spend its restart intensity on spawns that are bound to fail.
func TestEnvironmentClosed(t *testing.T) {
	f := newFixture(t)
	env, err := f.rt.NewEnvironment(environment.Config{})
	must(t, err)
	var rec recorder
	opts := options(supervisor.OneForOne, &rec)
	opts.Intensity, opts.Period = 1000, time.Hour // only ErrEnvironmentClosed can end it soon
	sup := supervisor.New("s", opts)
	must(t, sup.Add(supervisor.ChildSpec{Name: "a", Wasm: &supervisor.Wasm{Env: env, Module: f.procs, Entry: "sleep_forever"}}))
	_, wait := serve(t, sup)
	rec.wait(t, 1, supervisor.EventStarted, "a")
	must(t, env.Close(testCtx(t)))
	if err := wait(); !errors.Is(err, runtime.ErrEnvironmentClosed) {
		t.Errorf("Serve: %v, want runtime.ErrEnvironmentClosed", err)
	}
}

// WhichChildren lists the configured children at every moment: before a
// run, while it starts them (Stopped until started), and after it. It
// used to return none in the instant after Serve published its run.
func TestWhichChildrenNeverEmpty(t *testing.T) {
	f := newFixture(t)
	sup := supervisor.New("s", supervisor.Options{Logger: quiet()})
	must(t, sup.Add(supervisor.ChildSpec{Name: "a", Wasm: f.forever()}))
	stop := make(chan struct{})
	var empty atomic.Int32
	var wg sync.WaitGroup
	wg.Go(func() {
		for {
			select {
			case <-stop:
				return
			default:
			}
			if got := names(sup.WhichChildren()); !slices.Equal(got, []string{"a"}) {
				empty.Add(1)
			}
		}
	})
	for range 50 {
		end, _ := serve(t, sup)
		waitUntil(t, func() bool { return child(t, sup, "a").State == supervisor.Running }, "a to run")
		must(t, ignoreCanceled(end()))
	}
	close(stop)
	wg.Wait()
	if n := empty.Load(); n > 0 {
		t.Errorf("WhichChildren did not list [a] %d times", n)
	}
}
