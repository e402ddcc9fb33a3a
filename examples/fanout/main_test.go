package main

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/wardrt/ward/environment"
	"github.com/wardrt/ward/runtime"
)

func TestFanout(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var out bytes.Buffer
	if err := run(ctx, &out); err != nil {
		t.Fatal(err)
	}
	want := `async: started slow([10 30 60000]) with a 500ms timeout each
local: fib, fuel limit 100000000 per job, timeout 10s
  fib(10) = 55
  fib(20) = 6765
  fib(30) = 832040
  fib(-1) failed: trapped (unreachable)
  fib(60) failed: out of fuel
  fib(25) = 75025
local: 1000 fib jobs, sum 547250, 0 failed
async: awaited
  slow(10) = 10
  slow(30) = 30
  slow(60000) failed: fanout: job timed out after 500ms
processes alive: 0
`
	if got := out.String(); got != want {
		t.Errorf("output:\n%s\nwant:\n%s", got, want)
	}
}

type fixture struct {
	rt   *runtime.Runtime
	env  *runtime.Environment
	jobs *runtime.Module
}

func newFixture(t *testing.T) fixture {
	t.Helper()
	rt, err := runtime.New(runtime.WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil))))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { rt.Close(context.Background()) })
	jobs, err := rt.LoadModule(context.Background(), "jobs", jobsWasm)
	if err != nil {
		t.Fatal(err)
	}
	env, err := rt.NewEnvironment(environment.Config{MaxFuel: 50_000_000, Namespaces: []string{"ward_message"}})
	if err != nil {
		t.Fatal(err)
	}
	return fixture{rt, env, jobs}
}

func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// Every kind of failure, each reported on its own job, in input order.
func TestMapFailuresPerJob(t *testing.T) {
	f := newFixture(t)
	results := Map(testCtx(t), f.env, f.jobs, "fib", []int64{-5, 1, 70, 2, -1, 12}, Options{Concurrency: 2})
	var trap *runtime.TrapError
	var fuel *runtime.FuelError
	checks := []func(Result) bool{
		func(r Result) bool { return errors.As(r.Err, &trap) && trap.Code == runtime.TrapUnreachableCodeReached },
		func(r Result) bool { return r.Err == nil && r.Value == 1 },
		func(r Result) bool { return errors.As(r.Err, &fuel) && fuel.Limit == 50_000_000 },
		func(r Result) bool { return r.Err == nil && r.Value == 1 },
		func(r Result) bool { return errors.As(r.Err, &trap) },
		func(r Result) bool { return r.Err == nil && r.Value == 144 },
	}
	for i, r := range results {
		if r.Input != []int64{-5, 1, 70, 2, -1, 12}[i] || !checks[i](r) {
			t.Errorf("result %d: %+v", i, r)
		}
	}
	if n := f.rt.NumProcesses(); n != 0 {
		t.Errorf("%d processes alive after Map", n)
	}
}

func TestTimeouts(t *testing.T) {
	f := newFixture(t)
	start := time.Now()
	results := Map(testCtx(t), f.env, f.jobs, "slow", []int64{5, 60_000, 20, 60_000}, Options{Timeout: 200 * time.Millisecond, Concurrency: 4})
	if el := time.Since(start); el > 10*time.Second {
		t.Errorf("Map took %v with a 200ms timeout per job", el)
	}
	for i, want := range []int64{5, -1, 20, -1} {
		r := results[i]
		if want < 0 && !errors.Is(r.Err, ErrTimeout) || want >= 0 && (r.Err != nil || r.Value != want) {
			t.Errorf("result %d: %+v", i, r)
		}
	}
}

// Jobs that cannot be spawned, and jobs that return without a result.
func TestSpawnErrorsAndNoResult(t *testing.T) {
	f := newFixture(t)
	ctx := testCtx(t)
	other, err := f.rt.LoadModule(ctx, "other", []byte(`(module
		(func (export "nothing") (param i64 i64))
		(func (export "one_param") (param i64)))`))
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range Map(ctx, f.env, other, "nothing", []int64{1, 2}, Options{}) {
		if !errors.Is(r.Err, ErrNoResult) {
			t.Errorf("nothing: %+v", r)
		}
	}
	for _, r := range Map(ctx, f.env, other, "one_param", []int64{1}, Options{}) {
		if !errors.Is(r.Err, runtime.ErrBadParams) {
			t.Errorf("one_param: %+v", r)
		}
	}
	sealed, err := f.rt.NewEnvironment(environment.Config{Namespaces: []string{}})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range Map(ctx, sealed, f.jobs, "fib", []int64{1, 2, 3}, Options{}) {
		if !errors.Is(r.Err, environment.ErrNamespaceDenied) {
			t.Errorf("sealed: %+v", r)
		}
	}
}

func TestConcurrencyBound(t *testing.T) {
	f := newFixture(t)
	ctx := testCtx(t)
	most := 0
	batch := Start(ctx, f.env, f.jobs, "slow", []int64{30, 30, 30, 30, 30, 30, 30, 30}, Options{Concurrency: 3})
	for {
		// The collector is a process of the environment too.
		most = max(most, f.env.NumProcesses()-1)
		select {
		case <-batch.Done():
		case <-time.After(time.Millisecond):
			continue
		}
		break
	}
	results, err := batch.Await(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range results {
		if r.Err != nil || r.Value != 30 {
			t.Errorf("%+v", r)
		}
	}
	if most > 3 || most < 1 {
		t.Errorf("at most %d jobs were alive at once, want 1-3", most)
	}
}

// Await gives up with its ctx; the batch runs on. Ending Start's ctx
// kills the jobs still running, which report its error.
func TestAwaitAndCancel(t *testing.T) {
	f := newFixture(t)
	ctx := testCtx(t)
	batch := Start(ctx, f.env, f.jobs, "slow", []int64{100}, Options{})
	short, cancel := context.WithTimeout(ctx, 5*time.Millisecond)
	defer cancel()
	if _, err := batch.Await(short); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Await with a short ctx = %v", err)
	}
	results, err := batch.Await(ctx)
	if err != nil || results[0].Err != nil || results[0].Value != 100 {
		t.Fatalf("Await = %+v, %v", results, err)
	}

	batchCtx, stop := context.WithCancel(ctx)
	batch = Start(batchCtx, f.env, f.jobs, "slow", []int64{60_000, 60_000, 60_000, 60_000}, Options{Concurrency: 2})
	time.Sleep(20 * time.Millisecond)
	stop()
	results, err = batch.Await(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range results {
		if !errors.Is(r.Err, context.Canceled) {
			t.Errorf("%+v, want context.Canceled", r)
		}
	}
	if n := f.rt.NumProcesses(); n != 0 {
		t.Errorf("%d processes alive after the batch was cancelled", n)
	}

	// A batch started with a context already ended starts nothing.
	results = Map(batchCtx, f.env, f.jobs, "fib", []int64{1, 2}, Options{})
	for _, r := range results {
		if !errors.Is(r.Err, context.Canceled) {
			t.Errorf("%+v, want context.Canceled", r)
		}
	}
}
