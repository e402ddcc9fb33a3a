package runtime

import (
	"context"
	"sync"
	"testing"

	"github.com/wardrt/ward/hostapi"
)

type traceKey struct{}

// traceModule's seen() records the trace value its caller's context
// carries, keyed by the caller's id.
func traceModule(seen *sync.Map) hostapi.Module {
	return hostapi.Module{
		Namespace: "trace",
		Funcs: []hostapi.Func{{Name: "seen", Handler: func(ctx context.Context, c *hostapi.Call) error {
			v, _ := ctx.Value(traceKey{}).(string)
			seen.Store(c.Process().ID(), v)
			return nil
		}}},
	}
}

// traceGuest's main calls seen() and exits; parent spawns main, waits for
// it to end by monitor, then calls seen() itself.
const traceGuest = `(module
  (import "trace" "seen" (func $seen))
  (import "ward_process" "spawn" (func $spawn (param i32 i32 i32 i32 i32) (result i32)))
  (import "ward_process" "monitor" (func $monitor (param i64) (result i64)))
  (import "ward_message" "receive" (func $receive (param i32 i32 i64) (result i32)))
  (memory (export "memory") 1)
  (data (i32.const 0) "main")
  (func (export "main") (call $seen))
  (func (export "parent")
    (if (call $spawn (i32.const 0) (i32.const 4) (i32.const 0) (i32.const 0) (i32.const 64))
      (then unreachable))
    (drop (call $monitor (i64.load (i32.const 64))))
    (drop (call $receive (i32.const 0) (i32.const 0) (i64.const -1)))
    (call $seen)))`

// TestHostHandlersSeeSpawnValues checks that the values of the context a
// process was spawned with reach its host handlers (request-scoped data,
// tracing), whichever call spawned it, that the processes it spawns
// inherit them, and that the spawn's cancellation does not end the
// process.
func TestHostHandlersSeeSpawnValues(t *testing.T) {
	var seen sync.Map
	r := newRuntime(t, WithHostModule(traceModule(&seen)))
	m := load(t, r, "trace", []byte(traceGuest))
	env := r.Environment()
	valueOf := func(id ProcessID) string {
		t.Helper()
		v, ok := seen.Load(uint64(id))
		if !ok {
			t.Fatalf("process %d never called seen()", id)
		}
		return v.(string)
	}

	t.Run("Spawn", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.WithValue(testCtx(t), traceKey{}, "spawn"))
		p, err := env.Spawn(ctx, m, "main")
		cancel() // the spawn's end is not the process's
		if err != nil {
			t.Fatal(err)
		}
		if reason := wait(t, p); !reason.Normal() {
			t.Fatalf("ended with %v", reason)
		}
		if got := valueOf(p.ID()); got != "spawn" {
			t.Fatalf("handler saw %q, want %q", got, "spawn")
		}
	})
	t.Run("Run", func(t *testing.T) {
		before := map[uint64]bool{}
		seen.Range(func(k, _ any) bool { before[k.(uint64)] = true; return true })
		reason, err := env.Run(context.WithValue(testCtx(t), traceKey{}, "run"), m, "main")
		if err != nil || !reason.Normal() {
			t.Fatalf("Run: %v, %v", reason, err)
		}
		found := false
		seen.Range(func(k, v any) bool {
			if !before[k.(uint64)] {
				found = v == "run"
			}
			return true
		})
		if !found {
			t.Fatal("the handler of a process started by Run did not see its value")
		}
	})
	t.Run("a guest's child", func(t *testing.T) {
		p, err := env.Spawn(context.WithValue(testCtx(t), traceKey{}, "family"), m, "parent")
		if err != nil {
			t.Fatal(err)
		}
		if reason := wait(t, p); !reason.Normal() {
			t.Fatalf("ended with %v", reason)
		}
		if got := valueOf(p.ID()); got != "family" {
			t.Fatalf("parent's handler saw %q", got)
		}
		n := 0
		seen.Range(func(k, v any) bool {
			if k.(uint64) > uint64(p.ID()) && v == "family" {
				n++
			}
			return true
		})
		if n != 1 {
			t.Fatalf("%d children saw the parent's value, want 1", n)
		}
	})
	t.Run("none", func(t *testing.T) {
		p := spawn(t, env, m, "main")
		wait(t, p)
		if got := valueOf(p.ID()); got != "" {
			t.Fatalf("a process spawned without the value saw %q", got)
		}
	})
}

// TestSpawnValuesDoNotChain checks that a line of processes, each spawned
// from its predecessor's context, shares one values context: a process
// that hands over to its successor forever must not grow a chain.
func TestSpawnValuesDoNotChain(t *testing.T) {
	base := context.WithValue(context.Background(), traceKey{}, "v")
	ctx := newProcessContext(base)
	defer ctx.cancel()
	for range 3 {
		next := newProcessContext(ctx)
		defer next.cancel()
		if next.base != base {
			t.Fatalf("a spawned process's values are %v, not its spawner's %v", next.base, base)
		}
		ctx = next
	}
	ctx.cancel()
	if valuesOf(ctx).Done() != nil {
		t.Fatal("the values a process passes on can end")
	}
}
