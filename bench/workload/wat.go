package workload

import (
	"fmt"
	"strings"

	"github.com/bytecodealliance/wasmtime-go/v25"
)

// Guests are WAT, so every implementation runs the same instructions.
// ward compiles WAT itself; the peers get the bytes from wasmtime's
// wat2wasm (Wasm compiles the same whichever engine made the bytes).

// TrivialWAT is the trivial process: an entry that returns at once.
const TrivialWAT = `(module (memory 1) (func (export "run")))`

// handlerLoop is the work of the per-request handler: sum 0..n-1, so the
// guest does a little more than return. HandlerWork is what the Go
// version computes for the same n.
const handlerLoop = `
  (func $handle (export "handle") (param $n i64) (local $acc i64)
    (block $d (loop $l
      (br_if $d (i64.eqz (local.get $n)))
      (local.set $n (i64.sub (local.get $n) (i64.const 1)))
      (local.set $acc (i64.add (local.get $acc) (local.get $n)))
      (br $l)))
    (global.set $out (local.get $acc)))
  ;; handle(HandlerN) for Extism, whose entries take no parameters
  (func (export "handle_fixed") (call $handle (i64.const 100)))`

// HandlerWAT is the per-request handler guest, the same for every
// implementation.
const HandlerWAT = `(module (memory 1) (global $out (mut i64) (i64.const 0))` + handlerLoop + `)`

// HandlerN is the loop count each request's handler runs (handle_fixed
// has it written in).
const HandlerN = 100

// HandlerWork is the per-request handler in plain Go.
//
//go:noinline
func HandlerWork(n int64) int64 {
	var acc int64
	for n != 0 {
		n--
		acc += n
	}
	return acc
}

// WardWAT is the guest of every ward workload but messaging: it imports
// only ward_process, which every build has.
const WardWAT = `(module
  (import "ward_process" "self" (func $self (result i64)))
  (import "ward_process" "sleep_ms" (func $sleep (param i64)))
  (memory (export "memory") 1)
  (global $out (mut i64) (i64.const 0))
  ;; parks in the Go host call sleep_ms and never wakes in a benchmark's lifetime
  (func (export "sleep_forever") (loop $l (call $sleep (i64.const 1000000)) (br $l)))
  ;; n calls of the plain C host function self()
  (func (export "self_loop") (param $n i64) (local $acc i64)
    (block $d (loop $l
      (br_if $d (i64.eqz (local.get $n)))
      (local.set $acc (i64.add (local.get $acc) (call $self)))
      (local.set $n (i64.sub (local.get $n) (i64.const 1)))
      (br $l)))
    (global.set $out (local.get $acc)))
  ;; n calls of sleep_ms(0): suspend to the process goroutine and back
  (func (export "sleep0_loop") (param $n i64)
    (block $d (loop $l
      (br_if $d (i64.eqz (local.get $n)))
      (call $sleep (i64.const 0))
      (local.set $n (i64.sub (local.get $n) (i64.const 1)))
      (br $l)))))`

// WardMsgWAT is the messaging guest, written against the ward_message ABI
// of issue 3: create_data(tag), send(pid) -> status, receive(tags_ptr,
// tags_count, timeout_ms) -> status, send_receive(pid, tags_ptr,
// tags_count, timeout_ms) -> status, sender() -> pid, get_tag() -> tag;
// and try_send(pid) -> status and try_receive(tags_ptr, tags_count) ->
// status, the plain calls that "sender" and "receiver" make first.
// A tags_count of 0 takes any message; timeout_ms < 0 waits forever.
// Loading it fails on a build without messaging.
const WardMsgWAT = `(module
  (import "ward_process" "sleep_ms" (func $sleep (param i64)))
  (import "ward_message" "create_data" (func $create (param i64)))
  (import "ward_message" "send" (func $send (param i64) (result i32)))
  (import "ward_message" "receive" (func $recv (param i32 i32 i64) (result i32)))
  (import "ward_message" "send_receive" (func $sr (param i64 i32 i32 i64) (result i32)))
  (import "ward_message" "sender" (func $sender (result i64)))
  (import "ward_message" "get_tag" (func $tag (result i64)))
  (import "ward_message" "try_send" (func $try_send (param i64) (result i32)))
  (import "ward_message" "try_receive" (func $try_recv (param i32 i32) (result i32)))
  (memory (export "memory") 1)
  ;; pong: answer every message (tag 1) with tag 2 to its sender; tag 3 ends it
  (func (export "pong")
    (loop $l
      (if (call $recv (i32.const 0) (i32.const 0) (i64.const -1)) (then (unreachable)))
      (if (i64.eq (call $tag) (i64.const 3)) (then (return)))
      (call $create (i64.const 2))
      (if (call $send (call $sender)) (then (unreachable)))
      (br $l)))
  ;; ping: n round trips with pong, then tell it to stop
  (func (export "ping") (param $pong i64) (param $n i64)
    (block $d (loop $l
      (br_if $d (i64.eqz (local.get $n)))
      (call $create (i64.const 1))
      (if (call $sr (local.get $pong) (i32.const 0) (i32.const 0) (i64.const -1)) (then (unreachable)))
      (local.set $n (i64.sub (local.get $n) (i64.const 1)))
      (br $l)))
    (call $create (i64.const 3))
    (if (call $send (local.get $pong)) (then (unreachable))))
  ;; sender: n messages to $to, the plain try_send first and send when it
  ;; says ErrAgain (8), as the guest SDKs do; a full mailbox (non-zero
  ;; status) yields and retries
  (func (export "sender") (param $to i64) (param $n i64)
    (local $st i32)
    (block $d (loop $l
      (br_if $d (i64.eqz (local.get $n)))
      (loop $retry
        (call $create (i64.const 1))
        (local.set $st (call $try_send (local.get $to)))
        (if (i32.eq (local.get $st) (i32.const 8)) (then (local.set $st (call $send (local.get $to)))))
        (if (local.get $st) (then (call $sleep (i64.const 0)) (br $retry))))
      (local.set $n (i64.sub (local.get $n) (i64.const 1)))
      (br $l))))
  ;; receiver: take n messages, try_receive first, as sender
  (func (export "receiver") (param $n i64)
    (local $st i32)
    (block $d (loop $l
      (br_if $d (i64.eqz (local.get $n)))
      (local.set $st (call $try_recv (i32.const 0) (i32.const 0)))
      (if (i32.eq (local.get $st) (i32.const 8))
        (then (local.set $st (call $recv (i32.const 0) (i32.const 0) (i64.const -1)))))
      (if (local.get $st) (then (unreachable)))
      (local.set $n (i64.sub (local.get $n) (i64.const 1)))
      (br $l)))))`

// peerWAT is the guest of the wasmtime-go, wazero and Extism peers, with
// host functions imported from ns: host() -> i64 (the cheap host call),
// count() -> i64 (how many calls host_loop makes, for Extism, whose
// entries take no parameters), recv() -> i64 (blocks until a message) and
// send(v i64) (to the process's peer).
func peerWAT(ns string) string {
	return strings.NewReplacer("NS", ns).Replace(`(module
  (import "NS" "host" (func $host (result i64)))
  (import "NS" "count" (func $count (result i64)))
  (import "NS" "recv" (func $recv (result i64)))
  (import "NS" "send" (func $send (param i64)))
  (memory (export "memory") 1)
  (global $out (mut i64) (i64.const 0))
  (func (export "park") (drop (call $recv)))
  (func $loop (param $n i64) (local $acc i64)
    (block $d (loop $l
      (br_if $d (i64.eqz (local.get $n)))
      (local.set $acc (i64.add (local.get $acc) (call $host)))
      (local.set $n (i64.sub (local.get $n) (i64.const 1)))
      (br $l)))
    (global.set $out (local.get $acc)))
  (func (export "host_loop") (param $n i64) (call $loop (local.get $n)))
  (func (export "host_loop_counted") (call $loop (call $count)))
  ;; ping: n round trips, then -1 to stop the peer
  (func (export "ping") (param $n i64) (local $i i64)
    (block $d (loop $l
      (br_if $d (i64.ge_u (local.get $i) (local.get $n)))
      (call $send (local.get $i))
      (drop (call $recv))
      (local.set $i (i64.add (local.get $i) (i64.const 1)))
      (br $l)))
    (call $send (i64.const -1)))
  ;; pong: echo until a negative value
  (func (export "pong") (local $v i64)
    (loop $l
      (local.set $v (call $recv))
      (if (i64.lt_s (local.get $v) (i64.const 0)) (then (return)))
      (call $send (local.get $v))
      (br $l)))
  (func (export "sender") (param $n i64)
    (block $d (loop $l
      (br_if $d (i64.eqz (local.get $n)))
      (call $send (local.get $n))
      (local.set $n (i64.sub (local.get $n) (i64.const 1)))
      (br $l))))
  (func (export "receiver") (param $n i64)
    (block $d (loop $l
      (br_if $d (i64.eqz (local.get $n)))
      (drop (call $recv))
      (local.set $n (i64.sub (local.get $n) (i64.const 1)))
      (br $l)))))`)
}

// peerWasm returns peerWAT(ns) as Wasm bytes.
func peerWasm(ns string) ([]byte, error) {
	return wat2wasm(peerWAT(ns))
}

func wat2wasm(wat string) ([]byte, error) {
	b, err := wasmtime.Wat2Wasm(wat)
	if err != nil {
		return nil, fmt.Errorf("wat2wasm: %w", err)
	}
	return b, nil
}
