package runtime

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/wardrt/ward/internal/abi"
	"github.com/wardrt/ward/internal/wasm"
)

// handoffWAT: servers that take one request and then do something a
// borrower does not serve itself, and the clients that ask them. A request
// carries tag t and the 8-byte value t*11; a reply echoes both.
//
// Memory: 0 the receive filter; 64 the data buffer.
const handoffWAT = `(module $handoff
  (import "ward_process" "exit" (func $exit (param i32)))
  (import "ward_process" "sleep_ms" (func $sleep (param i64)))
  (import "ward_message" "create_data" (func $create (param i64)))
  (import "ward_message" "write_data" (func $write (param i32 i32) (result i32)))
  (import "ward_message" "read_data" (func $read (param i32 i32) (result i32)))
  (import "ward_message" "get_tag" (func $tag (result i64)))
  (import "ward_message" "sender" (func $sender (result i64)))
  (import "ward_message" "send" (func $send (param i64) (result i32)))
  (import "ward_message" "receive" (func $receive (param i32 i32 i64) (result i32)))
  (import "ward_message" "send_receive" (func $send_receive (param i64 i32 i32 i64) (result i32)))
  (memory (export "memory") 1)

  (func $receive_any (drop (call $receive (i32.const 0) (i32.const 0) (i64.const -1))))
  (func $wait_forever (loop $l (call $receive_any) (br $l)))
  (func $prepare (param $tag i64)
    (call $create (local.get $tag))
    (i64.store (i32.const 64) (i64.mul (local.get $tag) (i64.const 11)))
    (drop (call $write (i32.const 64) (i32.const 8))))
  ;; reply: the current message back to its sender
  (func $reply
    (drop (call $read (i32.const 64) (i32.const 8)))
    (call $create (call $tag))
    (drop (call $write (i32.const 64) (i32.const 8)))
    (drop (call $send (call $sender))))
  ;; check: exit 99 unless the current message is tag t with t*11
  (func $check (param $tag i64)
    (drop (call $read (i32.const 64) (i32.const 8)))
    (if (i32.or (i64.ne (call $tag) (local.get $tag))
                (i64.ne (i64.load (i32.const 64)) (i64.mul (local.get $tag) (i64.const 11))))
      (then (call $exit (i32.const 99)))))

  ;; ask: one request to peer, waiting up to timeout ms for the reply;
  ;; exit 100+status when it fails
  (func (export "ask") (param $peer i64) (param $tag i64) (param $timeout i64)
    (local $st i32)
    (call $prepare (local.get $tag))
    (i64.store (i32.const 0) (local.get $tag))
    (local.set $st (call $send_receive (local.get $peer) (i32.const 0) (i32.const 1) (local.get $timeout)))
    (if (local.get $st) (then (call $exit (i32.add (i32.const 100) (local.get $st)))))
    (call $check (local.get $tag)))

  ;; ask_clean: ask, then exit 95 if anything is left in the mailbox
  (func (export "ask_clean") (param $peer i64) (param $tag i64) (param $timeout i64)
    (local $st i32)
    (call $prepare (local.get $tag))
    (i64.store (i32.const 0) (local.get $tag))
    (local.set $st (call $send_receive (local.get $peer) (i32.const 0) (i32.const 1) (local.get $timeout)))
    (if (i32.eqz (local.get $st)) (then (call $check (local.get $tag))))
    (if (i32.eqz (call $receive (i32.const 0) (i32.const 0) (i64.const 0))) (then (call $exit (i32.const 95))))
    (if (local.get $st) (then (call $exit (i32.add (i32.const 100) (local.get $st))))))

  ;; tell_then_await: a plain send, then wait for the reply
  (func (export "tell_then_await") (param $peer i64) (param $tag i64)
    (call $prepare (local.get $tag))
    (if (call $send (local.get $peer)) (then (call $exit (i32.const 98))))
    (i64.store (i32.const 0) (local.get $tag))
    (drop (call $receive (i32.const 0) (i32.const 1) (i64.const -1)))
    (call $check (local.get $tag)))

  ;; picky: answer tag 5 first, whatever came before it, then everything
  (func (export "picky")
    (i64.store (i32.const 0) (i64.const 5))
    (drop (call $receive (i32.const 0) (i32.const 1) (i64.const -1)))
    (call $reply)
    (loop $l (call $receive_any) (call $reply) (br $l)))

  (func (export "then_sleep") (call $receive_any) (call $sleep (i64.const 1)) (call $reply) (call $wait_forever))
  ;; then_timed: a receive that must time out before the reply goes
  (func (export "then_timed")
    (call $receive_any)
    (if (i32.ne (call $receive (i32.const 0) (i32.const 0) (i64.const 1)) (i32.const 6))
      (then (call $exit (i32.const 96))))
    (drop (call $read (i32.const 64) (i32.const 8)))
    (call $create (i64.const 5))
    (drop (call $write (i32.const 64) (i32.const 8)))
    (drop (call $send (call $sender)))
    (call $wait_forever))
  (func (export "then_return") (call $receive_any) (call $reply))
  (func (export "then_exit") (call $receive_any))
  (func (export "sink") (call $wait_forever))
  (func (export "then_trap") (call $receive_any) (unreachable))
  (func (export "then_spin") (call $receive_any) (loop $l (br $l)))

  ;; serve_sr: answer each request and wait for the next in one call; when
  ;; the client has ended meanwhile (send_receive watches it), wait apart
  (func (export "serve_sr")
    (call $receive_any)
    (loop $l
      (drop (call $read (i32.const 64) (i32.const 8)))
      (call $create (call $tag))
      (drop (call $write (i32.const 64) (i32.const 8)))
      (if (call $send_receive (call $sender) (i32.const 0) (i32.const 0) (i64.const -1))
        (then (call $receive_any)))
      (br $l)))

  ;; relay: pass each request on to next with send_receive, and its reply
  ;; back to the asker
  (func (export "relay") (param $next i64)
    (local $asker i64) (local $t i64)
    (loop $l
      (call $receive_any)
      (local.set $asker (call $sender))
      (local.set $t (call $tag))
      (call $prepare (local.get $t))
      (i64.store (i32.const 0) (local.get $t))
      (if (call $send_receive (local.get $next) (i32.const 0) (i32.const 1) (i64.const -1))
        (then (call $exit (i32.const 97))))
      (call $prepare (local.get $t))
      (drop (call $send (local.get $asker)))
      (br $l)))
)`

// parked waits until p sleeps in a receive without a timeout, ready to be
// borrowed.
func parked(t *testing.T, p *Process) {
	t.Helper()
	waitFor(t, testTimeout, "the process to park in receive", func() bool { return p.park.Load() == parkWaiting })
}

// newRuntimeLongTicks is newRuntime for tests that count hand-backs
// exactly: an epoch tick during a borrow preempts the receiver and hands
// it back, and with 1 ms ticks a loaded machine (or -race) makes that
// happen now and then.
func newRuntimeLongTicks(t *testing.T) *Runtime {
	return newRuntime(t, WithEpochInterval(200*time.Millisecond))
}

// wantTimedOut fails unless asker, an "ask", ended because its receive
// timed out.
func wantTimedOut(t *testing.T, asker *Process) {
	t.Helper()
	wantAskStatus(t, asker, abi.ErrTimeout, "its receive timed out")
}

// wantAskStatus fails unless asker, an "ask", ended because its
// send_receive returned status.
func wantAskStatus(t *testing.T, asker *Process, status int, why string) {
	t.Helper()
	var exit *ExitError
	if reason := wait(t, asker); !errors.As(reason, &exit) || exit.Code != 100+status {
		t.Fatalf("asker: %v, want exit %d (%s)", reason, 100+status, why)
	}
}

// askStatus is the status of an "ask"'s send_receive, from its reason:
// OK when it ended normally, -1 for anything but a status exit.
func askStatus(reason Reason) int {
	var exit *ExitError
	switch {
	case reason == Normal:
		return abi.OK
	case errors.As(reason, &exit) && exit.Code >= 100:
		return exit.Code - 100
	}
	return -1
}

// borrowed reads how often p was run by another process's goroutine, and
// how often it was given back unfinished; p must have ended.
func borrowed(t *testing.T, p *Process) (borrows, handBacks int) {
	t.Helper()
	select {
	case <-p.Done():
	default:
		t.Fatalf("%v still runs", p)
	}
	return int(p.borrows), int(p.handBacks)
}

// wantBorrowed fails unless p, ended, was borrowed and given back as often
// as expected.
func wantBorrowed(t *testing.T, p *Process, borrows, handBacks int) {
	t.Helper()
	if b, h := borrowed(t, p); b != borrows || h != handBacks {
		t.Errorf("%v: borrowed %d times and given back %d; want %d and %d", p, b, h, borrows, handBacks)
	}
}

func TestHandOffKeepsSelectiveReceiveOrder(t *testing.T) {
	r := newRuntimeLongTicks(t)
	m := load(t, r, "handoff", []byte(handoffWAT))
	env := r.Environment()
	server := spawn(t, env, m, "picky")
	parked(t, server)
	// A message picky does not want yet: it wakes, looks, and parks again.
	early := spawn(t, env, m, "tell_then_await", I64(int64(server.ID())), I64(3))
	waitFor(t, testTimeout, "the early message to queue", func() bool {
		return server.mb.Len() == 1 && server.park.Load() == parkWaiting
	})
	asker := spawn(t, env, m, "ask", I64(int64(server.ID())), I64(5), I64(-1))
	if reason := wait(t, asker); reason != Normal {
		t.Fatalf("asker: %v", reason)
	}
	// The borrower answered tag 5, then found the queued tag 3 and
	// answered that too, in the order picky asked for them.
	if reason := wait(t, early); reason != Normal {
		t.Fatalf("early sender: %v", reason)
	}
	// Tag 3 went through the server's inbox; parked again by its
	// borrower, it keeps none.
	parked(t, server)
	if server.wp.HoldsInbox() {
		t.Error("parked by its borrower, the server still holds an inbox")
	}
	server.Kill()
	wait(t, server)
	wantBorrowed(t, server, 1, 0)
}

func TestHandOffGivesBackWhatItDoesNotServe(t *testing.T) {
	r := newRuntimeLongTicks(t)
	m := load(t, r, "handoff", []byte(handoffWAT))
	env := r.Environment()
	for _, entry := range []string{"then_sleep", "then_timed", "then_return", "relay"} {
		t.Run(entry, func(t *testing.T) {
			var params []Value
			var echo *Process
			if entry == "relay" {
				echo = spawn(t, env, m, "picky") // answers tag 5 first, then all
				params = append(params, I64(int64(echo.ID())))
			}
			server := spawn(t, env, m, entry, params...)
			parked(t, server)
			if echo != nil {
				parked(t, echo)
			}
			asker := spawn(t, env, m, "ask", I64(int64(server.ID())), I64(5), I64(-1))
			if reason := wait(t, asker); reason != Normal {
				t.Fatalf("asker: %v", reason)
			}
			server.Kill()
			if reason := wait(t, server); reason != Normal && reason != Killed {
				t.Fatalf("server: %v", reason)
			}
			handBacks := 1
			if entry == "relay" {
				handBacks = 0 // its send_receive is served by the borrower
			}
			wantBorrowed(t, server, 1, handBacks)
			if echo != nil {
				echo.Kill()
				wait(t, echo)
				// The relay's own request, run on the asker's goroutine,
				// borrowed the echo in turn.
				wantBorrowed(t, echo, 1, 0)
			}
		})
	}
}

// A borrower serves a receiver with a backlog a bounded number of
// messages, counting those it moved into the receiver's inbox, which the
// guest takes in C without returning to Go: it used to count only the
// receives Go served, and ran a flood of 300 in one borrow.
func TestHandOffBoundsTheMessagesABorrowServes(t *testing.T) {
	r := newRuntimeLongTicks(t)
	m := load(t, r, "handoff", []byte(handoffWAT))
	env := r.Environment()
	server := spawn(t, env, m, "picky") // answers tag 5 first, then all
	parked(t, server)
	ctx := testCtx(t)
	const backlog = 300
	for i := range backlog {
		if err := server.Send(ctx, seqMessage(1, int64(i), 8)); err != nil {
			t.Fatal(err)
		}
	}
	parked(t, server) // woken by each message, none of them tag 5
	asker := spawn(t, env, m, "ask", I64(int64(server.ID())), I64(5), I64(-1))
	if reason := wait(t, asker); reason != Normal {
		t.Fatalf("asker: %v", reason)
	}
	waitFor(t, testTimeout, "the server to take its backlog", func() bool {
		return server.park.Load() == parkWaiting && server.mb.Len() == 0
	})
	server.Kill()
	wait(t, server)
	if server.borrows != 1 {
		t.Fatalf("borrowed %d times, want 1", server.borrows)
	}
	if most, bound := int(server.borrowedMost), maxBorrowedMessages+wasm.InboxMessages; most > bound {
		t.Errorf("one borrow served %d messages of the backlog of %d, want at most %d", most, backlog, bound)
	}
}

func TestHandOffTrapEndsOnlyTheReceiver(t *testing.T) {
	r := newRuntime(t)
	m := load(t, r, "handoff", []byte(handoffWAT))
	env := r.Environment()
	server := spawn(t, env, m, "then_trap")
	parked(t, server)
	// A timeout longer than the test's: the asker learns of the trap from
	// its request's watch.
	asker := spawn(t, env, m, "ask", I64(int64(server.ID())), I64(5), I64(time.Hour.Milliseconds()))
	var trap *TrapError
	if reason := wait(t, server); !errors.As(reason, &trap) || trap.Code != TrapUnreachableCodeReached {
		t.Fatalf("server: %v, want an unreachable trap", reason)
	}
	wantAskStatus(t, asker, abi.ErrNotFound, "its target ended before replying")
	wantBorrowed(t, server, 1, 1)
}

// A receiver that computes forever after the hand-off is given back at its
// first preemption: the asker's own timeout still fires.
func TestHandOffSpinningReceiverLetsTheAskerGo(t *testing.T) {
	r := newRuntime(t)
	m := load(t, r, "handoff", []byte(handoffWAT))
	env := r.Environment()
	server := spawn(t, env, m, "then_spin")
	parked(t, server)
	asker := spawn(t, env, m, "ask", I64(int64(server.ID())), I64(5), I64(50))
	wantTimedOut(t, asker)
	server.Kill()
	if reason := wait(t, server); reason != Killed {
		t.Fatalf("server: %v, want killed", reason)
	}
	wantBorrowed(t, server, 1, 1)
}

// Several askers race to borrow one echo while it is killed at a random
// point: nobody crashes, hangs or leaks, whatever state the kill meets.
func TestHandOffUnderContentionAndKills(t *testing.T) {
	r := newRuntime(t)
	msgs := load(t, r, "messages", []byte(messagesWAT))
	env := r.Environment()
	for round := range 6 {
		echo := spawn(t, env, msgs, "echo")
		pings := make([]*Process, 4)
		for i := range pings {
			pings[i] = spawn(t, env, msgs, "ping", I64(int64(echo.ID())), I64(3000))
		}
		if round%2 == 0 {
			// All of them finish: the echo answered every request once.
			for _, p := range pings {
				if reason := wait(t, p); reason != Normal {
					t.Fatalf("round %d: ping: %v", round, reason)
				}
			}
		} else {
			time.Sleep(time.Duration(round) * time.Millisecond)
			echo.Kill()
		}
		echo.Kill()
		if reason := wait(t, echo); reason != Killed {
			t.Fatalf("round %d: echo: %v", round, reason)
		}
		// A ping whose request reached the echo before the kill waits
		// forever for the answer; end those.
		var wg sync.WaitGroup
		for _, p := range pings {
			wg.Add(1)
			go func() {
				defer wg.Done()
				p.Kill()
				if _, err := p.Wait(testCtx(t)); err != nil {
					t.Errorf("%v did not end: %v", p, err)
				}
			}()
		}
		wg.Wait()
	}
}

// A receiver that answers with send_receive is served whole by its
// borrowers: each request is one borrow and no hand-back, and each reply
// arrives once.
func TestHandOffServesSendReceive(t *testing.T) {
	r := newRuntimeLongTicks(t)
	m := load(t, r, "handoff", []byte(handoffWAT))
	env := r.Environment()
	server := spawn(t, env, m, "serve_sr")
	parked(t, server)
	const n = 5
	asker := goProc(t, env, "asker", func(ctx context.Context, self *Self) error {
		for i := range uint64(n) {
			reply, err := self.Request(ctx, server.ID(), Message{Data: u64(i)})
			if err != nil {
				return err
			}
			if string(reply.Data) != string(u64(i)) {
				return fmt.Errorf("reply %d: %x", i, reply.Data)
			}
			if l := self.p.mb.Len(); l != 0 {
				return fmt.Errorf("after request %d: %d more messages", i, l)
			}
			for server.park.Load() != parkWaiting {
				if err := ctx.Err(); err != nil {
					return err
				}
				time.Sleep(time.Millisecond)
			}
		}
		return nil
	})
	if reason := wait(t, asker); reason != Normal {
		t.Fatalf("asker: %v", reason)
	}
	server.Kill()
	wait(t, server)
	wantBorrowed(t, server, n, 0)
}

// A Go-native process's request borrows a parked Wasm target too.
func TestHandOffFromGoProcess(t *testing.T) {
	r := newRuntime(t)
	m := load(t, r, "handoff", []byte(handoffWAT))
	env := r.Environment()
	server := spawn(t, env, m, "then_return")
	parked(t, server)
	asker := goProc(t, env, "asker", func(ctx context.Context, self *Self) error {
		reply, err := self.Request(ctx, server.ID(), Message{Data: u64(42)})
		if err == nil && string(reply.Data) != string(u64(42)) {
			err = fmt.Errorf("reply %x, want %x", reply.Data, u64(42))
		}
		return err
	})
	if reason := wait(t, asker); reason != Normal {
		t.Fatalf("asker: %v", reason)
	}
	if reason := wait(t, server); reason != Normal {
		t.Fatalf("server: %v", reason)
	}
	wantBorrowed(t, server, 1, 1)
}

// Requests along a chain of relays deeper than maxHandOffHops, from
// several askers at once, all come back. A relay killed mid-chain takes
// the relays before it down one by one, each learning from its request's
// watch that the next has ended (a relay exits when its send_receive
// fails): every asker gets its reply or ErrNotFound, none waits out its
// timeout.
func TestHandOffAlongAChain(t *testing.T) {
	r := newRuntime(t)
	m := load(t, r, "handoff", []byte(handoffWAT))
	msgs := load(t, r, "messages", []byte(messagesWAT))
	env := r.Environment()
	for _, kill := range []bool{false, true} {
		chain := []*Process{spawn(t, env, msgs, "echo")}
		for range maxHandOffHops + 2 {
			next := chain[len(chain)-1]
			chain = append(chain, spawn(t, env, m, "relay", I64(int64(next.ID()))))
		}
		head := chain[len(chain)-1]
		timeout := int64(-1)
		if kill {
			timeout = time.Hour.Milliseconds() // longer than the test's
		}
		var askers []*Process
		for round := range 5 {
			for i := range 4 {
				tag := int64(10 + 4*round + i) // a relay waits for its reply's tag
				askers = append(askers, spawn(t, env, m, "ask", I64(int64(head.ID())), I64(tag), I64(timeout)))
			}
			if kill && round == 2 {
				chain[len(chain)/2].Kill()
			}
		}
		for _, a := range askers {
			reason := wait(t, a)
			if st := askStatus(reason); st != abi.OK && !(kill && st == abi.ErrNotFound) {
				t.Fatalf("kill %v: asker: %v", kill, reason)
			}
		}
		for _, p := range chain {
			p.Kill()
			wait(t, p)
		}
	}
}
