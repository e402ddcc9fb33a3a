package runtime

import (
	"errors"
	"testing"

	"github.com/wardrt/ward/environment"
	"github.com/wardrt/ward/internal/wasm"
)

// storeReuseWAT leaves its mark everywhere a process has state of its own
// (write) and checks that none of it is there (read): memory, including a
// page it grew, a mutable global and a table slot.
const storeReuseWAT = `(module
  (memory (export "memory") 1 4)
  (global $g (mut i64) (i64.const 7))
  (table $t 2 funcref)
  (elem (i32.const 0) $f)
  (elem declare func $h)
  (func $f (result i32) (i32.const 11))
  (func $h (result i32) (i32.const 22))
  (func (export "write")
    (i64.store (i32.const 1000) (i64.const 0x5ec7e75ec7e7))
    (memory.fill (i32.const 2000) (i32.const 0xab) (i32.const 60000))
    (drop (memory.grow (i32.const 1)))
    (i64.store (i32.const 70000) (i64.const 0x5ec7e75ec7e7))
    (global.set $g (i64.const 99))
    (table.set $t (i32.const 1) (ref.func $h)))
  (func (export "write_small")
    (i64.store (i32.const 1000) (i64.const 0x5ec7e75ec7e7))
    (memory.fill (i32.const 2000) (i32.const 0xab) (i32.const 60000))
    (global.set $g (i64.const 99))
    (table.set $t (i32.const 1) (ref.func $h)))
  (func (export "read")
    (if (i64.ne (i64.load (i32.const 1000)) (i64.const 0)) (then unreachable))
    (if (i32.ne (i32.load8_u (i32.const 30000)) (i32.const 0)) (then unreachable))
    (if (i32.ne (memory.size) (i32.const 1)) (then unreachable))
    (if (i64.ne (global.get $g) (i64.const 7)) (then unreachable))
    (if (i32.eqz (ref.is_null (table.get $t (i32.const 1)))) (then unreachable))
    (if (i32.ne (call_indirect (result i32) (i32.const 0)) (i32.const 11)) (then unreachable)))
  (func (export "trap") unreachable))`

// TestStoreReuseLeaksNothing: processes of one module that return
// normally hand their store on to the next (shim.c, "Store reuse"); a
// process that starts in a store where another wrote its memory, a
// global and a table, and grew its memory or not, sees none of it, also after
// stores were deleted (a store is used by at most 128 processes), and the
// environment's memory budget gets every byte back.
func TestStoreReuseLeaksNothing(t *testing.T) {
	r := newRuntime(t)
	ctx := testCtx(t)
	m := load(t, r, "reuse", []byte(storeReuseWAT))
	env, err := r.Environment().NewChild(environment.Config{MaxTotalMemory: 64 << 20})
	if err != nil {
		t.Fatal(err)
	}
	before := wasm.StoresReused()
	// A retired memory, grown or not, goes to the memory pool, which
	// zeroes it for the next process (most likely the next reader).
	for round, writer := range []string{"write", "write_small", "write", "write_small"} {
		if reason, err := env.Run(ctx, m, writer); err != nil || reason != Normal {
			t.Fatalf("round %d: %s: %v, %v", round, writer, reason, err)
		}
		for i := range 40 {
			if reason, err := env.Run(ctx, m, "read"); err != nil || reason != Normal {
				t.Fatalf("round %d: read %d saw another process's state: %v, %v", round, i, reason, err)
			}
		}
	}
	// Most of the 164 runs are in a store an earlier process used:
	// otherwise this test proves nothing.
	if n := wasm.StoresReused() - before; n < 140 {
		t.Fatalf("%d of 164 processes ran in a reused store, want at least 140", n)
	}
	if used := env.MemoryInUse(); used != 0 {
		t.Fatalf("after every process ended, the environment holds %d bytes", used)
	}
}

// TestStoreNotReusedAfterTrap: a process that traps does not hand its
// store on; the next process of its module starts in a new one.
func TestStoreNotReusedAfterTrap(t *testing.T) {
	r := newRuntime(t)
	ctx := testCtx(t)
	m := load(t, r, "reuse", []byte(storeReuseWAT))
	env := r.Environment()
	reason, err := env.Run(ctx, m, "trap")
	var te *TrapError
	if err != nil || !errors.As(reason, &te) {
		t.Fatalf("trap: %v, %v", reason, err)
	}
	before := wasm.StoresReused()
	if reason, err := env.Run(ctx, m, "read"); err != nil || reason != Normal {
		t.Fatalf("read: %v, %v", reason, err)
	}
	if n := wasm.StoresReused() - before; n != 0 {
		t.Fatalf("the process after a trap reused a store (%d)", n)
	}
	// And a process that returned does hand it on.
	if reason, err := env.Run(ctx, m, "read"); err != nil || reason != Normal {
		t.Fatalf("read: %v, %v", reason, err)
	}
	if n := wasm.StoresReused() - before; n != 1 {
		t.Fatalf("%d reused stores after a normal return, want 1", n)
	}
}

// TestRetiredMemoryZeroedAcrossModules: a retired instance's memory
// mapping goes to the runtime's memory pool at once (shim.c, mem_retire),
// and the pool serves every module: a process of another module that
// gets the mapping, one way round and the other, sees none of what was
// written in it.
func TestRetiredMemoryZeroedAcrossModules(t *testing.T) {
	r := newRuntime(t)
	ctx := testCtx(t)
	a := load(t, r, "reuse_a", []byte(storeReuseWAT))
	b := load(t, r, "reuse_b", []byte(storeReuseWAT))
	env := r.Environment()
	before := wasm.StoresReused()
	for i := range 100 {
		w, rd := a, b
		if i%2 == 1 {
			w, rd = b, a
		}
		if reason, err := env.Run(ctx, w, "write_small"); err != nil || reason != Normal {
			t.Fatalf("%d: write: %v, %v", i, reason, err)
		}
		if reason, err := env.Run(ctx, rd, "read"); err != nil || reason != Normal {
			t.Fatalf("%d: read in another module saw the retired memory's bytes: %v, %v", i, reason, err)
		}
	}
	if n := wasm.StoresReused() - before; n < 190 {
		t.Fatalf("%d of 200 processes ran in a reused store, want at least 190", n)
	}
}
