package sqlite_test

import (
	"context"
	"testing"

	"github.com/wardrt/ward/runtime"
)

// BenchmarkStep is the host path of one statement run from a WAT guest,
// with no file I/O: bind an integer, step to the row, read it (three
// host calls an op). It measures what the module adds around SQLite on
// every call, which InsertSelect's commits and fsyncs hide.
//
//	go test -run XXX -bench Step ./hostapi/sqlite
func BenchmarkStep(b *testing.B) {
	rt := newRuntime(b, b.TempDir())
	ctx := context.Background()
	m, err := rt.LoadModule(ctx, "step", []byte(`(module
  (import "ward_sqlite" "open" (func $open (param i32 i32 i32) (result i32)))
  (import "ward_sqlite" "prepare" (func $prepare (param i32 i32 i32 i32) (result i32)))
  (import "ward_sqlite" "bind_int" (func $bind_int (param i32 i32 i64) (result i32)))
  (import "ward_sqlite" "step" (func $step (param i32 i32) (result i32)))
  (import "ward_sqlite" "column_int" (func $column_int (param i32 i32) (result i64)))
  (memory (export "memory") 1)
  (data (i32.const 16) "data/step.db")
  (data (i32.const 32) "SELECT ?1 + 1")
  (func (export "run") (param $n i32) (local $st i32) (local $i i32)
    (if (call $open (i32.const 16) (i32.const 12) (i32.const 0)) (then unreachable))
    (if (call $prepare (i32.load (i32.const 0)) (i32.const 32) (i32.const 13) (i32.const 4)) (then unreachable))
    (local.set $st (i32.load (i32.const 4)))
    (block $done (loop $l
      (br_if $done (i32.ge_u (local.get $i) (local.get $n)))
      (if (call $bind_int (local.get $st) (i32.const 1) (i64.extend_i32_u (local.get $i))) (then unreachable))
      (if (call $step (local.get $st) (i32.const 8)) (then unreachable))
      (if (i64.ne (call $column_int (local.get $st) (i32.const 0)) (i64.add (i64.extend_i32_u (local.get $i)) (i64.const 1))) (then unreachable))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br $l)))))`))
	if err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	if reason, err := rt.Environment().Run(ctx, m, "run", runtime.I32(int32(b.N))); err != nil || reason != runtime.Normal {
		b.Fatalf("%v %v", reason, err)
	}
}
