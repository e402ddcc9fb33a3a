package supervisor_test

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wardrt/ward/runtime"
	"github.com/wardrt/ward/supervisor"
)

// A Wasm child stuck in sleep_forever ignores the message its Stop sends:
// after Shutdown it is killed, whether stopped by TerminateChild or by the
// supervisor's own shutdown.
func TestSlowShutdownEscalatedToKill(t *testing.T) {
	f := newFixture(t)
	var rec recorder
	sup := supervisor.New("s", options(supervisor.OneForOne, &rec))
	var stops atomic.Int32
	politely := func(ctx context.Context, p *runtime.Process) error {
		stops.Add(1)
		if _, ok := ctx.Deadline(); !ok {
			t.Error("Stop's ctx has no deadline")
		}
		m, _ := runtime.EncodeMessage(1, "please stop")
		return p.Send(ctx, m) // sleep_forever never reads it
	}
	for _, name := range []string{"a", "b"} {
		must(t, sup.Add(supervisor.ChildSpec{Name: name, Wasm: f.forever(), Shutdown: 50 * time.Millisecond, Stop: politely}))
	}
	stop, _ := serve(t, sup)
	rec.wait(t, 2, supervisor.EventStarted, "")

	if err := sup.TerminateChild(testCtx(t), "b"); err != nil {
		t.Fatalf("TerminateChild: %v", err)
	}
	must(t, ignoreCanceled(stop()))
	if n := stops.Load(); n != 2 {
		t.Errorf("Stop called %d times, want 2", n)
	}
	for _, name := range []string{"b", "a"} {
		if k := rec.of(supervisor.EventKilled, name); len(k) != 1 {
			t.Errorf("%s: %d kill events, want 1", name, len(k))
		}
		ex := rec.of(supervisor.EventExited, name)
		if len(ex) != 1 || !ex[0].Stopped || ex[0].Reason != runtime.Killed {
			t.Errorf("%s: exits %+v, want one stop with reason Killed", name, ex)
		}
	}
	if n := f.rt.NumProcesses(); n != 0 {
		t.Errorf("%d processes left", n)
	}
}

// BrutalKill skips Stop; a Stop that works ends the child without a kill.
func TestBrutalKillAndGracefulStop(t *testing.T) {
	f := newFixture(t)
	var rec recorder
	sup := supervisor.New("s", options(supervisor.OneForOne, &rec))
	var brutalStops atomic.Int32
	must(t, sup.Add(supervisor.ChildSpec{
		Name: "brutal", Wasm: f.forever(), Shutdown: supervisor.BrutalKill,
		Stop: func(context.Context, *runtime.Process) error { brutalStops.Add(1); return nil },
	}))
	// A Go-native process that ends normally when told to.
	const tagStop = 9
	must(t, sup.Add(supervisor.ChildSpec{
		Name: "graceful",
		Spawn: func(ctx context.Context, _ []runtime.Value) (*runtime.Process, error) {
			return f.env.SpawnGo(ctx, "graceful", func(ctx context.Context, self *runtime.Self) error {
				_, err := self.Receive(context.Background(), tagStop)
				return err
			})
		},
		Stop: func(ctx context.Context, p *runtime.Process) error {
			return p.Send(ctx, runtime.Message{Tag: tagStop})
		},
		Shutdown: supervisor.Infinity,
	}))
	// A Go-native process with no Stop: Kill cancels its ctx, and it ends.
	must(t, sup.Add(supervisor.ChildSpec{
		Name: "go-ctx",
		Spawn: func(ctx context.Context, _ []runtime.Value) (*runtime.Process, error) {
			return f.env.SpawnGo(ctx, "go-ctx", func(ctx context.Context, self *runtime.Self) error {
				<-ctx.Done()
				return nil
			})
		},
	}))
	stop, _ := serve(t, sup)
	rec.wait(t, 3, supervisor.EventStarted, "")
	must(t, ignoreCanceled(stop()))

	if n := brutalStops.Load(); n != 0 {
		t.Errorf("BrutalKill called Stop %d times", n)
	}
	if k := rec.of(supervisor.EventKilled, ""); len(k) != 0 {
		t.Errorf("kill events %+v, want none", k)
	}
	want := map[string]runtime.Reason{"brutal": runtime.Killed, "graceful": runtime.Normal, "go-ctx": runtime.Killed}
	for name, reason := range want {
		if ex := rec.of(supervisor.EventExited, name); len(ex) != 1 || ex[0].Reason != reason {
			t.Errorf("%s: exits %+v, want reason %v", name, ex, reason)
		}
	}
}

// A Go service that ignores its cancelled ctx cannot be killed: after its
// Shutdown it is reported as not stopping, and left running.
func TestServiceThatWillNotStop(t *testing.T) {
	var rec recorder
	sup := supervisor.New("s", options(supervisor.OneForOne, &rec))
	release := make(chan struct{})
	var running atomic.Int32
	stubborn := supervisor.ServiceFunc(func(ctx context.Context) error {
		running.Add(1)
		defer running.Add(-1)
		<-release // not ctx.Done()
		return nil
	})
	must(t, sup.Add(supervisor.ChildSpec{Name: "one", Service: stubborn, Shutdown: 20 * time.Millisecond}))
	must(t, sup.Add(supervisor.ChildSpec{Name: "two", Service: stubborn, Shutdown: 20 * time.Millisecond}))
	stop, _ := serve(t, sup)
	waitUntil(t, func() bool { return running.Load() == 2 }, "both services to run")

	err := sup.TerminateChild(testCtx(t), "one")
	var se *supervisor.StopError
	if !errors.Is(err, supervisor.ErrNotStopped) || !errors.As(err, &se) || se.Child != "one" || se.Waited != 20*time.Millisecond {
		t.Errorf("TerminateChild: %v, want a StopError", err)
	}
	if c := child(t, sup, "one"); c.State != supervisor.Stopped {
		t.Errorf("one: %v, want stopped (and forgotten)", c.State)
	}
	err = stop()
	if !errors.Is(err, context.Canceled) || !errors.Is(err, supervisor.ErrNotStopped) {
		t.Errorf("Serve: %v, want context.Canceled joined with a StopError", err)
	}
	if ev := rec.of(supervisor.EventAbandoned, ""); len(ev) != 2 {
		t.Errorf("%d abandoned events, want 2", len(ev))
	}
	close(release)
	waitUntil(t, func() bool { return running.Load() == 0 }, "the services to return once released")
}

// A Go-native process that ignores its ctx is the same: Kill cannot end a
// goroutine.
func TestGoProcessThatWillNotStop(t *testing.T) {
	f := newFixture(t)
	var rec recorder
	sup := supervisor.New("s", options(supervisor.OneForOne, &rec))
	release := make(chan struct{})
	must(t, sup.Add(supervisor.ChildSpec{
		Name: "stuck",
		Spawn: func(ctx context.Context, _ []runtime.Value) (*runtime.Process, error) {
			return f.env.SpawnGo(ctx, "stuck", func(context.Context, *runtime.Self) error {
				<-release
				return nil
			})
		},
		Shutdown: 20 * time.Millisecond,
	}))
	stop, _ := serve(t, sup)
	rec.wait(t, 1, supervisor.EventStarted, "stuck")
	p := child(t, sup, "stuck").Process
	if err := stop(); !errors.Is(err, supervisor.ErrNotStopped) {
		t.Errorf("Serve: %v, want ErrNotStopped", err)
	}
	close(release)
	if r, err := p.Wait(testCtx(t)); err != nil || r != runtime.Killed {
		t.Errorf("the process ended with %v, %v; want Killed once released", r, err)
	}
}
