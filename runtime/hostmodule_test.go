package runtime

import (
	"context"
	"errors"
	goruntime "runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wardrt/ward/environment"
	"github.com/wardrt/ward/hostapi"
)

// kvModule is a tiny host module: put(key, value) and get(key, buf, cap)
// -> len (or -1), wait(ms) that blocks in Go, and boom() that panics.
func kvModule(blocked *atomic.Int64) hostapi.Module {
	var mu sync.Mutex
	store := map[string][]byte{}
	return hostapi.Module{
		Namespace: "kv",
		Funcs: []hostapi.Func{
			{Name: "put", Params: []hostapi.ValType{hostapi.I32, hostapi.I32, hostapi.I32, hostapi.I32},
				Handler: func(ctx context.Context, c *hostapi.Call) error {
					k, err := c.ReadString(c.Arg(0), c.Arg(1))
					if err != nil {
						return err
					}
					v, err := c.Read(c.Arg(2), c.Arg(3))
					if err != nil {
						return err
					}
					mu.Lock()
					store[k] = append([]byte(nil), v...)
					mu.Unlock()
					return nil
				}},
			{Name: "get", Params: []hostapi.ValType{hostapi.I32, hostapi.I32, hostapi.I32, hostapi.I32}, Results: []hostapi.ValType{hostapi.I32},
				Handler: func(ctx context.Context, c *hostapi.Call) error {
					k, err := c.ReadString(c.Arg(0), c.Arg(1))
					if err != nil {
						return err
					}
					mu.Lock()
					v, ok := store[k]
					mu.Unlock()
					if !ok || int64(len(v)) > c.Arg(3) {
						c.Return(-1)
						return nil
					}
					c.Return(int64(len(v)))
					return c.Write(c.Arg(2), v)
				}},
			{Name: "wait", Params: []hostapi.ValType{hostapi.I64},
				Handler: func(ctx context.Context, c *hostapi.Call) error {
					blocked.Add(1)
					defer blocked.Add(-1)
					select {
					case <-time.After(time.Duration(c.Arg(0)) * time.Millisecond):
					case <-ctx.Done():
					}
					return nil
				}},
			{Name: "boom", Handler: func(context.Context, *hostapi.Call) error { panic("handler bug") }},
		},
	}
}

const kvGuest = `(module $kvguest
  (import "kv" "put" (func $put (param i32 i32 i32 i32)))
  (import "kv" "get" (func $get (param i32 i32 i32 i32) (result i32)))
  (import "kv" "wait" (func $wait (param i64)))
  (import "kv" "boom" (func $boom))
  (import "ward_process" "exit" (func $exit (param i32)))
  (memory (export "memory") 1)
  (data (i32.const 0) "color")
  (data (i32.const 16) "teal")
  ;; roundtrip: put color=teal, get it back into 64.., exit with its length
  ;; (or 99 if the bytes differ)
  (func $roundtrip (export "roundtrip")
    (local $n i32)
    (call $put (i32.const 0) (i32.const 5) (i32.const 16) (i32.const 4))
    (local.set $n (call $get (i32.const 0) (i32.const 5) (i32.const 64) (i32.const 32)))
    (if (i32.ne (i32.load (i32.const 64)) (i32.load (i32.const 16))) (then (call $exit (i32.const 99))))
    (call $exit (local.get $n)))
  (func $bad_pointer (export "bad_pointer") (call $put (i32.const 0x7ffffff0) (i32.const 64) (i32.const 0) (i32.const 1)))
  (func $block (export "block") (param i64) (call $wait (local.get 0)))
  (func $panics (export "panics") (call $boom)))`

func TestHostModule(t *testing.T) {
	var blocked atomic.Int64
	r := newRuntime(t, WithHostModule(kvModule(&blocked)))
	env := r.Environment()
	m := load(t, r, "kvguest", []byte(kvGuest))
	var ee *ExitError
	if reason := wait(t, spawn(t, env, m, "roundtrip")); !errors.As(reason, &ee) || ee.Code != 4 {
		t.Fatalf("roundtrip: %v, want exit 4 (the value's length)", reason)
	}
	t.Run("bad pointer traps only that guest", func(t *testing.T) {
		bystander := spawn(t, env, m, "block", I64(60_000))
		var te *TrapError
		if reason := wait(t, spawn(t, env, m, "bad_pointer")); !errors.As(reason, &te) || !strings.Contains(te.Message, "kv.put") || !strings.Contains(te.Message, "outside the guest's memory") {
			t.Fatalf("bad_pointer: %v", reason)
		}
		if bystander.Reason() != nil {
			t.Fatal(bystander.Reason())
		}
		bystander.Kill()
		if reason := wait(t, bystander); reason != Killed {
			t.Fatalf("killing a process blocked in a handler: %v", reason)
		}
	})
	t.Run("a panicking handler traps its guest", func(t *testing.T) {
		var te *TrapError
		if reason := wait(t, spawn(t, env, m, "panics")); !errors.As(reason, &te) || !strings.Contains(te.Message, "handler bug") {
			t.Fatalf("panics: %v", reason)
		}
	})
	t.Run("namespace not allowed", func(t *testing.T) {
		strict, err := r.NewEnvironment(environment.Config{Namespaces: []string{"ward_*"}})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := strict.Spawn(testCtx(t), m, "roundtrip"); !errors.Is(err, environment.ErrNamespaceDenied) || !strings.Contains(err.Error(), `"kv"`) {
			t.Fatalf("Spawn = %v", err)
		}
	})
}

func TestBlockingHandlersHoldNoThreads(t *testing.T) {
	var blocked atomic.Int64
	r := newRuntime(t, WithHostModule(kvModule(&blocked)))
	env := r.Environment()
	m := load(t, r, "kvguest", []byte(kvGuest))
	before := threads(t)
	const n = 200
	ps := make([]*Process, n)
	for i := range ps {
		ps[i] = spawn(t, env, m, "block", I64(1000))
	}
	waitFor(t, testTimeout, "every handler to block", func() bool { return blocked.Load() == n })
	during := threads(t)
	// A handler that blocks parks a goroutine; a few threads may come and
	// go with the Go scheduler, but nothing like one per process.
	if during-before > 8 {
		t.Fatalf("%d processes blocked in a handler took %d more OS threads (%d -> %d)", n, during-before, before, during)
	}
	for _, p := range ps {
		if reason := wait(t, p); reason != Normal {
			t.Fatal(reason)
		}
	}
}

func TestHostModuleValidation(t *testing.T) {
	nop := func(context.Context, *hostapi.Call) error { return nil }
	for _, m := range []hostapi.Module{
		{Namespace: "ward_kv", Funcs: []hostapi.Func{{Name: "x", Handler: nop}}},
		{Namespace: "wasi_snapshot_preview1", Funcs: []hostapi.Func{{Name: "x", Handler: nop}}},
		{Namespace: "kv", Funcs: []hostapi.Func{{Name: "x"}}},
	} {
		if r, err := New(WithHostModule(m)); err == nil {
			r.Close(context.Background())
			t.Errorf("namespace %q accepted", m.Namespace)
		}
	}
}

// A handler that calls runtime.Goexit (t.Fatal in a test's handler) ends
// its process with ErrGoexit; it used to leave the process in the table,
// unwaitable, and keep a run slot for good.
func TestHostHandlerGoexitEndsTheProcess(t *testing.T) {
	mod := hostapi.Module{Namespace: "bye", Funcs: []hostapi.Func{{Name: "goexit",
		Handler: func(context.Context, *hostapi.Call) error { goruntime.Goexit(); return nil }}}}
	r := newRuntime(t, WithHostModule(mod))
	m := load(t, r, "bye", []byte(`(module (import "bye" "goexit" (func $g)) (func (export "run") (call $g)))`))
	env := r.Environment()
	var ge *GoError
	for range 2 * goruntime.GOMAXPROCS(0) { // more than there are run slots
		p, err := env.Spawn(testCtx(t), m, "run")
		if err != nil {
			t.Fatal(err)
		}
		if reason := wait(t, p); !errors.As(reason, &ge) || !errors.Is(reason, ErrGoexit) {
			t.Fatalf("a handler's Goexit: %v, want a *GoError wrapping ErrGoexit", reason)
		}
	}
	if reason, err := env.Run(testCtx(t), loadTrivialT(t, r), "run"); err != nil || reason != Normal {
		t.Fatalf("a process after the Goexits: %v, %v (run slots lost?)", reason, err)
	}
	if n := r.NumProcesses(); n != 0 {
		t.Errorf("%d processes left", n)
	}
}

func loadTrivialT(t *testing.T, r *Runtime) *Module {
	return load(t, r, "trivial", []byte(`(module (func (export "run")))`))
}
