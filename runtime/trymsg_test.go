package runtime

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/wardrt/ward/environment"
	"github.com/wardrt/ward/internal/abi"
)

// try_send and try_receive (shim.c, "Synchronous message calls"): plain
// host calls that complete a send or a receive in C when the async call
// would have, and otherwise change nothing and return ErrAgain, after
// which the async call gives the answer.

const trymsgWAT = `(module $trymsg
  (import "ward_process" "exit" (func $exit (param i32)))
  (import "ward_process" "exists" (func $exists (param i64) (result i32)))
  (import "ward_message" "create_data" (func $create (param i64)))
  (import "ward_message" "write_data" (func $write (param i32 i32) (result i32)))
  (import "ward_message" "get_tag" (func $tag (result i64)))
  (import "ward_message" "sender" (func $sender (result i64)))
  (import "ward_message" "send" (func $send (param i64) (result i32)))
  (import "ward_message" "receive" (func $receive (param i32 i32 i64) (result i32)))
  (import "ward_message" "try_send" (func $try_send (param i64) (result i32)))
  (import "ward_message" "try_receive" (func $try_receive (param i32 i32) (result i32)))
  (memory (export "memory") 2)

  ;; try_then_send: make a message (tag, size bytes), try_send it to pid;
  ;; exit 1 when that said OK, else send it and exit with
  ;; 100 * try_send's status + 10 + send's status.
  (func (export "try_then_send") (param $pid i64) (param $tag i64) (param $size i32)
    (local $st i32)
    (call $create (local.get $tag))
    (drop (call $write (i32.const 0) (local.get $size)))
    (local.set $st (call $try_send (local.get $pid)))
    (if (i32.eqz (local.get $st)) (then (call $exit (i32.const 1))))
    (call $exit (i32.add (i32.mul (local.get $st) (i32.const 100))
      (i32.add (i32.const 10) (call $send (local.get $pid))))))

  ;; try_recv: try_receive with the filter given; exit 1000 + the tag when
  ;; that said OK, else receive with the same filter and timeout and exit
  ;; with 100 * try_receive's status + 10 + receive's status.
  (func $try_recv (export "try_recv") (param $ptr i32) (param $n i32) (param $timeout i64)
    (local $st i32)
    (i64.store (i32.const 16) (i64.const 1))
    (i64.store (i32.const 24) (i64.const 5))
    (local.set $st (call $try_receive (local.get $ptr) (local.get $n)))
    (if (i32.eqz (local.get $st))
      (then (call $exit (i32.add (i32.const 1000) (i32.wrap_i64 (call $tag))))))
    (call $exit (i32.add (i32.mul (local.get $st) (i32.const 100))
      (i32.add (i32.const 10) (call $receive (local.get $ptr) (local.get $n) (local.get $timeout))))))

  ;; kick_then_try: receive once in Go (with timeout 0: nothing is there),
  ;; which lets sends to it complete in C; kick pid (an empty message);
  ;; wait for tag 9, which pid sends behind its tag 1 messages; then
  ;; try_recv, with messages left in the intake.
  (func (export "kick_then_try") (param $pid i64) (param $ptr i32) (param $n i32) (param $timeout i64)
    (i64.store (i32.const 32) (i64.const 9))
    (drop (call $receive (i32.const 0) (i32.const 0) (i64.const 0)))
    (call $create (i64.const 0))
    (if (call $send (local.get $pid)) (then (call $exit (i32.const 2))))
    (if (call $receive (i32.const 32) (i32.const 1) (i64.const -1)) (then (call $exit (i32.const 3))))
    (call $try_recv (local.get $ptr) (local.get $n) (local.get $timeout)))

  ;; send_tags: wait for a message, then send its sender three messages
  ;; under tag 1 and one under tag 9, each try_send first.
  (func (export "send_tags")
    (local $pid i64) (local $i i32)
    (drop (call $receive (i32.const 0) (i32.const 0) (i64.const -1)))
    (local.set $pid (call $sender))
    (loop $l
      (call $create (select (i64.const 9) (i64.const 1) (i32.eq (local.get $i) (i32.const 3))))
      (if (i32.eq (call $try_send (local.get $pid)) (i32.const 8))
        (then (if (call $send (local.get $pid)) (then (call $exit (i32.const 2))))))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br_if $l (i32.lt_u (local.get $i) (i32.const 4)))))

  ;; try_only: wait for a message, then try_send messages of size bytes
  ;; (tag 3) to pid until one is not OK; send that one, and exit with
  ;; 1000 * try_send's last status + 100 * send's status + the try_sends
  ;; that said OK.
  (func (export "try_only") (param $pid i64) (param $size i32)
    (local $st i32) (local $n i32)
    (drop (call $receive (i32.const 0) (i32.const 0) (i64.const -1)))
    (loop $l
      (call $create (i64.const 3))
      (drop (call $write (i32.const 1024) (local.get $size)))
      (local.set $st (call $try_send (local.get $pid)))
      (if (i32.eqz (local.get $st)) (then
        (local.set $n (i32.add (local.get $n) (i32.const 1)))
        (br $l))))
    (call $exit (i32.add (i32.mul (local.get $st) (i32.const 1000))
      (i32.add (i32.mul (call $send (local.get $pid)) (i32.const 100)) (local.get $n)))))

  ;; park: receive forever.
  (func (export "park")
    (loop $l (drop (call $receive (i32.const 0) (i32.const 0) (i64.const -1))) (br $l)))
)`

// tryIntakeWAT is intakeWAT (sendinc_test.go) with every send and receive
// made as the guest SDKs make them: try_send or try_receive first, the
// async call when that says ErrAgain.
var tryIntakeWAT = strings.NewReplacer(
	"(call $send ", "(call $send_fast ",
	"(call $receive ", "(call $receive_fast ",
	`  (memory (export "memory") 1)`, `  (import "ward_message" "try_send" (func $try_send (param i64) (result i32)))
  (import "ward_message" "try_receive" (func $try_receive (param i32 i32) (result i32)))
  (memory (export "memory") 1)`+fastCallsWAT,
).Replace(intakeWAT)

// askedHost is the exit code of try_then_send and try_recv when the try
// said ErrAgain and the full call then returned st.
func askedHost(st int) int { return abi.ErrAgain*100 + 10 + st }

// try_send completes a send only to a local Wasm process that receives;
// anything else gets ErrAgain with the message left in place, and send
// then gives the answer send always gives.
func TestTrySendAsksTheHostWhenItCannot(t *testing.T) {
	r := newRuntime(t)
	env := r.Environment()
	m := load(t, r, "trymsg", []byte(trymsgWAT))
	ended := spawn(t, env, m, "try_recv", I32(0), I32(0), I64(0))
	wait(t, ended)
	got := make(chan Message, 1)
	gp := goProc(t, env, "go receiver", func(ctx context.Context, self *Self) error {
		msg, err := self.Receive(ctx)
		if err == nil {
			got <- msg
		}
		return err
	})
	idle := spawn(t, env, m, "try_only", I64(0), I32(0)) // waits in its first receive
	parked := spawn(t, env, m, "park")
	waitFor(t, testTimeout, "the receivers to wait", func() bool {
		return parked.park.Load() == parkWaiting && idle.park.Load() == parkWaiting
	})
	for _, tc := range []struct {
		name string
		to   ProcessID
		tag  int64
		size int32
		want int
	}{
		{"no such process", 1 << 40, 5, 8, askedHost(abi.ErrNotFound)},
		{"an ended process", ended.ID(), 5, 8, askedHost(abi.ErrNotFound)},
		{"a Go process", gp.ID(), 5, 100, askedHost(abi.OK)},
		{"a negative tag", parked.ID(), -5, 8, askedHost(abi.ErrInvalid)},
		{"a message too large for the intake", parked.ID(), 5, 70_000, askedHost(abi.OK)},
		{"a Wasm process that receives", parked.ID(), 5, 8, 1},
	} {
		p := spawn(t, env, m, "try_then_send", I64(int64(tc.to)), I64(tc.tag), I32(tc.size))
		if code := exitCode(t, wait(t, p)); code != tc.want {
			t.Errorf("%s: exit %d, want %d", tc.name, code, tc.want)
		}
	}
	select {
	case msg := <-got:
		if msg.Tag != 5 || len(msg.Data) != 100 {
			t.Errorf("the Go process got tag %d with %d bytes, want tag 5 with 100: try_send did not leave the message in place", msg.Tag, len(msg.Data))
		}
	case <-time.After(testTimeout):
		t.Fatal("the Go process got nothing")
	}
	wait(t, gp)
	// The first receive of a Wasm process is Go's: until then, a send to
	// it is Go's too.
	p := spawn(t, env, m, "try_then_send", I64(int64(idle.ID())), I64(5), I32(8))
	if code := exitCode(t, wait(t, p)); code != askedHost(abi.OK) && code != 1 {
		t.Errorf("to a process in its first receive: exit %d", code)
	}
	parked.Kill()
	idle.Kill()
}

// try_receive answers a bad filter as receive would, whether or not a
// message waits: too many tags is ErrAgain, after which receive reports
// ErrInvalid; a range outside memory traps. With nothing there it says
// ErrAgain; with a match, OK.
func TestTryReceiveBadFilters(t *testing.T) {
	r := newRuntime(t)
	env := r.Environment()
	m := load(t, r, "trymsg", []byte(trymsgWAT))
	const memEnd = 2 << 16
	tooMany := askedHost(abi.ErrInvalid)
	outside := hostTrap("ward_message.try_receive: pointer range outside the caller's memory")
	for _, tc := range []struct {
		name    string
		ptr, n  int32
		timeout int64
		code    int               // the exit code wanted, or
		trap    func(Reason) bool // the trap wanted
	}{
		{"any message", 0, 0, 0, 1001, nil},
		{"a matching filter", 16, 1, 0, 1001, nil},
		{"a filter nothing matches", 24, 1, 0, askedHost(abi.ErrTimeout), nil},
		{"one tag too many", 0, abi.MaxReceiveTags + 1, 0, tooMany, nil},
		{"2^31-1 tags", 0, 1<<31 - 1, 0, tooMany, nil},
		{"-1 tags", 0, -1, 0, tooMany, nil},
		{"tags past the end of memory", memEnd - 8, 2, 0, 0, outside},
		{"tags at 2^32-1", -1, 1, 0, 0, outside},
		{"no tags past the end of memory", memEnd + 1, 0, 0, 0, outside},
	} {
		for _, pending := range []bool{false, true} {
			var p *Process
			if pending {
				// Three messages of tag 1 left in its intake, sent in
				// C behind the tag 9 it then takes.
				sender := spawn(t, env, m, "send_tags")
				p = spawn(t, env, m, "kick_then_try", I64(int64(sender.ID())), I32(tc.ptr), I32(tc.n), I64(tc.timeout))
				defer wait(t, sender)
			} else {
				p = spawn(t, env, m, "try_recv", I32(tc.ptr), I32(tc.n), I64(tc.timeout))
			}
			reason := wait(t, p)
			switch {
			case tc.trap != nil:
				if !tc.trap(reason) {
					t.Errorf("%s (messages pending: %v): %v, want receive's trap", tc.name, pending, reason)
				}
			case !pending && tc.code > 1000:
				// Nothing to take: try_receive asks the host, and
				// receive times out.
				if code := exitCode(t, reason); code != askedHost(abi.ErrTimeout) {
					t.Errorf("%s (nothing pending): exit %d, want %d", tc.name, code, askedHost(abi.ErrTimeout))
				}
			default:
				if code := exitCode(t, reason); code != tc.code {
					t.Errorf("%s (messages pending: %v): exit %d, want %d", tc.name, pending, code, tc.code)
				}
			}
		}
	}
}

// A flood of try_sends alone is held to the receiver's mailbox limits: it
// completes exactly as many sends as the limits let in, then says
// ErrAgain, and send reports the full mailbox.
func TestTrySendHeldToMailboxLimits(t *testing.T) {
	for _, tc := range []struct {
		name      string
		msgs      int
		bytes     int
		size      int32
		wantTaken int
	}{
		{"messages", 4, 1 << 20, 1, 4},
		{"bytes", 1000, 100, 30, 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := newRuntime(t)
			env, err := r.NewEnvironment(environment.Config{MaxMailboxMessages: tc.msgs, MaxMailboxBytes: tc.bytes})
			if err != nil {
				t.Fatal(err)
			}
			hoard := spawn(t, env, load(t, r, "intake", []byte(intakeWAT)), "hoard")
			flood := spawn(t, env, load(t, r, "trymsg", []byte(trymsgWAT)), "try_only", I64(int64(hoard.ID())), I32(tc.size))
			if err := hoard.Send(testCtx(t), pidMessage(flood.ID())); err != nil {
				t.Fatal(err)
			}
			want := abi.ErrAgain*1000 + abi.ErrLimit*100 + tc.wantTaken
			if got := exitCode(t, wait(t, flood)); got != want {
				t.Fatalf("try_only exited %d, want %d (ErrAgain after %d sends, then ErrLimit)", got, want, tc.wantTaken)
			}
			if got := exitCode(t, wait(t, hoard)); got != tc.wantTaken {
				t.Errorf("the receiver took %d messages, want %d", got, tc.wantTaken)
			}
			if s := r.Stats(); s.MessagesSent != uint64(tc.wantTaken)+2 || s.MailboxFull != 1 {
				t.Errorf("Stats: %d sent, %d refused; want %d and 1", s.MessagesSent, s.MailboxFull, tc.wantTaken+2)
			}
		})
	}
}

// A receiver killed while a sender streams to it with try_send: the
// sender is refused from then on (try_send asks the host, send says
// ErrNotFound), and nothing of the receiver is left.
func TestTrySendReceiverKilledMidStream(t *testing.T) {
	r := newRuntime(t)
	env, err := r.NewEnvironment(environment.Config{})
	if err != nil {
		t.Fatal(err)
	}
	m := load(t, r, "tryintake", []byte(tryIntakeWAT))
	msgs := load(t, r, "messages", []byte(messagesWAT))
	base := baseline(t, env)
	for range 5 {
		sink := spawn(t, env, msgs, "sink", I64(0), I64(1<<40))
		blast := spawn(t, env, m, "blast_tag", I64(1<<40), I64(2))
		before := r.sentInC.Load()
		if err := blast.Send(testCtx(t), pidMessage(sink.ID())); err != nil {
			t.Fatal(err)
		}
		waitFor(t, testTimeout, "sends in C", func() bool { return r.sentInC.Load() > before+100 || blast.Reason() != nil })
		sink.Kill()
		if reason := wait(t, sink); reason != Killed {
			t.Fatal(reason)
		}
		if got := exitCode(t, wait(t, blast)); got != 1 {
			t.Fatalf("sender exited %d, want 1 (a refused send)", got)
		}
	}
	base.check(t, env)
}

const tryFuelWAT = `(module
  (import "ward_process" "exit" (func $exit (param i32)))
  (import "ward_message" "create_data" (func $create (param i64)))
  (import "ward_message" "send" (func $send (param i64) (result i32)))
  (import "ward_message" "receive" (func $receive (param i32 i32 i64) (result i32)))
  (import "ward_message" "try_receive" (func $try_receive (param i32 i32) (result i32)))
  (memory (export "memory") 1)
  ;; burn_sink: take n messages, try_receive first, and burn 10,000 turns
  ;; after each; exit with the number try_receive took.
  (func (export "burn_sink") (param $n i64)
    (local $took i32) (local $i i32)
    (block $d (loop $l
      (br_if $d (i64.eqz (local.get $n)))
      (if (i32.eqz (call $try_receive (i32.const 0) (i32.const 0)))
        (then (local.set $took (i32.add (local.get $took) (i32.const 1))))
        (else (if (call $receive (i32.const 0) (i32.const 0) (i64.const -1)) (then (unreachable)))))
      (local.set $i (i32.const 10000))
      (loop $burn
        (local.set $i (i32.sub (local.get $i) (i32.const 1)))
        (br_if $burn (local.get $i)))
      (local.set $n (i64.sub (local.get $n) (i64.const 1)))
      (br $l)))
    (call $exit (local.get $took)))
  ;; blast: n messages to pid
  (func (export "blast") (param $to i64) (param $n i64)
    (block $d (loop $l
      (br_if $d (i64.eqz (local.get $n)))
      (call $create (i64.const 1))
      (if (call $send (local.get $to)) (then (unreachable)))
      (local.set $n (i64.sub (local.get $n) (i64.const 1)))
      (br $l)))))`

// A message try_receive takes refills the receiver's fuel, as one the
// async receive takes does (environment.FuelPerMessage): 30 messages of
// 10,000 turns each would not fit in one tank.
func TestTryReceiveRefillsFuel(t *testing.T) {
	r := newRuntime(t, WithEpochInterval(200*time.Millisecond),
		WithRootEnvironment(environment.Config{FuelScope: environment.FuelPerMessage}))
	m := load(t, r, "tryfuel", []byte(tryFuelWAT))
	perMessage := envWith(t, r, environment.Config{MaxFuel: 200_000, FuelScope: environment.FuelPerMessage})
	sink := spawn(t, perMessage, m, "burn_sink", I64(30))
	parked(t, sink)
	blast := spawn(t, r.Environment(), m, "blast", I64(int64(sink.ID())), I64(30))
	if reason := wait(t, blast); reason != Normal {
		t.Fatalf("sender: %v", reason)
	}
	took := exitCode(t, wait(t, sink)) // out of fuel would be a trap
	if took == 0 {
		t.Fatal("try_receive took none of the 30 messages: the test proves nothing")
	}
	if used := sink.FuelUsed(); used <= 200_000 {
		t.Fatalf("the sink used %d fuel over 30 messages, not past one tank: the test proves nothing", used)
	}
}
