package runtime

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wardrt/ward/environment"
	"github.com/wardrt/ward/hostapi"
	"github.com/wardrt/ward/internal/abi"
	"github.com/wardrt/ward/testdata"
)

// holderWAT loads testdata.Trivial and makes an environment, holding a
// handle of each, then ends as its entry says.
func holderWAT() string {
	return fmt.Sprintf(`(module
  (import "ward_module" "load" (func $load (param i32 i32 i32) (result i32)))
  (import "ward_environment" "create" (func $create (param i32 i32 i32) (result i32)))
  (import "ward_message" "receive" (func $recv (param i32 i32 i64) (result i32)))
  (memory (export "memory") 1)
  (data (i32.const 1024) "%s")
  (func $hold
    (if (call $load (i32.const 1024) (i32.const %d) (i32.const 0)) (then unreachable))
    (if (call $create (i32.const 0) (i32.const 0) (i32.const 8)) (then unreachable)))
  (func (export "return") (call $hold))
  (func (export "trap") (call $hold) unreachable)
  (func (export "spin") (call $hold) (loop $l (br $l)))
  (func (export "wait") (call $hold) (drop (call $recv (i32.const 0) (i32.const 0) (i64.const -1)))))`,
		watBytes(testdata.Trivial), len(testdata.Trivial))
}

// A process's module and environment handles, the state of the built-in
// modules, go however it ends, before its Wait returns, and its
// environment gets back what they were charged.
func TestBuiltinHandlesGoAtEveryEnd(t *testing.T) {
	type end struct {
		name  string
		entry string
		cfg   environment.Config
		// end ends the process in env; nil lets it end by itself.
		end  func(t *testing.T, p *Process, env *Environment)
		want func(Reason) bool
	}
	isTrap := func(r Reason) bool { var e *TrapError; return errors.As(r, &e) }
	for _, c := range []end{
		{name: "returned", entry: "return", want: Reason.Normal},
		{name: "trapped", entry: "trap", want: isTrap},
		{name: "killed", entry: "wait", end: func(t *testing.T, p *Process, _ *Environment) { p.Kill() },
			want: func(r Reason) bool { return r == Killed }},
		{name: "out of fuel", entry: "spin", cfg: environment.Config{MaxFuel: 1_000_000},
			want: func(r Reason) bool { var e *TrapError; return errors.As(r, &e) && e.Code == TrapOutOfFuel }},
		{name: "out of time", entry: "wait", cfg: environment.Config{MaxWallTime: 50 * time.Millisecond},
			want: func(r Reason) bool { var e *TimeLimitError; return errors.As(r, &e) }},
		{name: "environment closed", entry: "wait",
			end: func(t *testing.T, _ *Process, env *Environment) {
				if err := env.Close(testCtx(t)); err != nil {
					t.Fatal(err)
				}
			},
			want: func(r Reason) bool { return !r.Normal() }},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := newRuntime(t, grantAll())
			m := load(t, r, "holder", []byte(holderWAT()))
			env := envWith(t, r, c.cfg)
			p := spawn(t, env, m, c.entry)
			if c.end != nil {
				waitFor(t, testTimeout, "both handles", func() bool { return r.numHandles() == 2 })
				c.end(t, p, env)
			}
			if reason := wait(t, p); !c.want(reason) {
				t.Fatalf("the holder ended with %v", reason)
			}
			if n := r.numHandles(); n != 0 {
				t.Fatalf("%d handles once Wait returned, want 0", n)
			}
			waitFor(t, testTimeout, "the environment's memory", func() bool { return env.MemoryInUse() == 0 })
		})
	}
	t.Run("runtime closed", func(t *testing.T) {
		r := newRuntime(t, grantAll())
		m := load(t, r, "holder", []byte(holderWAT()))
		p := spawn(t, r.Environment(), m, "wait")
		waitFor(t, testTimeout, "both handles", func() bool { return r.numHandles() == 2 })
		if err := r.Close(testCtx(t)); err != nil {
			t.Fatal(err)
		}
		if reason := wait(t, p); reason.Normal() {
			t.Fatalf("the holder ended with %v", reason)
		}
		if n := r.numHandles(); n != 0 {
			t.Fatalf("%d handles after Close, want 0", n)
		}
	})
}

// ward's namespaces are not an embedder's to take, even with a module
// made from the table: the built-in ones are linked already, and the
// ones served in C or goHost are the runtime's.
func TestBuiltinNamespacesAreReserved(t *testing.T) {
	nop := func(context.Context, *hostapi.Call) error { return nil }
	mod, err := hostapi.Builtin(abi.NamespaceModule, map[string]hostapi.Handler{"load": nop, "spawn": nop, "drop": nop, "take": nop})
	if err != nil {
		t.Fatal(err)
	}
	env, err := hostapi.Builtin(abi.NamespaceEnvironment, map[string]hostapi.Handler{"create": nop, "drop": nop})
	if err != nil {
		t.Fatal(err)
	}
	reg, err := hostapi.Builtin(abi.NamespaceRegistry, map[string]hostapi.Handler{"register": nop, "unregister": nop, "lookup": nop, "get_or_spawn": nop})
	if err != nil {
		t.Fatal(err)
	}
	proc := hostapi.Module{Namespace: abi.NamespaceProcess, Funcs: []hostapi.Func{{Name: "self", Results: []hostapi.ValType{hostapi.I64}, Handler: nop}}}
	for _, m := range []hostapi.Module{mod, env, reg, proc} {
		r, err := New(WithHostModule(m))
		if err == nil {
			r.Close(context.Background())
			t.Fatalf("New with a module in %s succeeded", m.Namespace)
		}
		if !strings.Contains(err.Error(), "reserved") {
			t.Fatalf("New with a module in %s: %v", m.Namespace, err)
		}
	}
	if _, err := hostapi.Builtin(abi.NamespaceProcess, map[string]hostapi.Handler{"self": nop}); err == nil {
		t.Fatal("hostapi.Builtin made a module of ward_process, whose functions run in C and goHost")
	}
}

// Calls of the built-in modules are not timed for WithHostCallObserver,
// as ward's other namespaces are not, while a host module's are.
func TestBuiltinCallsAreNotObserved(t *testing.T) {
	var mu sync.Mutex
	seen := map[string]int{}
	ping := hostapi.Module{Namespace: "bench", Funcs: []hostapi.Func{{
		Name: "ping", Params: []hostapi.ValType{hostapi.I32}, Results: []hostapi.ValType{hostapi.I32},
		Handler: func(ctx context.Context, c *hostapi.Call) error { c.Return(c.Arg(0)); return nil },
	}}}
	r := newRuntime(t, grantAll(), WithHostModule(ping), WithHostCallObserver(func(fn string, _ time.Duration) {
		mu.Lock()
		seen[fn]++
		mu.Unlock()
	}))
	m := load(t, r, "calls", []byte(`(module
  (import "bench" "ping" (func $ping (param i32) (result i32)))
  (import "ward_module" "drop" (func $drop (param i64) (result i32)))
  (import "ward_environment" "drop" (func $edrop (param i64) (result i32)))
  (import "ward_registry" "lookup" (func $lookup (param i32 i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  (data (i32.const 0) "missing")
  (func (export "run")
    (if (i32.ne (call $drop (i64.const 5)) (i32.const 3)) (then unreachable))
    (if (i32.ne (call $edrop (i64.const 5)) (i32.const 3)) (then unreachable))
    (if (i32.ne (call $lookup (i32.const 0) (i32.const 7) (i32.const 0) (i32.const 0) (i32.const 64)) (i32.const 3)) (then unreachable))
    (drop (call $ping (i32.const 1)))))`))
	if reason := wait(t, spawn(t, r.Environment(), m, "run")); !reason.Normal() {
		t.Fatal(reason)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(seen) != 1 || seen["bench.ping"] != 1 {
		t.Fatalf("observed %v, want bench.ping once", seen)
	}
}
