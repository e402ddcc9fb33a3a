package supervisor_test

import (
	"context"
	"errors"
	"slices"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/wardrt/ward/runtime"
	"github.com/wardrt/ward/supervisor"
)

// Each strategy, with failure injected into the middle one of three Wasm
// children: b traps (unreachable) on its first start and sleeps after. The
// others must be restarted, or left alone, as the strategy says, and in
// order: stopped in reverse, started forwards.
func TestStrategiesWasmTrap(t *testing.T) {
	for _, tc := range []struct {
		strategy  supervisor.Strategy
		restarted []string // in restart order
	}{
		{supervisor.OneForOne, []string{"b"}},
		{supervisor.OneForAll, []string{"a", "b", "c"}},
		{supervisor.RestForOne, []string{"b", "c"}},
	} {
		t.Run(tc.strategy.String(), func(t *testing.T) {
			f := newFixture(t)
			var rec recorder
			sup := supervisor.New("s", options(tc.strategy, &rec))
			var bStarts atomic.Int32
			must(t, sup.Add(supervisor.ChildSpec{Name: "a", Wasm: f.forever()}))
			must(t, sup.Add(supervisor.ChildSpec{Name: "b", Spawn: then(1, f.trap(), f.forever(), &bStarts)}))
			must(t, sup.Add(supervisor.ChildSpec{Name: "c", Wasm: f.forever()}))
			stop, _ := serve(t, sup)

			// b's failure, then the restarts the strategy calls for.
			rec.wait(t, len(tc.restarted), supervisor.EventRestarted, "")
			barrier(t, sup)
			exited := rec.of(supervisor.EventExited, "")
			if len(exited) == 0 || exited[0].Child != "b" || exited[0].Stopped {
				t.Fatalf("first exit: %+v, want b crashing", exited)
			}
			var trap *runtime.TrapError
			if !errors.As(exited[0].Reason, &trap) || trap.Code != runtime.TrapUnreachableCodeReached {
				t.Errorf("b's reason %v, want an unreachable trap", exited[0].Reason)
			}
			// The siblings taken down with b, in reverse start order.
			var stopped []string
			for _, e := range exited[1:] {
				if !e.Stopped || !errors.Is(e.Reason, runtime.Killed) {
					t.Errorf("sibling exit %+v, want stopped and killed", e)
				}
				stopped = append(stopped, e.Child)
			}
			wantStopped := slices.Clone(tc.restarted)
			wantStopped = slices.DeleteFunc(wantStopped, func(n string) bool { return n == "b" })
			slices.Reverse(wantStopped)
			if !slices.Equal(stopped, wantStopped) {
				t.Errorf("stopped %v, want %v", stopped, wantStopped)
			}
			if got := childNames(rec.of(supervisor.EventRestarted, "")); !slices.Equal(got, tc.restarted) {
				t.Errorf("restarted %v, want %v", got, tc.restarted)
			}
			for _, c := range sup.WhichChildren() {
				want := 0
				if slices.Contains(tc.restarted, c.Name) {
					want = 1
				}
				if c.State != supervisor.Running || c.Restarts != want || c.Process == nil {
					t.Errorf("%s: %v with %d restarts, want running with %d", c.Name, c.State, c.Restarts, want)
				}
			}
			if err := stop(); !errors.Is(err, context.Canceled) {
				t.Errorf("Serve: %v, want context.Canceled", err)
			}
			if n := f.rt.NumProcesses(); n != 0 {
				t.Errorf("%d processes left after Serve", n)
			}
		})
	}
}

// The same strategies over Go services, with the failure a returned error,
// and a crash injected later, by killing a running Wasm child from outside.
func TestStrategiesServicesAndKill(t *testing.T) {
	for _, tc := range []struct {
		strategy supervisor.Strategy
		moved    []string // children with a new instance after b's crash
	}{
		{supervisor.OneForOne, []string{"b"}},
		{supervisor.OneForAll, []string{"a", "b", "c"}},
		{supervisor.RestForOne, []string{"b", "c"}},
	} {
		t.Run(tc.strategy.String(), func(t *testing.T) {
			f := newFixture(t)
			var rec recorder
			sup := supervisor.New("s", options(tc.strategy, &rec))
			a, c := &failing{}, &failing{}
			b := &failing{n: 1}
			must(t, sup.Add(supervisor.ChildSpec{Name: "a", Service: a}))
			must(t, sup.Add(supervisor.ChildSpec{Name: "b", Service: b}))
			must(t, sup.Add(supervisor.ChildSpec{Name: "c", Service: c}))
			must(t, sup.Add(supervisor.ChildSpec{Name: "w", Wasm: f.forever()}))
			stop, _ := serve(t, sup)

			rec.wait(t, 1, supervisor.EventRestarted, "b")
			barrier(t, sup)
			ex := rec.of(supervisor.EventExited, "b")[0]
			var se *supervisor.ServiceError
			if !errors.As(ex.Reason, &se) || !errors.Is(ex.Reason, errInjected) {
				t.Errorf("b's reason %v, want a ServiceError wrapping the injected error", ex.Reason)
			}
			for name, svc := range map[string]*failing{"a": a, "b": b, "c": c} {
				want := int32(1)
				if slices.Contains(tc.moved, name) {
					want = 2
				}
				waitUntil(t, func() bool { return svc.calls.Load() == want }, "%s served %d times", name, want)
			}

			// Now kill the Wasm child from outside: Killed is abnormal.
			before := len(rec.of(supervisor.EventRestarted, ""))
			wBefore := len(rec.of(supervisor.EventRestarted, "w"))
			old := child(t, sup, "w").Process
			old.Kill()
			rec.wait(t, wBefore+1, supervisor.EventRestarted, "w")
			barrier(t, sup)
			if p := child(t, sup, "w").Process; p == nil || p.ID() == old.ID() {
				t.Errorf("w not running as a new process: %v", p)
			}
			// w is last: only one_for_all restarts the others with it.
			want := 1
			if tc.strategy == supervisor.OneForAll {
				want = 4
			}
			if n := len(rec.of(supervisor.EventRestarted, "")); n != before+want {
				t.Errorf("%d restarts after killing w, want %d", n-before, want)
			}
			must(t, ignoreCanceled(stop()))
		})
	}
}

// Restart types: what happens after a normal end and after an abnormal
// one (an exit code, a trap, an error, a panic).
func TestRestartTypes(t *testing.T) {
	type outcome struct {
		name   string
		normal bool
		spec   func(f *fixture, starts *atomic.Int32) supervisor.ChildSpec
	}
	wasmOnce := func(w func(*fixture) *supervisor.Wasm) func(*fixture, *atomic.Int32) supervisor.ChildSpec {
		return func(f *fixture, starts *atomic.Int32) supervisor.ChildSpec {
			return supervisor.ChildSpec{Spawn: then(1, w(f), f.forever(), starts)}
		}
	}
	serviceOnce := func(fail func() error) func(*fixture, *atomic.Int32) supervisor.ChildSpec {
		return func(f *fixture, starts *atomic.Int32) supervisor.ChildSpec {
			return supervisor.ChildSpec{Service: supervisor.ServiceFunc(func(ctx context.Context) error {
				if starts.Add(1) == 1 {
					return fail()
				}
				<-ctx.Done()
				return nil
			})}
		}
	}
	outcomes := []outcome{
		{"wasm-returns", true, wasmOnce((*fixture).normal)},
		{"wasm-exit-1", false, wasmOnce((*fixture).exit1)},
		{"wasm-trap", false, wasmOnce((*fixture).trap)},
		{"service-nil", true, serviceOnce(func() error { return nil })},
		{"service-error", false, serviceOnce(func() error { return errInjected })},
		{"service-panic", false, serviceOnce(func() error { panic("injected panic") })},
	}
	for _, restart := range []supervisor.Restart{supervisor.Permanent, supervisor.Transient, supervisor.Temporary} {
		for _, o := range outcomes {
			t.Run(restart.String()+"/"+o.name, func(t *testing.T) {
				f := newFixture(t)
				var rec recorder
				sup := supervisor.New("s", options(supervisor.OneForOne, &rec))
				var starts atomic.Int32
				spec := o.spec(f, &starts)
				spec.Name, spec.Restart = "x", restart
				must(t, sup.Add(spec))
				must(t, sup.Add(supervisor.ChildSpec{Name: "other", Wasm: f.forever()}))
				serve(t, sup)

				ex := rec.wait(t, 1, supervisor.EventExited, "x")[0]
				if ex.Reason.Normal() != o.normal {
					t.Fatalf("reason %v: normal %v, want %v", ex.Reason, ex.Reason.Normal(), o.normal)
				}
				barrier(t, sup)
				wantRestart := restart == supervisor.Permanent || restart == supervisor.Transient && !o.normal
				if wantRestart {
					rec.wait(t, 1, supervisor.EventRestarted, "x")
					if c := child(t, sup, "x"); c.State != supervisor.Running || c.Restarts != 1 {
						t.Errorf("x: %v, %d restarts; want running, 1", c.State, c.Restarts)
					}
					return
				}
				// Not restarted: the decision was made when the exit was
				// handled, before the barrier.
				cs := sup.WhichChildren()
				switch restart {
				case supervisor.Temporary:
					if !slices.Equal(names(cs), []string{"other"}) {
						t.Errorf("children %v, want the temporary child removed", names(cs))
					}
				case supervisor.Transient:
					c := child(t, sup, "x")
					if c.State != supervisor.Stopped || c.Reason == nil || !c.Reason.Normal() {
						t.Errorf("x: %v (%v), want stopped after a normal end", c.State, c.Reason)
					}
				}
				if n := starts.Load(); n != 1 {
					t.Errorf("%d starts, want 1", n)
				}
				if ev := rec.of(supervisor.EventRestarted, ""); len(ev) != 0 {
					t.Errorf("restarts: %+v", ev)
				}
			})
		}
	}
}

// OneForAll and RestForOne leave temporary siblings dead, restart the
// others, and do not restart children that were stopped on purpose.
func TestGroupRestartSkipsTemporaryAndStopped(t *testing.T) {
	f := newFixture(t)
	var rec recorder
	sup := supervisor.New("s", options(supervisor.OneForAll, &rec))
	var starts atomic.Int32
	must(t, sup.Add(supervisor.ChildSpec{Name: "temp", Wasm: f.forever(), Restart: supervisor.Temporary}))
	must(t, sup.Add(supervisor.ChildSpec{Name: "off", Wasm: f.forever()}))
	must(t, sup.Add(supervisor.ChildSpec{Name: "perm", Wasm: f.forever()}))
	must(t, sup.Add(supervisor.ChildSpec{Name: "crash", Spawn: then(0, nil, f.forever(), &starts)}))
	serve(t, sup)
	rec.wait(t, 4, supervisor.EventStarted, "")
	ctx := testCtx(t)
	must(t, sup.TerminateChild(ctx, "off"))

	child(t, sup, "crash").Process.Kill()
	rec.wait(t, 1, supervisor.EventRestarted, "crash")
	barrier(t, sup)
	if got := childNames(rec.of(supervisor.EventRestarted, "")); !slices.Equal(got, []string{"perm", "crash"}) {
		t.Errorf("restarted %v, want [perm crash]", got)
	}
	if got := names(sup.WhichChildren()); !slices.Equal(got, []string{"off", "perm", "crash"}) {
		t.Errorf("children %v, want temp gone", got)
	}
	if c := child(t, sup, "off"); c.State != supervisor.Stopped {
		t.Errorf("off: %v, want stopped", c.State)
	}
}

// Dynamic children from one template: started with arguments, restarted
// with the same ones, removed when they end for good or are terminated.
func TestSimpleOneForOne(t *testing.T) {
	f := newFixture(t)
	var rec recorder
	sup := supervisor.New("pool", options(supervisor.SimpleOneForOne, &rec))
	must(t, sup.Add(supervisor.ChildSpec{
		Name:    "w",
		Wasm:    &supervisor.Wasm{Env: f.env, Module: f.procs, Entry: "sleep"}, // sleep(ms), then return
		Restart: supervisor.Transient,
	}))
	if cs := sup.WhichChildren(); len(cs) != 0 {
		t.Errorf("before Serve: %v, want no children (the template is not one)", names(cs))
	}
	serve(t, sup)
	ctx := testCtx(t)
	waitUntil(t, func() bool { _, err := sup.StartDynamic(ctx, runtime.I64(1<<40)); return err == nil }, "the first dynamic start")

	w2, err := sup.StartDynamic(ctx, runtime.I64(1<<40))
	must(t, err)
	if w2.Name != "w-2" || w2.State != supervisor.Running || !w2.Dynamic || w2.Process == nil {
		t.Errorf("second child %+v", w2)
	}
	short, err := sup.StartDynamic(ctx, runtime.I64(0)) // returns at once: normal, not restarted
	must(t, err)
	rec.wait(t, 1, supervisor.EventExited, short.Name)
	barrier(t, sup)
	if got := names(sup.WhichChildren()); !slices.Equal(got, []string{"w-1", "w-2"}) {
		t.Errorf("children %v, want [w-1 w-2]", got)
	}

	// A crash restarts the child with the same arguments: it sleeps again.
	w2.Process.Kill()
	rec.wait(t, 1, supervisor.EventRestarted, "w-2")
	barrier(t, sup)
	if c := child(t, sup, "w-2"); c.State != supervisor.Running || c.Process.ID() == w2.Process.ID() {
		t.Errorf("w-2 after its crash: %+v", c)
	}

	must(t, sup.TerminateChild(ctx, "w-1"))
	if got := names(sup.WhichChildren()); !slices.Equal(got, []string{"w-2"}) {
		t.Errorf("children %v after terminating w-1", got)
	}

	// Arguments that do not fit the template's entry: a start error.
	_, err = sup.StartDynamic(ctx, runtime.I32(1))
	var se *supervisor.StartError
	if !errors.As(err, &se) || !errors.Is(err, runtime.ErrBadParams) {
		t.Errorf("StartDynamic with bad params: %v", err)
	}
	if _, err := sup.StartChild(ctx, supervisor.ChildSpec{Name: "x", Wasm: f.forever()}); !errors.Is(err, supervisor.ErrStrategy) {
		t.Errorf("StartChild on simple_one_for_one: %v", err)
	}
	if err := sup.Add(supervisor.ChildSpec{Name: "y", Wasm: f.forever()}); !errors.Is(err, supervisor.ErrRunning) {
		t.Errorf("Add while running: %v", err)
	}
}

// Start order and stop order, for services (which log both themselves)
// and Wasm processes (through the events).
func TestStartInOrderStopInReverse(t *testing.T) {
	f := newFixture(t)
	var mu sync.Mutex
	var log []string
	record := func(s string) {
		mu.Lock()
		log = append(log, s)
		mu.Unlock()
	}
	svc := func(name string) supervisor.Service {
		return supervisor.ServiceFunc(func(ctx context.Context) error {
			record("start " + name)
			<-ctx.Done()
			record("stop " + name)
			return nil
		})
	}
	var rec recorder
	sup := supervisor.New("s", options(supervisor.OneForOne, &rec))
	for _, n := range []string{"s1", "w1", "s2", "w2", "s3"} {
		if n[0] == 's' {
			must(t, sup.Add(supervisor.ChildSpec{Name: n, Service: svc(n)}))
		} else {
			must(t, sup.Add(supervisor.ChildSpec{Name: n, Wasm: f.forever()}))
		}
	}
	stop, _ := serve(t, sup)
	rec.wait(t, 5, supervisor.EventStarted, "")
	waitUntil(t, func() bool { mu.Lock(); defer mu.Unlock(); return len(log) == 3 }, "services to start")
	must(t, ignoreCanceled(stop()))

	if got := childNames(rec.of(supervisor.EventStarted, "")); !slices.Equal(got, []string{"s1", "w1", "s2", "w2", "s3"}) {
		t.Errorf("started %v", got)
	}
	if got := childNames(rec.of(supervisor.EventExited, "")); !slices.Equal(got, []string{"s3", "w2", "s2", "w1", "s1"}) {
		t.Errorf("stopped %v", got)
	}
	// Serve is called in order, but each on its own goroutine, so nothing
	// orders the services' first statements; stops are waited for one by
	// one.
	if want := []string{"stop s3", "stop s2", "stop s1"}; !slices.Equal(log[3:], want) {
		t.Errorf("services saw %v, want their stops in the order %v", log, want)
	}
	for _, e := range rec.of(supervisor.EventExited, "") {
		if !e.Stopped {
			t.Errorf("%s: exit not marked as a stop", e.Child)
		}
	}
}

func childNames(es []supervisor.Event) []string {
	out := make([]string, len(es))
	for i, e := range es {
		out[i] = e.Child
	}
	return out
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func ignoreCanceled(err error) error {
	if errors.Is(err, context.Canceled) {
		return nil
	}
	return err
}
