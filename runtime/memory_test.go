package runtime

import (
	"errors"
	"testing"
)

// Linear memories are pooled between processes (internal/wasm); nothing a
// process wrote may be visible to the next one that gets its memory.
const secretsWAT = `(module $secrets
  (import "ward_process" "exit" (func $exit (param i32)))
  (memory (export "memory") 1)
  ;; write: grow to 3 pages and fill every 8th byte of all of them
  (func $write (export "write")
    (local $i i32)
    (drop (memory.grow (i32.const 2)))
    (block $done (loop $l
      (br_if $done (i32.ge_u (local.get $i) (i32.const 196608)))
      (i64.store (local.get $i) (i64.const 0x5ec2e75ec2e75ec2))
      (local.set $i (i32.add (local.get $i) (i32.const 8)))
      (br $l))))
  ;; check: grow to 3 pages and exit 1 if any byte is not zero
  (func $check (export "check")
    (local $i i32)
    (drop (memory.grow (i32.const 2)))
    (block $done (loop $l
      (br_if $done (i32.ge_u (local.get $i) (i32.const 196608)))
      (if (i64.ne (i64.load (local.get $i)) (i64.const 0)) (then (call $exit (i32.const 1))))
      (local.set $i (i32.add (local.get $i) (i32.const 8)))
      (br $l)))))`

func TestMemoryIsNotSharedBetweenProcesses(t *testing.T) {
	r := newRuntime(t)
	env := r.Environment()
	m := load(t, r, "secrets", []byte(secretsWAT))
	for i := range 200 {
		if reason := wait(t, spawn(t, env, m, "write")); reason != Normal {
			t.Fatalf("write %d: %v", i, reason)
		}
		var ee *ExitError
		if reason := wait(t, spawn(t, env, m, "check")); reason != Normal {
			if errors.As(reason, &ee) && ee.Code == 1 {
				t.Fatalf("round %d: a new process saw bytes a previous one wrote", i)
			}
			t.Fatalf("check %d: %v", i, reason)
		}
	}
}
