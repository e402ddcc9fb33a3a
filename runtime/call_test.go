package runtime

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"
)

// callWAT answers requests the way a plugin does: take the first message,
// reply under its tag to its sender.
const callWAT = `(module
  (import "ward_message" "receive" (func $receive (param i32 i32 i64) (result i32)))
  (import "ward_message" "read_data" (func $read (param i32 i32) (result i32)))
  (import "ward_message" "get_tag" (func $tag (result i64)))
  (import "ward_message" "sender" (func $sender (result i64)))
  (import "ward_message" "create_data" (func $create (param i64)))
  (import "ward_message" "write_data" (func $write (param i32 i32) (result i32)))
  (import "ward_message" "send" (func $send (param i64) (result i32)))
  (memory (export "memory") 1)
  (func $echo (local $n i32)
    (drop (call $receive (i32.const 0) (i32.const 0) (i64.const -1)))
    (local.set $n (call $read (i32.const 0) (i32.const 65536)))
    (call $create (call $tag))
    (drop (call $write (i32.const 0) (local.get $n)))
    (drop (call $send (call $sender))))
  (func (export "echo_once") (call $echo))
  (func (export "serve") (loop $l (call $echo) (br $l)))
  (func (export "echo_then_spin") (call $echo) (loop $l (br $l)))
  (func (export "trap_on_call")
    (drop (call $receive (i32.const 0) (i32.const 0) (i64.const -1)))
    unreachable)
  (func (export "spin") (loop $l (br $l))))`

func TestCallBytesInBytesOut(t *testing.T) {
	r := newRuntime(t)
	ctx := testCtx(t)
	m := load(t, r, "plugin", []byte(callWAT))
	before := r.NumProcesses()
	out, err := r.Environment().Call(ctx, m, "echo_once", []byte("hello"))
	if err != nil || string(out) != "hello" {
		t.Fatalf("Call: %q, %v", out, err)
	}
	// A plugin that goes on after replying is ended: nothing outlives the call.
	out, err = r.Environment().Call(ctx, m, "echo_then_spin", []byte("again"))
	if err != nil || string(out) != "again" {
		t.Fatalf("Call: %q, %v", out, err)
	}
	waitFor(t, testTimeout, "the called processes to end", func() bool { return r.NumProcesses() == before })
}

func TestCallSaysTheProcessTrapped(t *testing.T) {
	r := newRuntime(t)
	ctx := testCtx(t)
	m := load(t, r, "plugin", []byte(callWAT))
	_, err := r.Environment().Call(ctx, m, "trap_on_call", []byte("x"))
	var te *TrapError
	var ce *CallError
	if !errors.Is(err, ErrNoReply) || !errors.As(err, &te) || !errors.As(err, &ce) {
		t.Fatalf("Call of a trapping plugin: %v, want ErrNoReply with the *TrapError", err)
	}
	if te.Code != TrapUnreachableCodeReached {
		t.Fatalf("trap code %v, want unreachable", te.Code)
	}
	if strings.Contains(err.Error(), "no such process") || strings.Count(err.Error(), "trapped") != 1 {
		t.Fatalf("the error should say once that the process trapped, not that it is not there: %v", err)
	}
}

func TestCallDeadlineKillsThePlugin(t *testing.T) {
	r := newRuntime(t)
	m := load(t, r, "plugin", []byte(callWAT))
	before := r.NumProcesses()
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	_, err := r.Environment().Call(ctx, m, "spin", []byte("x"))
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Call past its deadline: %v", err)
	}
	waitFor(t, testTimeout, "the looping plugin to be killed", func() bool { return r.NumProcesses() == before })
}

func TestProcessCallOnALongLivedProcess(t *testing.T) {
	r := newRuntime(t)
	ctx := testCtx(t)
	m := load(t, r, "plugin", []byte(callWAT))
	p := spawn(t, r.Environment(), m, "serve")
	for _, in := range []string{"one", "two"} {
		out, err := p.Call(ctx, []byte(in))
		if err != nil || string(out) != in {
			t.Fatalf("Process.Call(%q): %q, %v", in, out, err)
		}
	}
	p.Kill()
	wait(t, p)
	if _, err := p.Call(ctx, []byte("late")); !errors.Is(err, ErrNoProcess) {
		t.Fatalf("Call of an ended process: %v", err)
	}
}

func TestCallCBOR(t *testing.T) {
	r := newRuntime(t)
	ctx := testCtx(t)
	m := load(t, r, "plugin", []byte(callWAT))
	type point struct{ X, Y int }
	got, err := CallCBOR[point](ctx, r.Environment(), m, "echo_once", point{3, 4})
	if err != nil || got != (point{3, 4}) {
		t.Fatalf("CallCBOR: %+v, %v", got, err)
	}
}
