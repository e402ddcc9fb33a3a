package sqlite_test

import (
	"errors"
	"testing"

	"github.com/wardrt/ward/runtime"
)

// stepRowWAT's export "run" checks step_row and row against a row
// encoded by hand (7, 2.5, 'hi', x'0102', NULL: 33 bytes at 256), and
// traps at the first difference; the other exports pass pointers outside
// its memory.
const stepRowWAT = `(module
  (import "ward_sqlite" "open" (func $open (param i32 i32 i32) (result i32)))
  (import "ward_sqlite" "prepare" (func $prepare (param i32 i32 i32 i32) (result i32)))
  (import "ward_sqlite" "step_row" (func $step_row (param i32 i32 i32 i32) (result i32)))
  (import "ward_sqlite" "row" (func $row (param i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  (data (i32.const 16) "data/r.db")
  (data (i32.const 32) "SELECT 7, 2.5, 'hi', x'0102', NULL")
  (data (i32.const 256) "\01\07\00\00\00\00\00\00\00\02\00\00\00\00\00\00\04\40\03\02\00\00\00hi\04\02\00\00\00\01\02\05")
  (func $stmt (result i32)
    (if (call $open (i32.const 16) (i32.const 9) (i32.const 0)) (then unreachable))
    (if (call $prepare (i32.load (i32.const 0)) (i32.const 32) (i32.const 34) (i32.const 4)) (then unreachable))
    (i32.load (i32.const 4)))
  (func $eq (param $a i32) (param $b i32) (param $n i32) (result i32)
    (block $ne (loop $l
      (if (i32.eqz (local.get $n)) (then (return (i32.const 1))))
      (br_if $ne (i32.ne (i32.load8_u (local.get $a)) (i32.load8_u (local.get $b))))
      (local.set $a (i32.add (local.get $a) (i32.const 1)))
      (local.set $b (i32.add (local.get $b) (i32.const 1)))
      (local.set $n (i32.sub (local.get $n) (i32.const 1)))
      (br $l)))
    (i32.const 0))
  (func (export "run") (local $s i32)
    (local.set $s (call $stmt))
    ;; too small a buffer: OK, the length, nothing written
    (if (call $step_row (local.get $s) (i32.const 512) (i32.const 8) (i32.const 8)) (then unreachable))
    (if (i32.ne (i32.load (i32.const 8)) (i32.const 33)) (then unreachable))
    (if (i32.ne (i32.load8_u (i32.const 512)) (i32.const 0)) (then unreachable))
    ;; row: ErrLimit while it does not fit, then the row
    (if (i32.ne (call $row (local.get $s) (i32.const 512) (i32.const 32) (i32.const 8)) (i32.const 1)) (then unreachable))
    (if (call $row (local.get $s) (i32.const 512) (i32.const 33) (i32.const 8)) (then unreachable))
    (if (i32.ne (i32.load (i32.const 8)) (i32.const 33)) (then unreachable))
    (if (i32.eqz (call $eq (i32.const 512) (i32.const 256) (i32.const 33))) (then unreachable))
    ;; done: -1, and no current row for row
    (if (call $step_row (local.get $s) (i32.const 512) (i32.const 64) (i32.const 8)) (then unreachable))
    (if (i32.ne (i32.load (i32.const 8)) (i32.const -1)) (then unreachable))
    (if (i32.ne (call $row (local.get $s) (i32.const 512) (i32.const 64) (i32.const 8)) (i32.const 3)) (then unreachable))
    ;; handles it does not hold
    (if (i32.ne (call $step_row (i32.const 99) (i32.const 512) (i32.const 64) (i32.const 8)) (i32.const 3)) (then unreachable))
    (if (i32.ne (call $row (i32.const -1) (i32.const 512) (i32.const 64) (i32.const 8)) (i32.const 3)) (then unreachable)))
  (func (export "bad_len") (drop (call $step_row (call $stmt) (i32.const 512) (i32.const 64) (i32.const 65534))))
  (func (export "bad_buf") (drop (call $step_row (call $stmt) (i32.const 65530) (i32.const 64) (i32.const 8))))
  (func (export "bad_row_buf") (local $s i32)
    (local.set $s (call $stmt))
    (if (call $step_row (local.get $s) (i32.const 512) (i32.const 0) (i32.const 8)) (then unreachable))
    (drop (call $row (local.get $s) (i32.const 0xfffffff0) (i32.const 64) (i32.const 8)))))`

// step_row and row write the encoding the ABI documents, the length
// alone when the buffer is too small (the row staying current), -1 at
// the end; pointers outside the guest's memory trap it.
func TestStepRow(t *testing.T) {
	rt := newRuntime(t, t.TempDir())
	ctx := testCtx(t)
	m, err := rt.LoadModule(ctx, "steprow", []byte(stepRowWAT))
	if err != nil {
		t.Fatal(err)
	}
	if reason, err := rt.Environment().Run(ctx, m, "run"); err != nil || reason != runtime.Normal {
		t.Fatalf("run: ended %v (%v): a status or the encoding differed", reason, err)
	}
	for _, entry := range []string{"bad_len", "bad_buf", "bad_row_buf"} {
		reason, err := rt.Environment().Run(ctx, m, entry)
		var trap *runtime.TrapError
		if err != nil || !errors.As(reason, &trap) {
			t.Errorf("%s: ended %v (%v), want a trap", entry, reason, err)
		}
	}
}
