package supervisor_test

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wardrt/ward/runtime"
	"github.com/wardrt/ward/supervisor"
)

// A child that always traps: after Intensity restarts within Period the
// supervisor stops everything and gives up with an error that says so.
func TestIntensityExceeded(t *testing.T) {
	f := newFixture(t)
	var rec recorder
	opts := options(supervisor.OneForOne, &rec)
	opts.Intensity, opts.Period, opts.Backoff = 3, time.Minute, supervisor.NoBackoff
	sup := supervisor.New("crashy", opts)
	must(t, sup.Add(supervisor.ChildSpec{Name: "bystander", Wasm: f.forever()}))
	must(t, sup.Add(supervisor.ChildSpec{Name: "crasher", Wasm: f.trap()}))

	err := serveUntilError(t, sup)
	if !errors.Is(err, supervisor.ErrIntensity) {
		t.Fatalf("Serve: %v, want ErrIntensity", err)
	}
	var ie *supervisor.IntensityError
	if !errors.As(err, &ie) || ie.Supervisor != "crashy" || ie.Child != "crasher" || ie.Intensity != 3 || ie.Period != time.Minute {
		t.Errorf("IntensityError %+v", ie)
	}
	var trap *runtime.TrapError
	if !errors.As(err, &trap) || trap.Entry != "unreachable" {
		t.Errorf("the error does not lead to the crasher's trap: %v", err)
	}
	for _, s := range []string{"crashy", "restart intensity exceeded", "3 restarts in 1m0s", "crasher"} {
		if !strings.Contains(err.Error(), s) {
			t.Errorf("error %q does not say %q", err, s)
		}
	}
	if n := len(rec.of(supervisor.EventRestarted, "crasher")); n != 3 {
		t.Errorf("%d restarts, want 3", n)
	}
	if ev := rec.of(supervisor.EventGaveUp, ""); len(ev) != 1 || !errors.Is(ev[0].Err, supervisor.ErrIntensity) {
		t.Errorf("gave-up events %+v", ev)
	}
	// The bystander was stopped before Serve returned.
	if ex := rec.of(supervisor.EventExited, "bystander"); len(ex) != 1 || !ex[0].Stopped {
		t.Errorf("bystander exits %+v", ex)
	}
	if n := f.rt.NumProcesses(); n != 0 {
		t.Errorf("%d processes left", n)
	}
}

// The defaults: 5 restarts in 5 s, with the default backoff between them.
func TestIntensityDefaults(t *testing.T) {
	f := newFixture(t)
	var rec recorder
	sup := supervisor.New("s", options(supervisor.OneForOne, &rec))
	must(t, sup.Add(supervisor.ChildSpec{Name: "exit1", Wasm: f.exit1()}))
	err := serveUntilError(t, sup)
	var ie *supervisor.IntensityError
	if !errors.As(err, &ie) || ie.Intensity != 5 || ie.Period != 5*time.Second {
		t.Fatalf("Serve: %v, want an IntensityError with the defaults", err)
	}
	var ee *runtime.ExitError
	if !errors.As(err, &ee) || ee.Code != 1 {
		t.Errorf("the error does not lead to the exit code: %v", err)
	}
	restarts := rec.of(supervisor.EventRestarted, "exit1")
	if len(restarts) != 5 {
		t.Fatalf("%d restarts, want 5", len(restarts))
	}
	// The backoff each restart waited: 10 ms doubling, less up to half.
	for i, e := range restarts {
		hi := 10 * time.Millisecond << i
		if e.Delay < hi/2 || e.Delay > hi || e.Restarts != i+1 {
			t.Errorf("restart %d: delay %v (want in [%v, %v]), restarts %d", i+1, e.Delay, hi/2, hi, e.Restarts)
		}
	}
}

// A negative intensity allows no restart: the first failure ends it.
func TestNoRestartsAllowed(t *testing.T) {
	f := newFixture(t)
	var rec recorder
	opts := options(supervisor.OneForAll, &rec)
	opts.Intensity = -1
	sup := supervisor.New("strict", opts)
	var starts atomic.Int32
	must(t, sup.Add(supervisor.ChildSpec{Name: "once", Spawn: then(1, f.trap(), f.forever(), &starts)}))
	if err := serveUntilError(t, sup); !errors.Is(err, supervisor.ErrIntensity) {
		t.Fatalf("Serve: %v", err)
	}
	if n := starts.Load(); n != 1 {
		t.Errorf("%d starts, want 1", n)
	}
}

// Restarts older than Period do not count: a child failing slower than the
// limit is restarted for ever.
func TestIntensityWindowSlides(t *testing.T) {
	f := newFixture(t)
	var rec recorder
	opts := options(supervisor.OneForOne, &rec)
	opts.Intensity, opts.Period, opts.Backoff = 1, 20*time.Millisecond, supervisor.Backoff{Min: 30 * time.Millisecond, Jitter: -1}
	sup := supervisor.New("s", opts)
	must(t, sup.Add(supervisor.ChildSpec{Name: "c", Wasm: f.exit1()}))
	stop, _ := serve(t, sup)
	// Each restart waits 30 ms, so the previous one has left the 20 ms
	// window when the next failure comes.
	rec.wait(t, 4, supervisor.EventRestarted, "c")
	must(t, ignoreCanceled(stop()))
	if ev := rec.of(supervisor.EventGaveUp, ""); len(ev) != 0 {
		t.Errorf("gave up: %v", ev[0].Err)
	}
}

// A child waiting out its backoff can be terminated: it is not restarted.
func TestTerminateDuringBackoff(t *testing.T) {
	f := newFixture(t)
	var rec recorder
	opts := options(supervisor.OneForOne, &rec)
	opts.Backoff = supervisor.Backoff{Min: time.Hour}
	sup := supervisor.New("s", opts)
	must(t, sup.Add(supervisor.ChildSpec{Name: "c", Wasm: f.exit1()}))
	serve(t, sup)
	rec.wait(t, 1, supervisor.EventExited, "c")
	barrier(t, sup)
	if c := child(t, sup, "c"); c.State != supervisor.Restarting {
		t.Fatalf("c: %v, want restarting", c.State)
	}
	must(t, sup.TerminateChild(testCtx(t), "c"))
	if c := child(t, sup, "c"); c.State != supervisor.Stopped {
		t.Errorf("c: %v, want stopped", c.State)
	}
	// And RestartChild starts it again.
	info, err := sup.RestartChild(testCtx(t), "c")
	if err != nil || info.State != supervisor.Running {
		t.Errorf("RestartChild: %+v, %v", info, err)
	}
}

// A restart that fails to start counts as a failure: here the OnStart
// hook refuses every process after the first.
func TestFailedRestartCounts(t *testing.T) {
	f := newFixture(t)
	var rec recorder
	opts := options(supervisor.OneForOne, &rec)
	opts.Intensity, opts.Period, opts.Backoff = 3, time.Minute, supervisor.NoBackoff
	sup := supervisor.New("s", opts)
	var starts atomic.Int32
	must(t, sup.Add(supervisor.ChildSpec{Name: "c", Spawn: then(1, f.exit1(), f.forever(), &starts),
		OnStart: func(ctx context.Context, p *runtime.Process) error {
			if starts.Load() > 1 {
				return errInjected
			}
			return nil
		}}))
	err := serveUntilError(t, sup)
	if !errors.Is(err, supervisor.ErrIntensity) || !errors.Is(err, errInjected) {
		t.Fatalf("Serve: %v, want ErrIntensity after the hook's errors", err)
	}
	if n := len(rec.of(supervisor.EventStartFailed, "c")); n != 3 {
		t.Errorf("%d failed starts, want 3", n)
	}
	if n := f.rt.NumProcesses(); n != 0 {
		t.Errorf("%d processes left: the hook's failures were not killed", n)
	}
}
