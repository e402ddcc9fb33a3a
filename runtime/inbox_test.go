package runtime

import (
	"context"
	"encoding/binary"
	"errors"
	"strings"
	"testing"

	"github.com/wardrt/ward/internal/wasm"
)

// inboxWAT: guests that receive with tag filters from a backlog, checking
// each message's first 8 bytes (a sequence number).
//
// Memory: 0 the receive filter; 64 the data buffer.
const inboxWAT = `(module $inbox
  (import "ward_process" "exit" (func $exit (param i32)))
  (import "ward_message" "create_data" (func $create (param i64)))
  (import "ward_message" "read_data" (func $read (param i32 i32) (result i32)))
  (import "ward_message" "receive" (func $receive (param i32 i32 i64) (result i32)))
  (import "ward_message" "send_receive" (func $send_receive (param i64 i32 i32 i64) (result i32)))
  (memory (export "memory") 1)

  ;; check: exit 50 unless the current message's sequence number is want
  (func $check (param $want i64)
    (i64.store (i32.const 64) (i64.const -1))
    (drop (call $read (i32.const 64) (i32.const 8)))
    (if (i64.ne (i64.load (i32.const 64)) (local.get $want)) (then (call $exit (i32.const 50)))))
  ;; expect: receive the next message tagged tag; it must be number want
  (func $expect (param $tag i64) (param $want i64)
    (i64.store (i32.const 0) (local.get $tag))
    (if (call $receive (i32.const 0) (i32.const 1) (i64.const -1)) (then (call $exit (i32.const 60))))
    (call $check (local.get $want)))

  ;; ordered: after tag 99, the n odd numbers under tag 2, then the n even
  ;; ones under tag 1
  (func (export "ordered") (param $n i64)
    (local $i i64)
    (call $expect (i64.const 99) (i64.const -99))
    (loop $l
      (call $expect (i64.const 2) (i64.add (i64.mul (local.get $i) (i64.const 2)) (i64.const 1)))
      (br_if $l (i64.lt_u (local.tee $i (i64.add (local.get $i) (i64.const 1))) (local.get $n))))
    (local.set $i (i64.const 0))
    (loop $l
      (call $expect (i64.const 1) (i64.mul (local.get $i) (i64.const 2)))
      (br_if $l (i64.lt_u (local.tee $i (i64.add (local.get $i) (i64.const 1))) (local.get $n)))))

  ;; fill_then_empty: after tag 99, a message filling the inbox's bytes
  ;; (tag 1, number 1) and an empty one (tag 2)
  (func (export "fill_then_empty")
    (call $expect (i64.const 99) (i64.const -99))
    (call $expect (i64.const 1) (i64.const 1))
    (call $expect (i64.const 2) (i64.const -1)))

  ;; reply_ahead: after tag 99 and tag 5, a send_receive to peer whose
  ;; answer, tag 7 number 100, is already queued
  (func (export "reply_ahead") (param $peer i64)
    (call $expect (i64.const 99) (i64.const -99))
    (call $expect (i64.const 5) (i64.const 5))
    (call $create (i64.const 1))
    (i64.store (i32.const 0) (i64.const 7))
    (if (call $send_receive (local.get $peer) (i32.const 0) (i32.const 1) (i64.const -1))
      (then (call $exit (i32.const 61))))
    (call $check (i64.const 100)))

  ;; bad_empty_filter: after tag 99, a receive of any tag whose filter
  ;; pointer lies outside memory
  (func (export "bad_empty_filter")
    (call $expect (i64.const 99) (i64.const -99))
    (drop (call $receive (i32.const -16) (i32.const 0) (i64.const -1))))
)`

func seqMessage(tag int64, seq int64, size int) Message {
	data := make([]byte, max(size, 8))
	binary.LittleEndian.PutUint64(data, uint64(seq))
	return Message{Tag: tag, Data: data}
}

// A backlog received under tag filters comes out in each tag's order,
// whether a message was moved into the guest's inbox or stayed in the
// mailbox, and a message too big for the inbox stops the move without
// being passed over.
func TestInboxKeepsSelectiveOrder(t *testing.T) {
	r := newRuntime(t)
	env := r.Environment()
	m := load(t, r, "inbox", []byte(inboxWAT))
	const n = 40
	p := spawn(t, env, m, "ordered", I64(n))
	parked(t, p) // in its receive of tag 99
	ctx := testCtx(t)
	for seq := range int64(2 * n) {
		size := 8
		if seq == 7 {
			size = wasm.InboxBytes + 1
		}
		if err := p.Send(ctx, seqMessage(1+seq%2, seq, size)); err != nil {
			t.Fatal(err)
		}
	}
	if err := p.Send(ctx, seqMessage(99, -99, 8)); err != nil {
		t.Fatal(err)
	}
	if reason := wait(t, p); reason != Normal {
		t.Fatalf("ordered: %v (exit 50: a message out of order)", reason)
	}
	if p.aheads < wasm.InboxMessages {
		t.Errorf("%d messages went ahead into the inbox, want at least %d", p.aheads, wasm.InboxMessages)
	}
}

// send_receive, which C does not serve, still finds its answer when it is
// already in the inbox.
func TestInboxAnswersSendReceive(t *testing.T) {
	r := newRuntime(t)
	env := r.Environment()
	m := load(t, r, "inbox", []byte(inboxWAT))
	sink := goProc(t, env, "sink", func(ctx context.Context, self *Self) error {
		<-ctx.Done()
		return nil
	})
	p := spawn(t, env, m, "reply_ahead", I64(int64(sink.ID())))
	parked(t, p)
	ctx := testCtx(t)
	for _, msg := range []Message{seqMessage(5, 5, 8), seqMessage(7, 100, 8), seqMessage(7, 101, 8), seqMessage(99, -99, 8)} {
		if err := p.Send(ctx, msg); err != nil {
			t.Fatal(err)
		}
	}
	if reason := wait(t, p); reason != Normal {
		t.Fatalf("reply_ahead: %v", reason)
	}
	if p.aheads != 3 {
		t.Errorf("%d messages went ahead, want 3", p.aheads)
	}
	sink.Kill()
}

// An empty message behind others that fill the inbox's bytes exactly goes
// ahead too: it used to index one past the inbox's buffer and crash the
// host.
func TestInboxTakesAnEmptyMessageWhenFull(t *testing.T) {
	r := newRuntime(t)
	env := r.Environment()
	m := load(t, r, "inbox", []byte(inboxWAT))
	p := spawn(t, env, m, "fill_then_empty")
	parked(t, p)
	ctx := testCtx(t)
	for _, msg := range []Message{seqMessage(1, 1, wasm.InboxBytes), {Tag: 2}, seqMessage(99, -99, 8)} {
		if err := p.Send(ctx, msg); err != nil {
			t.Fatal(err)
		}
	}
	if reason := wait(t, p); reason != Normal {
		t.Fatalf("fill_then_empty: %v", reason)
	}
	if p.aheads != 2 {
		t.Errorf("%d messages went ahead, want 2", p.aheads)
	}
}

// A filter of no tags whose pointer lies outside memory traps the guest
// whether the receive would be answered from the inbox or from the
// mailbox: the inbox once answered it, so the outcome depended on timing.
func TestInboxRefusesABadEmptyFilterAsGoDoes(t *testing.T) {
	for _, backlog := range []bool{false, true} {
		r := newRuntime(t)
		m := load(t, r, "inbox", []byte(inboxWAT))
		p := spawn(t, r.Environment(), m, "bad_empty_filter")
		parked(t, p)
		ctx := testCtx(t)
		if backlog { // queued ahead of tag 99, so it goes into the inbox
			if err := p.Send(ctx, seqMessage(1, 1, 8)); err != nil {
				t.Fatal(err)
			}
		}
		if err := p.Send(ctx, seqMessage(99, -99, 8)); err != nil {
			t.Fatal(err)
		}
		var te *TrapError
		if reason := wait(t, p); !errors.As(reason, &te) || !strings.Contains(te.Message, "tags outside") {
			t.Errorf("backlog %v: %v, want a trap for tags outside memory", backlog, reason)
		}
		if backlog && p.aheads != 1 {
			t.Errorf("backlog: %d messages went ahead, want 1", p.aheads)
		}
	}
}

// noMemoryWAT receives without a memory of its own: any tag, three times,
// after a sleep during which the test queues tags 1, 2 and 3.
const noMemoryWAT = `(module $nomemory
  (import "ward_process" "exit" (func $exit (param i32)))
  (import "ward_process" "sleep_ms" (func $sleep (param i64)))
  (import "ward_message" "receive" (func $receive (param i32 i32 i64) (result i32)))
  (import "ward_message" "get_tag" (func $tag (result i64)))
  (func $next (param $want i64) (param $timeout i64)
    (if (call $receive (i32.const 0) (i32.const 0) (local.get $timeout))
      (then (call $exit (i32.add (i32.const 10) (i32.wrap_i64 (local.get $want))))))
    (if (i64.ne (call $tag) (local.get $want))
      (then (call $exit (i32.add (i32.const 20) (i32.wrap_i64 (local.get $want)))))))
  (func (export "three")
    (call $sleep (i64.const 200))
    (call $next (i64.const 1) (i64.const -1))
    (call $next (i64.const 2) (i64.const 0))
    (call $next (i64.const 3) (i64.const 0))))`

// A guest without a memory receives from its inbox like any other: the
// messages moved there were stranded, as C looked for them only in a
// guest with a memory and Go never looks.
func TestInboxServesAGuestWithoutMemory(t *testing.T) {
	r := newRuntime(t)
	m := load(t, r, "nomemory", []byte(noMemoryWAT))
	p := spawn(t, r.Environment(), m, "three")
	ctx := testCtx(t)
	for tag := range int64(3) {
		if err := p.Send(ctx, Message{Tag: tag + 1}); err != nil {
			t.Fatal(err)
		}
	}
	if reason := wait(t, p); reason != Normal {
		t.Fatalf("three: %v (exit 1x: no message, 2x: another tag)", reason)
	}
	if p.aheads != 2 {
		t.Errorf("%d messages went ahead, want 2 (were the sends later than the guest's 200 ms sleep?)", p.aheads)
	}
}
