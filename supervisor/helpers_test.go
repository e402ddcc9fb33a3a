package supervisor_test

import (
	"context"
	"errors"
	"flag"
	"io"
	"log/slog"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wardrt/ward/runtime"
	"github.com/wardrt/ward/supervisor"
	"github.com/wardrt/ward/testdata"
)

var soak = flag.Bool("supervisor.soak", false, "run the soak test: 10,000 restarts, then check for leaks")

// hang bounds every wait in these tests: generous, only there so that a
// bug fails a test instead of hanging it.
const hang = 20 * time.Second

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// fixture is a runtime with the testdata modules loaded, closed when the
// test ends.
type fixture struct {
	rt                          *runtime.Runtime
	env                         *runtime.Environment
	procs, traps, trivial, spin *runtime.Module
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	rt, err := runtime.New(runtime.WithLogger(quiet()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), hang)
		defer cancel()
		if err := rt.Close(ctx); err != nil {
			t.Errorf("closing the runtime: %v", err)
		}
	})
	f := &fixture{rt: rt, env: rt.Environment()}
	ctx := testCtx(t)
	for _, m := range []struct {
		to   **runtime.Module
		name string
		b    []byte
	}{{&f.procs, "procs", testdata.Procs}, {&f.traps, "traps", testdata.Traps}, {&f.trivial, "trivial", testdata.Trivial}, {&f.spin, "spin", testdata.Spin}} {
		if *m.to, err = rt.LoadModule(ctx, m.name, m.b); err != nil {
			t.Fatal(err)
		}
	}
	return f
}

// forever is a Wasm child that sleeps until killed.
func (f *fixture) forever() *supervisor.Wasm {
	return &supervisor.Wasm{Env: f.env, Module: f.procs, Entry: "sleep_forever"}
}

// trap is a Wasm child that traps at once (unreachable).
func (f *fixture) trap() *supervisor.Wasm {
	return &supervisor.Wasm{Env: f.env, Module: f.traps, Entry: "unreachable"}
}

// exit1 is a Wasm child that exits at once with code 1.
func (f *fixture) exit1() *supervisor.Wasm {
	return &supervisor.Wasm{Env: f.env, Module: f.procs, Entry: "exit_with", Params: []runtime.Value{runtime.I32(1)}}
}

// normal is a Wasm child that returns at once.
func (f *fixture) normal() *supervisor.Wasm {
	return &supervisor.Wasm{Env: f.env, Module: f.trivial, Entry: "run"}
}

// then is failure injection: a Spawn function that starts first for the
// first n starts, and forever after. starts counts them.
func then(n int32, first, after *supervisor.Wasm, starts *atomic.Int32) func(context.Context, []runtime.Value) (*runtime.Process, error) {
	return func(ctx context.Context, args []runtime.Value) (*runtime.Process, error) {
		w := after
		if starts.Add(1) <= n {
			w = first
		}
		return w.Env.Spawn(ctx, w.Module, w.Entry, append(append([]runtime.Value(nil), w.Params...), args...)...)
	}
}

func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), hang)
	t.Cleanup(cancel)
	return ctx
}

// recorder keeps a supervisor's events.
type recorder struct {
	mu     sync.Mutex
	events []supervisor.Event
}

func (r *recorder) on(e supervisor.Event) {
	r.mu.Lock()
	r.events = append(r.events, e)
	r.mu.Unlock()
}

func (r *recorder) all() []supervisor.Event {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]supervisor.Event(nil), r.events...)
}

// of returns the events of that kind (for that child, unless child is "").
func (r *recorder) of(kind supervisor.EventKind, child string) []supervisor.Event {
	var out []supervisor.Event
	for _, e := range r.all() {
		if e.Kind == kind && (child == "" || e.Child == child) {
			out = append(out, e)
		}
	}
	return out
}

// wait waits until there are at least n events of that kind and child.
func (r *recorder) wait(t *testing.T, n int, kind supervisor.EventKind, child string) []supervisor.Event {
	t.Helper()
	var got []supervisor.Event
	waitUntil(t, func() bool { got = r.of(kind, child); return len(got) >= n }, "%d %v events for %q", n, kind, child)
	return got
}

func waitUntil(t *testing.T, cond func() bool, format string, args ...any) {
	t.Helper()
	deadline := time.Now().Add(hang)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for "+format, args...)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// options returns Options recording events in r, logging nowhere.
func options(s supervisor.Strategy, r *recorder) supervisor.Options {
	return supervisor.Options{Strategy: s, Logger: quiet(), OnEvent: r.on}
}

// serve runs sup.Serve on a goroutine until the test ends (or stop is
// called) and returns stop, which cancels it and returns Serve's error,
// and wait, which waits for Serve to return by itself.
func serve(t *testing.T, sup *supervisor.Supervisor) (stop func() error, wait func() error) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	var err error
	go func() {
		err = sup.Serve(ctx)
		close(done)
	}()
	wait = func() error {
		select {
		case <-done:
			return err
		case <-time.After(hang):
			t.Fatal("Serve did not return")
			return nil
		}
	}
	stop = func() error {
		cancel()
		return wait()
	}
	t.Cleanup(func() { _ = stop() })
	return stop, wait
}

// serveUntilError runs Serve, which the test expects to end by itself, and
// returns its error.
func serveUntilError(t *testing.T, sup *supervisor.Supervisor) error {
	t.Helper()
	_, wait := serve(t, sup)
	return wait()
}

// child returns the named child's info.
func child(t *testing.T, sup *supervisor.Supervisor, name string) supervisor.ChildInfo {
	t.Helper()
	for _, c := range sup.WhichChildren() {
		if c.Name == name {
			return c
		}
	}
	t.Fatalf("no child %q in %v", name, names(sup.WhichChildren()))
	return supervisor.ChildInfo{}
}

func names(cs []supervisor.ChildInfo) []string {
	out := make([]string, len(cs))
	for i, c := range cs {
		out[i] = c.Name
	}
	return out
}

// pid returns the named child's process id, 0 if it has none.
func pid(t *testing.T, sup *supervisor.Supervisor, name string) runtime.ProcessID {
	t.Helper()
	if p := child(t, sup, name).Process; p != nil {
		return p.ID()
	}
	return 0
}

// barrier returns once the supervisor has handled everything it received
// before: a request goes through its goroutine after the event in hand.
func barrier(t *testing.T, sup *supervisor.Supervisor) {
	t.Helper()
	err := sup.TerminateChild(testCtx(t), "\x00barrier")
	if !errors.Is(err, supervisor.ErrNoChild) {
		t.Fatalf("barrier: %v", err)
	}
}

// failing is a Service that fails (returns an error) its first n calls,
// then runs until cancelled.
type failing struct {
	n     int32
	calls atomic.Int32
}

var errInjected = errors.New("injected failure")

func (f *failing) Serve(ctx context.Context) error {
	if f.calls.Add(1) <= f.n {
		return errInjected
	}
	<-ctx.Done()
	return ctx.Err()
}
