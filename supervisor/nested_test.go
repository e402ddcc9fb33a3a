package supervisor_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/wardrt/ward/runtime"
	"github.com/wardrt/ward/supervisor"
)

// An inner supervisor that gives up fails as a child of its parent, which
// restarts it; when that happens too often, the parent gives up in turn,
// with an error that leads down the tree to the trap that started it.
func TestNestedFailureCountsAgainstParent(t *testing.T) {
	f := newFixture(t)
	var outerRec, innerRec recorder
	inner := supervisor.New("inner", supervisor.Options{Intensity: -1, Logger: quiet(), OnEvent: innerRec.on})
	must(t, inner.Add(supervisor.ChildSpec{Name: "crasher", Wasm: f.trap()}))
	opts := options(supervisor.OneForOne, &outerRec)
	opts.Intensity, opts.Period, opts.Backoff = 2, time.Minute, supervisor.NoBackoff
	outer := supervisor.New("outer", opts)
	must(t, outer.Add(supervisor.ChildSpec{Name: "steady", Wasm: f.forever()}))
	must(t, outer.Add(supervisor.ChildSpec{Name: "inner", Service: inner}))

	err := serveUntilError(t, outer)
	var ie *supervisor.IntensityError
	if !errors.As(err, &ie) || ie.Supervisor != "outer" || ie.Child != "inner" {
		t.Fatalf("Serve: %v, want outer's IntensityError naming inner", err)
	}
	var se *supervisor.ServiceError
	var innerErr *supervisor.IntensityError
	if !errors.As(ie.Reason, &se) || !errors.As(se.Err, &innerErr) || innerErr.Supervisor != "inner" || innerErr.Child != "crasher" {
		t.Errorf("inner's failure: %v", ie.Reason)
	}
	var trap *runtime.TrapError
	if !errors.As(err, &trap) {
		t.Errorf("no trap at the bottom of %v", err)
	}
	if n := len(outerRec.of(supervisor.EventRestarted, "inner")); n != 2 {
		t.Errorf("inner restarted %d times, want 2", n)
	}
	if n := len(innerRec.of(supervisor.EventGaveUp, "")); n != 3 {
		t.Errorf("inner gave up %d times, want 3", n)
	}
	if n := f.rt.NumProcesses(); n != 0 {
		t.Errorf("%d processes left", n)
	}
}

// A failure the inner supervisor handles does not reach the parent; and
// stopping the parent stops the inner tree, in reverse order.
func TestNestedFailureContained(t *testing.T) {
	f := newFixture(t)
	var outerRec, innerRec recorder
	inner := supervisor.New("inner", supervisor.Options{Logger: quiet(), OnEvent: innerRec.on})
	must(t, inner.Add(supervisor.ChildSpec{Name: "worker", Wasm: f.forever()}))
	outer := supervisor.New("outer", options(supervisor.OneForAll, &outerRec))
	must(t, outer.Add(supervisor.ChildSpec{Name: "first", Wasm: f.forever()}))
	must(t, outer.Add(supervisor.ChildSpec{Name: "inner", Service: inner}))
	must(t, outer.Add(supervisor.ChildSpec{Name: "last", Wasm: f.forever()}))
	stop, _ := serve(t, outer)
	innerRec.wait(t, 1, supervisor.EventStarted, "worker")

	child(t, inner, "worker").Process.Kill()
	innerRec.wait(t, 1, supervisor.EventRestarted, "worker")
	barrier(t, outer)
	if ev := outerRec.of(supervisor.EventRestarted, ""); len(ev) != 0 {
		t.Errorf("outer restarted %v", childNames(ev))
	}
	must(t, ignoreCanceled(stop()))
	if got := childNames(outerRec.of(supervisor.EventExited, "")); len(got) != 3 || got[0] != "last" || got[1] != "inner" || got[2] != "first" {
		t.Errorf("outer stopped %v, want [last inner first]", got)
	}
	if ex := innerRec.of(supervisor.EventExited, "worker"); len(ex) != 2 || !ex[1].Stopped {
		t.Errorf("worker exits %+v: want the crash, then a stop", ex)
	}
	// Stopping a nested supervisor waits for its tree (Infinity shutdown).
	if n := f.rt.NumProcesses(); n != 0 {
		t.Errorf("%d processes left", n)
	}
}

// A supervisor can also be a process child of another: SpawnProcess as
// the Spawn function. Its giving up is its process's abnormal end.
func TestNestedAsProcess(t *testing.T) {
	f := newFixture(t)
	var outerRec recorder
	inner := supervisor.New("inner", supervisor.Options{Intensity: -1, Logger: quiet()})
	must(t, inner.Add(supervisor.ChildSpec{Name: "crasher", Wasm: f.trap()}))
	opts := options(supervisor.OneForOne, &outerRec)
	opts.Intensity, opts.Backoff = 1, supervisor.NoBackoff
	outer := supervisor.New("outer", opts)
	must(t, outer.Add(supervisor.ChildSpec{
		Name: "inner",
		Spawn: func(ctx context.Context, _ []runtime.Value) (*runtime.Process, error) {
			return inner.SpawnProcess(ctx, f.env)
		},
	}))
	err := serveUntilError(t, outer)
	var ge *runtime.GoError
	if !errors.Is(err, supervisor.ErrIntensity) || !errors.As(err, &ge) {
		t.Fatalf("Serve: %v", err)
	}
	var innerErr *supervisor.IntensityError
	if !errors.As(ge, &innerErr) || innerErr.Supervisor != "inner" {
		t.Errorf("the process's reason %v, want inner's IntensityError", ge)
	}
	if n := f.rt.NumProcesses(); n != 0 {
		t.Errorf("%d processes left", n)
	}
}
