package runtime

import (
	"testing"
	"time"

	"github.com/wardrt/ward/environment"
	"github.com/wardrt/ward/internal/abi"
)

// straightWAT: the guests of the tests of a hand-off's straight sends
// (shim.c, "Hand-off"), where a request goes into the borrowed receiver's
// current message and its reply into the borrower's, past the queues.
//
// Memory: 0 the receive filter; 64 and 72 data buffers.
const straightWAT = `(module $straight
  (import "ward_process" "exit" (func $exit (param i32)))
  (import "ward_message" "create_data" (func $create (param i64)))
  (import "ward_message" "write_data" (func $write (param i32 i32) (result i32)))
  (import "ward_message" "read_data" (func $read (param i32 i32) (result i32)))
  (import "ward_message" "get_tag" (func $tag (result i64)))
  (import "ward_message" "data_size" (func $data_size (result i64)))
  (import "ward_message" "sender" (func $sender (result i64)))
  (import "ward_message" "send" (func $send (param i64) (result i32)))
  (import "ward_message" "receive" (func $receive (param i32 i32 i64) (result i32)))
  (import "ward_message" "send_receive" (func $send_receive (param i64 i32 i32 i64) (result i32)))
  (memory (export "memory") 1)

  ;; value: an 8-byte message of v under tag 5 made outgoing
  (func $value (param $v i64)
    (call $create (i64.const 5))
    (i64.store (i32.const 72) (local.get $v))
    (drop (call $write (i32.const 72) (i32.const 8))))
  ;; got: exit code unless the current message holds v
  (func $got (param $v i64) (param $code i32)
    (drop (call $read (i32.const 64) (i32.const 8)))
    (if (i64.ne (i64.load (i32.const 64)) (local.get $v)) (then (call $exit (local.get $code)))))

  ;; prime_or_reply: tag 3 (data: a pid) sends 1 under tag 5 to that pid;
  ;; anything else is answered with 2 under tag 5
  (func (export "prime_or_reply")
    (loop $l
      (drop (call $receive (i32.const 0) (i32.const 0) (i64.const -1)))
      (if (i64.eq (call $tag) (i64.const 3))
        (then
          (drop (call $read (i32.const 64) (i32.const 8)))
          (call $value (i64.const 1))
          (drop (call $send (i64.load (i32.const 64)))))
        (else
          (call $value (i64.const 2))
          (drop (call $send (call $sender)))))
      (br $l)))

  ;; ask_when_told: wait for tag 1, then ask peer under tag 5 and expect
  ;; 1, which came first, then 2, the reply
  (func (export "ask_when_told") (param $peer i64)
    (i64.store (i32.const 0) (i64.const 1))
    (drop (call $receive (i32.const 0) (i32.const 1) (i64.const -1)))
    (call $value (i64.const 0))
    (i64.store (i32.const 0) (i64.const 5))
    (if (call $send_receive (local.get $peer) (i32.const 0) (i32.const 1) (i64.const -1))
      (then (call $exit (i32.const 90))))
    (call $got (i64.const 1) (i32.const 91))
    (if (call $receive (i32.const 0) (i32.const 1) (i64.const -1)) (then (call $exit (i32.const 92))))
    (call $got (i64.const 2) (i32.const 93)))

  ;; ask_n: n requests of size bytes to peer, each answered with a
  ;; message of its size; exit 100+status of a failed one
  (func (export "ask_n") (param $peer i64) (param $n i64) (param $size i32)
    (local $st i32)
    (block $d (loop $l
      (br_if $d (i64.eqz (local.get $n)))
      (call $create (i64.const 5))
      (drop (call $write (i32.const 256) (local.get $size)))
      (local.set $st (call $send_receive (local.get $peer) (i32.const 0) (i32.const 0) (i64.const -1)))
      (if (local.get $st) (then (call $exit (i32.add (i32.const 100) (local.get $st)))))
      (if (i64.ne (call $data_size) (i64.extend_i32_u (local.get $size))) (then (call $exit (i32.const 99))))
      (local.set $n (i64.sub (local.get $n) (i64.const 1)))
      (br $l))))

  ;; answer: reply to every request with its own data; exit 80+status of
  ;; a reply that fails
  (func (export "answer")
    (local $n i32) (local $st i32)
    (loop $l
      (drop (call $receive (i32.const 0) (i32.const 0) (i64.const -1)))
      (local.set $n (call $read (i32.const 256) (i32.const 4096)))
      (call $create (call $tag))
      (drop (call $write (i32.const 256) (local.get $n)))
      (local.set $st (call $send (call $sender)))
      (if (local.get $st) (then (call $exit (i32.add (i32.const 80) (local.get $st)))))
      (br $l)))

  ;; burn_answer: answer after a loop of 10,000 turns
  (func (export "burn_answer")
    (local $i i32)
    (loop $l
      (drop (call $receive (i32.const 0) (i32.const 0) (i64.const -1)))
      (local.set $i (i32.const 10000))
      (loop $b (local.set $i (i32.sub (local.get $i) (i32.const 1))) (br_if $b (local.get $i)))
      (call $create (call $tag))
      (drop (call $send (call $sender)))
      (br $l)))
)`

// A reply may go straight into its borrower only when the borrower holds
// no older message: here the server's own earlier message, waiting in the
// asker's intake or mailbox, must come first, though the reply matches the
// same filter.
func TestHandOffStraightReplyComesAfterAnOlderOne(t *testing.T) {
	r := newRuntimeLongTicks(t)
	m := load(t, r, "straight", []byte(straightWAT))
	env := r.Environment()
	server := spawn(t, env, m, "prime_or_reply")
	parked(t, server)
	asker := spawn(t, env, m, "ask_when_told", I64(int64(server.ID())))
	parked(t, asker)
	ctx := testCtx(t)
	prime := pidMessage(asker.ID())
	prime.Tag = 3
	if err := server.Send(ctx, prime); err != nil {
		t.Fatal(err)
	}
	// The server's message to the asker arrives, which the asker, waiting
	// for tag 1, leaves; both park again.
	waitFor(t, testTimeout, "the server's message to queue", func() bool {
		return server.park.Load() == parkWaiting && asker.park.Load() == parkWaiting &&
			(asker.wp.Pending() || asker.wp.MailboxCount() == 1)
	})
	if err := asker.Send(ctx, Message{Tag: 1}); err != nil {
		t.Fatal(err)
	}
	if code := exitCode(t, wait(t, asker)); code != 0 {
		t.Fatalf("asker exited %d: its send_receive took the reply before the older message", code)
	}
	server.Kill()
	wait(t, server)
	wantBorrowed(t, server, 1, 0)
}

// A ping-pong between two Wasm processes sends both ways straight, and
// Stats counts every message.
func TestHandOffStraightBothWays(t *testing.T) {
	r := newRuntimeLongTicks(t)
	m := load(t, r, "straight", []byte(straightWAT))
	env := r.Environment()
	server := spawn(t, env, m, "answer")
	parked(t, server)
	const n = 50
	asker := spawn(t, env, m, "ask_n", I64(int64(server.ID())), I64(n), I32(8))
	if reason := wait(t, asker); reason != Normal {
		t.Fatalf("asker: %v", reason)
	}
	parked(t, server)
	if got := r.sentInC.Load(); got != 2*n {
		t.Errorf("%d of %d messages completed in C, want all: requests and replies straight", got, 2*n)
	}
	if s := r.Stats(); s.MessagesSent != 2*n {
		t.Errorf("Stats: %d messages sent, want %d", s.MessagesSent, 2*n)
	}
	server.Kill()
	wait(t, server)
	wantBorrowed(t, server, n, 0)
}

// A message sent straight meets the receiver's mailbox limits as a queued
// one does: larger than the receiver's MaxMailboxBytes, a request and a
// reply are refused with ErrLimit either way.
func TestHandOffStraightHeldToMailboxLimits(t *testing.T) {
	r := newRuntimeLongTicks(t)
	m := load(t, r, "straight", []byte(straightWAT))
	small := envWith(t, r, environment.Config{MaxMailboxBytes: 4})
	env := r.Environment()

	t.Run("request", func(t *testing.T) {
		server := spawn(t, small, m, "answer")
		parked(t, server)
		asker := spawn(t, env, m, "ask_n", I64(int64(server.ID())), I64(1), I32(8))
		if code := exitCode(t, wait(t, asker)); code != 100+abi.ErrLimit {
			t.Fatalf("asker exited %d, want %d (ErrLimit)", code, 100+abi.ErrLimit)
		}
		server.Kill()
		wait(t, server)
	})
	t.Run("reply", func(t *testing.T) {
		server := spawn(t, env, m, "answer")
		parked(t, server)
		asker := spawn(t, small, m, "ask_n", I64(int64(server.ID())), I64(1), I32(8))
		if code := exitCode(t, wait(t, server)); code != 80+abi.ErrLimit {
			t.Fatalf("server exited %d, want %d (ErrLimit for its reply)", code, 80+abi.ErrLimit)
		}
		// The asker learns from its request's watch that the server ended.
		if code := exitCode(t, wait(t, asker)); code != 100+abi.ErrNotFound {
			t.Fatalf("asker exited %d, want %d (ErrNotFound)", code, 100+abi.ErrNotFound)
		}
	})
	t.Run("full mailbox", func(t *testing.T) {
		// The asker's mailbox holds a message its filter leaves, too large
		// to go ahead into its inbox, and the reply, which alone would
		// fit, does not fit beside it: it cannot go straight, and is
		// refused.
		const held = 4000
		server := spawn(t, env, m, "answer")
		parked(t, server)
		asker := spawn(t, envWith(t, r, environment.Config{MaxMailboxBytes: held + 7}), m, "ask_when_told", I64(int64(server.ID())))
		parked(t, asker)
		ctx := testCtx(t)
		if err := asker.Send(ctx, Message{Tag: 7, Data: make([]byte, held)}); err != nil {
			t.Fatal(err)
		}
		if err := asker.Send(ctx, Message{Tag: 1}); err != nil {
			t.Fatal(err)
		}
		if code := exitCode(t, wait(t, server)); code != 80+abi.ErrLimit {
			t.Fatalf("server exited %d, want %d (ErrLimit for its reply)", code, 80+abi.ErrLimit)
		}
		if code := exitCode(t, wait(t, asker)); code != 90 {
			t.Fatalf("asker exited %d, want 90 (its send_receive failed)", code)
		}
	})
}

// Each request that goes straight into a server refills its fuel, as a
// queued one does (environment.FuelPerMessage): 30 requests of 10,000
// turns each would not fit in one tank.
func TestHandOffStraightRefillsFuel(t *testing.T) {
	r := newRuntime(t, WithEpochInterval(200*time.Millisecond),
		WithRootEnvironment(environment.Config{FuelScope: environment.FuelPerMessage}))
	m := load(t, r, "straight", []byte(straightWAT))
	perMessage := envWith(t, r, environment.Config{MaxFuel: 200_000, FuelScope: environment.FuelPerMessage})
	server := spawn(t, perMessage, m, "burn_answer")
	parked(t, server)
	asker := spawn(t, r.Environment(), m, "ask_n", I64(int64(server.ID())), I64(30), I32(0))
	if reason := wait(t, asker); reason != Normal {
		t.Fatalf("asker: %v", reason)
	}
	if used := server.FuelUsed(); used <= 200_000 {
		t.Fatalf("the server used %d fuel over 30 requests, not past one tank: the test proves nothing", used)
	}
	server.Kill()
	if reason := wait(t, server); reason != Killed {
		t.Fatalf("server: %v, want killed (not out of fuel)", reason)
	}
	if got := r.sentInC.Load(); got != 60 {
		t.Errorf("%d of 60 messages completed in C: not all went straight", got)
	}
}

// The asker killed while the server it borrowed runs: the asker ends, and
// the server, given back at its preemption, lives on.
func TestHandOffStraightAskerKilledMidBorrow(t *testing.T) {
	r := newRuntime(t)
	m := load(t, r, "handoff", []byte(handoffWAT))
	env := r.Environment()
	server := spawn(t, env, m, "then_spin")
	parked(t, server)
	asker := spawn(t, env, m, "ask", I64(int64(server.ID())), I64(5), I64(-1))
	waitFor(t, testTimeout, "the server to be borrowed", func() bool { return server.park.Load() != parkWaiting })
	asker.Kill()
	if reason := wait(t, asker); reason != Killed {
		t.Fatalf("asker: %v, want killed", reason)
	}
	server.Kill()
	if reason := wait(t, server); reason != Killed {
		t.Fatalf("server: %v, want killed", reason)
	}
	wantBorrowed(t, server, 1, 1)
}
