package runtime

import (
	"context"
	goruntime "runtime"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wardrt/ward/environment"
	"github.com/wardrt/ward/internal/abi"
	"github.com/wardrt/ward/internal/wasm"
	"github.com/wardrt/ward/mailbox"
)

// Sends completed in C (internal/wasm/inbox.go, shim.c "Local sends"):
// a Wasm process's send to a local Wasm process that receives, runs, and
// has an empty mailbox goes straight into the receiver's inbox.

const intakeWAT = `(module $intake
  (import "ward_process" "exit" (func $exit (param i32)))
  (import "ward_process" "exists" (func $exists (param i64) (result i32)))
  (import "ward_message" "create_data" (func $create (param i64)))
  (import "ward_message" "write_data" (func $write (param i32 i32) (result i32)))
  (import "ward_message" "read_data" (func $read (param i32 i32) (result i32)))
  (import "ward_message" "sender" (func $sender (result i64)))
  (import "ward_message" "send" (func $send (param i64) (result i32)))
  (import "ward_message" "receive" (func $receive (param i32 i32 i64) (result i32)))
  (memory (export "memory") 1)

  ;; hoard: take one message, whose data is a pid; tell that process to
  ;; start (an empty message), then, never waiting in a receive, poll
  ;; until it has ended; exit with the number of messages it can then take
  ;; without waiting.
  (func (export "hoard")
    (local $pid i64) (local $n i32)
    (drop (call $receive (i32.const 0) (i32.const 0) (i64.const -1)))
    (drop (call $read (i32.const 0) (i32.const 8)))
    (local.set $pid (i64.load (i32.const 0)))
    (call $create (i64.const 1))
    (if (call $send (local.get $pid)) (then (call $exit (i32.const 200))))
    (loop $l (br_if $l (call $exists (local.get $pid))))
    (block $done (loop $l
      (br_if $done (call $receive (i32.const 0) (i32.const 0) (i64.const 0)))
      (local.set $n (i32.add (local.get $n) (i32.const 1)))
      (br $l)))
    (call $exit (local.get $n)))

  ;; flood: wait for a message, then send messages of size bytes (tag 3)
  ;; to pid until one is refused; exit with its status.
  (func (export "flood") (param $pid i64) (param $size i32)
    (local $st i32)
    (drop (call $receive (i32.const 0) (i32.const 0) (i64.const -1)))
    (loop $l
      (call $create (i64.const 3))
      (drop (call $write (i32.const 1024) (local.get $size)))
      (local.set $st (call $send (local.get $pid)))
      (br_if $l (i32.eqz (local.get $st))))
    (call $exit (local.get $st)))

  ;; blast_tag: wait for a message, whose data is a pid, then send n
  ;; messages (tag, 8 bytes: 0 to n-1) to it; exit 1 when a send fails.
  (func (export "blast_tag") (param $n i64) (param $tag i64)
    (local $i i64) (local $pid i64)
    (drop (call $receive (i32.const 0) (i32.const 0) (i64.const -1)))
    (drop (call $read (i32.const 0) (i32.const 8)))
    (local.set $pid (i64.load (i32.const 0)))
    (block $done (loop $l
      (br_if $done (i64.ge_u (local.get $i) (local.get $n)))
      (call $create (local.get $tag))
      (i64.store (i32.const 0) (local.get $i))
      (drop (call $write (i32.const 0) (i32.const 8)))
      (if (call $send (local.get $pid)) (then (call $exit (i32.const 1))))
      (local.set $i (i64.add (local.get $i) (i64.const 1)))
      (br $l))))

  ;; check: receive 2n messages, n from a (sent under tag 2) and n from b
  ;; (tag 3), every other receive only of tag 3 while b has some left;
  ;; exit 2 when a sender's numbers are out of order, 3 for a message
  ;; from anyone else, 4 for a failed receive.
  (func (export "check") (param $a i64) (param $b i64) (param $n i64)
    (local $i i64) (local $na i64) (local $nb i64) (local $s i64) (local $seq i64)
    (i64.store (i32.const 16) (i64.const 3))
    (block $done (loop $l
      (br_if $done (i64.ge_u (local.get $i) (i64.mul (local.get $n) (i64.const 2))))
      (if (i32.and (i64.lt_u (local.get $nb) (local.get $n))
                   (i32.wrap_i64 (i64.and (local.get $i) (i64.const 1))))
        (then (if (call $receive (i32.const 16) (i32.const 1) (i64.const -1))
          (then (call $exit (i32.const 4)))))
        (else (if (call $receive (i32.const 0) (i32.const 0) (i64.const -1))
          (then (call $exit (i32.const 4))))))
      (drop (call $read (i32.const 0) (i32.const 8)))
      (local.set $seq (i64.load (i32.const 0)))
      (local.set $s (call $sender))
      (if (i64.eq (local.get $s) (local.get $a))
        (then
          (if (i64.ne (local.get $seq) (local.get $na)) (then (call $exit (i32.const 2))))
          (local.set $na (i64.add (local.get $na) (i64.const 1))))
        (else (if (i64.eq (local.get $s) (local.get $b))
          (then
            (if (i64.ne (local.get $seq) (local.get $nb)) (then (call $exit (i32.const 2))))
            (local.set $nb (i64.add (local.get $nb) (i64.const 1))))
          (else (call $exit (i32.const 3))))))
      (local.set $i (i64.add (local.get $i) (i64.const 1)))
      (br $l))))
)`

func pidMessage(id ProcessID) Message {
	d := make([]byte, 8)
	for i := range 8 {
		d[i] = byte(uint64(id) >> (8 * i))
	}
	return Message{Data: d}
}

// A receiver that runs without receiving takes, through sends in C, at
// most its mailbox limits into its intake, and then the sender gets
// ErrLimit: a flood is held to the limits whichever way its messages go.
func TestSendInCHeldToMailboxLimits(t *testing.T) {
	for _, tc := range []struct {
		name      string
		msgs      int
		bytes     int
		size      int32
		wantTaken int
	}{
		{"messages", 4, 1 << 20, 1, 4},
		{"more messages", 64, 1 << 20, 1, 64},
		{"bytes", 1000, 100, 30, 3}, // 3 messages of 30 bytes fit in 100
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := newRuntime(t)
			env, err := r.NewEnvironment(environment.Config{MaxMailboxMessages: tc.msgs, MaxMailboxBytes: tc.bytes})
			if err != nil {
				t.Fatal(err)
			}
			m := load(t, r, "intake", []byte(intakeWAT))
			hoard := spawn(t, env, m, "hoard")
			flood := spawn(t, env, m, "flood", I64(int64(hoard.ID())), I32(tc.size))
			if err := hoard.Send(testCtx(t), pidMessage(flood.ID())); err != nil {
				t.Fatal(err)
			}
			if got := exitCode(t, wait(t, flood)); got != abi.ErrLimit {
				t.Fatalf("flood ended with status %d, want ErrLimit (%d)", got, abi.ErrLimit)
			}
			if got := exitCode(t, wait(t, hoard)); got != tc.wantTaken {
				t.Errorf("the receiver took %d messages, want %d", got, tc.wantTaken)
			}
			if r.sentInC.Load() == 0 {
				t.Error("no send completed in C: the test proves nothing")
			}
			if s := r.Stats(); s.MessagesSent != uint64(tc.wantTaken)+2 || s.MailboxFull != 1 {
				t.Errorf("Stats: %d sent, %d refused; want %d and 1", s.MessagesSent, s.MailboxFull, tc.wantTaken+2)
			}
		})
	}
}

// Two senders, their messages going through C and through Go as the
// receiver waits or not, reach a receiver that alternates selective and
// plain receives: each sender's messages arrive in the order sent. With
// the guests' sends and receives made as the SDKs make them (try_send and
// try_receive first), and without.
func TestSendInCKeepsOrderPerSender(t *testing.T) {
	for _, guest := range []struct{ name, wat string }{{"intake", intakeWAT}, {"tryintake", tryIntakeWAT}} {
		t.Run(guest.name, func(t *testing.T) {
			r := newRuntime(t)
			env := r.Environment()
			m := load(t, r, guest.name, []byte(guest.wat))
			const n = 3000
			for round := range 3 {
				before := r.sentInC.Load()
				a := spawn(t, env, m, "blast_tag", I64(n), I64(2))
				b := spawn(t, env, m, "blast_tag", I64(n), I64(3))
				chk := spawn(t, env, m, "check", I64(int64(a.ID())), I64(int64(b.ID())), I64(n))
				// Once it waits, it has received in Go, so sends to it may
				// complete in C.
				waitFor(t, testTimeout, "the checker to wait", func() bool { return chk.park.Load() == parkWaiting })
				for _, s := range []*Process{a, b} {
					if err := s.Send(testCtx(t), pidMessage(chk.ID())); err != nil {
						t.Fatal(err)
					}
				}
				if reason := wait(t, chk); reason != Normal {
					t.Fatalf("round %d: checker: %v (exit 2: out of order, 3: a stranger, 4: a failed receive)", round, reason)
				}
				for _, s := range []*Process{a, b} {
					if reason := wait(t, s); reason != Normal {
						t.Fatalf("round %d: sender: %v", round, reason)
					}
				}
				t.Logf("round %d: %d of %d sends completed in C", round, r.sentInC.Load()-before, 2*n)
				if r.sentInC.Load() == before {
					t.Errorf("round %d: no send completed in C: the test proves nothing", round)
				}
			}
		})
	}
}

// leakBaseline is what a test of ending processes must find again once
// they have ended: the inboxes and intake messages allocated, the
// environment's memory charged, the open file descriptors.
type leakBaseline struct {
	inboxes, intake int64
	used            uint64
	fds             int
}

func baseline(t *testing.T, env *Environment) leakBaseline {
	return leakBaseline{wasm.LiveInboxes(), wasm.LiveIntake(), env.mem.Used(), openFDs(t)}
}

func (b leakBaseline) check(t *testing.T, env *Environment) {
	t.Helper()
	waitFor(t, 10*time.Second, "inboxes and intake messages to be freed", func() bool {
		return wasm.LiveInboxes() == b.inboxes && wasm.LiveIntake() == b.intake
	})
	if used := env.mem.Used(); used != b.used {
		t.Errorf("the environment's budget holds %d bytes, want %d", used, b.used)
	}
	if fds := openFDs(t); fds != b.fds {
		t.Errorf("%d file descriptors open, want %d", fds, b.fds)
	}
}

// A receiver killed while a sender streams to it in C: the sender is
// refused from then on, and nothing of the receiver is left (its inbox,
// its charge to the budget).
func TestSendInCReceiverKilledMidStream(t *testing.T) {
	r := newRuntime(t)
	env, err := r.NewEnvironment(environment.Config{})
	if err != nil {
		t.Fatal(err)
	}
	m := load(t, r, "intake", []byte(intakeWAT))
	msgs := load(t, r, "messages", []byte(messagesWAT))
	base := baseline(t, env)
	for range 5 {
		sink := spawn(t, env, msgs, "sink", I64(0), I64(1<<40))
		blast := spawn(t, env, m, "blast_tag", I64(1<<40), I64(2))
		before := r.sentInC.Load()
		if err := blast.Send(testCtx(t), pidMessage(sink.ID())); err != nil {
			t.Fatal(err)
		}
		waitFor(t, 10*time.Second, "sends in C", func() bool { return r.sentInC.Load() > before+100 || blast.Reason() != nil })
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

// A sender killed while it streams in C leaves its receiver whole: it
// still takes messages, and once it ends nothing is left.
func TestSendInCSenderKilledMidStream(t *testing.T) {
	r := newRuntime(t)
	env, err := r.NewEnvironment(environment.Config{})
	if err != nil {
		t.Fatal(err)
	}
	m := load(t, r, "intake", []byte(intakeWAT))
	msgs := load(t, r, "messages", []byte(messagesWAT))
	base := baseline(t, env)
	killed := 0
	for range 5 {
		sink := spawn(t, env, msgs, "sink", I64(0), I64(1<<40))
		// Fewer than the sink's mailbox holds, so that no send is
		// refused however far behind it falls.
		blast := spawn(t, env, m, "blast_tag", I64(mailbox.DefaultMaxMessages-1), I64(2))
		before := r.sentInC.Load()
		if err := blast.Send(testCtx(t), pidMessage(sink.ID())); err != nil {
			t.Fatal(err)
		}
		waitFor(t, 10*time.Second, "sends in C", func() bool { return r.sentInC.Load() > before || blast.Reason() != nil })
		blast.Kill()
		switch reason := wait(t, blast); reason {
		case Killed:
			killed++
		case Normal: // it had sent them all
		default:
			t.Fatalf("sender: %v", reason)
		}
		// The receiver goes on: it takes what is left, then waits.
		waitFor(t, 10*time.Second, "the receiver to take every message", func() bool { return sink.mb.Len() == 0 })
		if err := sink.Send(testCtx(t), Message{Data: []byte("still there")}); err != nil {
			t.Fatal(err)
		}
		waitFor(t, 10*time.Second, "the receiver to take a message from Go", func() bool { return sink.mb.Len() == 0 })
		if sink.Reason() != nil {
			t.Fatalf("receiver: %v", sink.Reason())
		}
		sink.Kill()
		wait(t, sink)
	}
	if killed == 0 {
		t.Error("every sender had finished before it was killed: the test proves nothing")
	}
	base.check(t, env)
}

// A receiver woken for a message its filter leaves sleeps again, and the
// next send in C that it wants must wake it again.
func TestSendInCWakesAgainAfterAMessageTheFilterLeaves(t *testing.T) {
	r := newRuntime(t)
	env := r.Environment()
	m := load(t, r, "intake", []byte(intakeWAT))
	msgs := load(t, r, "messages", []byte(messagesWAT))
	q := spawn(t, env, msgs, "recv_one", I64(3), I64(-1))
	waitFor(t, testTimeout, "the receiver to wait", func() bool { return q.park.Load() == parkWaiting })
	for _, tag := range []int64{2, 3} {
		before := r.sentInC.Load()
		s := spawn(t, env, m, "blast_tag", I64(1), I64(tag))
		if err := s.Send(testCtx(t), pidMessage(q.ID())); err != nil {
			t.Fatal(err)
		}
		if reason := wait(t, s); reason != Normal {
			t.Fatalf("sender of tag %d: %v", tag, reason)
		}
		if r.sentInC.Load() == before {
			t.Fatalf("the send of tag %d did not complete in C: the test proves nothing", tag)
		}
		if tag == 2 {
			// Woken, it left the message in its mailbox (the intake
			// drained there), and sleeps again.
			waitFor(t, testTimeout, "the receiver to wait again", func() bool {
				return q.park.Load() == parkWaiting && q.wp.MailboxCount() == 1
			})
		}
	}
	if reason := wait(t, q); reason != Normal {
		t.Fatalf("receiver: %v", reason)
	}
}

// askAnyWAT's ask_any sends an empty message to peer with send_receive and
// waits, without a timeout, for any reply; exit 100 when that fails.
const askAnyWAT = `(module
  (import "ward_process" "exit" (func $exit (param i32)))
  (import "ward_message" "create_data" (func $create (param i64)))
  (import "ward_message" "send_receive" (func $send_receive (param i64 i32 i32 i64) (result i32)))
  (memory (export "memory") 1)
  (func (export "ask_any") (param $peer i64)
    (call $create (i64.const 1))
    (if (call $send_receive (local.get $peer) (i32.const 0) (i32.const 0) (i64.const -1))
      (then (call $exit (i32.const 100))))))`

// A message sent in C while the receiver is not yet waiting (so that no
// wake is owed) and then moved from the intake into the mailbox by someone
// else (Stats, a link or monitor: none of them wakes anyone) must still be
// seen by the receiver before it parks. The receiver is held between its
// last look and its wait by the lock its request watch needs (the
// target's), while the message is sent and drained.
func TestSendInCDrainedBeforeTheWaitIsNotLost(t *testing.T) {
	r := newRuntime(t)
	env := r.Environment()
	m := load(t, r, "intake", []byte(intakeWAT))
	ask := load(t, r, "ask_any", []byte(askAnyWAT))
	held := 0
	for attempt := 0; attempt < 20 && held < 3; attempt++ {
		target := goProc(t, env, "target", func(ctx context.Context, self *Self) error {
			<-ctx.Done()
			return nil
		})
		sender := spawn(t, env, m, "blast_tag", I64(1), I64(1))
		target.sig.mu.Lock()
		locked := true
		unlock := func() {
			if locked {
				locked = false
				target.sig.mu.Unlock()
			}
		}
		asker := spawn(t, env, ask, "ask_any", I64(int64(target.ID())))
		waitFor(t, testTimeout, "the request", func() bool { return target.mb.Len() == 1 })
		before := r.sentInC.Load()
		if err := sender.Send(testCtx(t), pidMessage(asker.ID())); err != nil {
			unlock()
			t.Fatal(err)
		}
		if reason := wait(t, sender); reason != Normal {
			unlock()
			t.Fatalf("sender: %v", reason)
		}
		select {
		case <-asker.Done():
			// The message came before the asker's last look: this
			// attempt proves nothing.
			unlock()
		default:
			if r.sentInC.Load() != before {
				held++
			}
			r.Stats() // moves the asker's intake into its mailbox
			unlock()
		}
		ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
		reason, err := asker.Wait(ctx)
		cancel()
		if err != nil {
			t.Fatalf("the asker never took the message in its mailbox (%d in it)", asker.mb.Len())
		}
		if reason != Normal {
			t.Fatalf("asker: %v", reason)
		}
		target.Kill()
		wait(t, target)
	}
	if held == 0 {
		t.Fatal("no attempt held the asker before its wait with a message sent in C: the test proves nothing")
	}
}

// While another goroutine drains the receiver's intake into its mailbox
// (as Stats does), each sender's messages still arrive in the order sent:
// a receive in C must not take a message appended behind the ones being
// drained before they reach the mailbox. It is told not to by the
// mailbox count, which must include them from the moment they leave the
// intake (drainWatch checks that at every drain; the order check alone
// catches the race only now and then).
func TestSendInCKeepsOrderPerSenderWhileDrained(t *testing.T) {
	r := newRuntime(t)
	env := r.Environment()
	m := load(t, r, "intake", []byte(intakeWAT))
	const n = 3000
	drains := int64(0)
	for round := range 10 {
		before := r.sentInC.Load()
		a := spawn(t, env, m, "blast_tag", I64(n), I64(2))
		b := spawn(t, env, m, "blast_tag", I64(n), I64(3))
		chk := spawn(t, env, m, "check", I64(int64(a.ID())), I64(int64(b.ID())), I64(n))
		// Once it waits, it has received in Go, so sends to it may
		// complete in C, and its intake is attached.
		waitFor(t, 10*time.Second, "the checker to wait", func() bool { return chk.park.Load() == parkWaiting })
		watch := &drainWatch{Proc: chk.wp}
		chk.mb.SetIntake(watch)
		drained := make(chan struct{})
		go func() {
			defer close(drained)
			for {
				select {
				case <-chk.Done():
					return
				default:
					chk.mb.Len()
					goruntime.Gosched()
				}
			}
		}()
		for _, s := range []*Process{a, b} {
			if err := s.Send(testCtx(t), pidMessage(chk.ID())); err != nil {
				t.Fatal(err)
			}
		}
		reason := wait(t, chk)
		<-drained
		if reason != Normal {
			t.Fatalf("round %d: checker: %v (exit 2: out of order, 3: a stranger, 4: a failed receive)", round, reason)
		}
		for _, s := range []*Process{a, b} {
			if reason := wait(t, s); reason != Normal {
				t.Fatalf("round %d: sender: %v", round, reason)
			}
		}
		if r.sentInC.Load() == before {
			t.Errorf("round %d: no send completed in C: the test proves nothing", round)
		}
		if short, drains := watch.short.Load(), watch.drains.Load(); short > 0 {
			t.Fatalf("round %d: %d of %d drains left the messages they moved out of the mailbox count a receive in C reads", round, short, drains)
		}
		drains += watch.drains.Load()
	}
	if drains == 0 {
		t.Error("no drain moved a message: the test proves nothing")
	}
}

// drainWatch is a process's intake that checks, at each drain, the
// mailbox count a receive in C reads while the drained messages are on
// their way into the mailbox: one that leaves them out lets it take a
// message sent behind them first.
type drainWatch struct {
	*wasm.Proc
	published     int // under the mailbox's lock, as every call here is
	drains, short atomic.Int64
}

func (d *drainWatch) Publish(count, bytes int) {
	d.published = count
	d.Proc.Publish(count, bytes)
}

func (d *drainWatch) Drain(push func(mailbox.Message)) {
	var msgs []mailbox.Message
	d.Proc.Drain(func(m mailbox.Message) { msgs = append(msgs, m) })
	if len(msgs) > 0 {
		d.drains.Add(1)
		if d.Proc.MailboxCount() < d.published+len(msgs) {
			d.short.Add(1)
		}
	}
	for _, m := range msgs {
		push(m)
	}
}
