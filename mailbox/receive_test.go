package mailbox_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/wardrt/ward/mailbox"
)

func TestOrderPerSender(t *testing.T) {
	mb := mailbox.New(mailbox.Limits{})
	const senders, each = 3, 50
	// Interleave the senders so that order per sender is not simply
	// order of pushing blocks.
	for i := range each {
		for s := uint64(1); s <= senders; s++ {
			mustPush(t, mb, seqMsg(s, 0, i))
		}
	}
	next := map[uint64]int{}
	for range senders * each {
		msg, ok := mb.TryReceive()
		if !ok {
			t.Fatal("TryReceive: mailbox empty too soon")
		}
		if got := decode(msg.Data); got != next[msg.Sender] {
			t.Fatalf("sender %d: got message %d, want %d", msg.Sender, got, next[msg.Sender])
		}
		next[msg.Sender]++
	}
	if _, ok := mb.TryReceive(); ok {
		t.Fatal("TryReceive: message left over")
	}
}

func TestTryReceiveEmpty(t *testing.T) {
	mb := mailbox.New(mailbox.Limits{})
	if msg, ok := mb.TryReceive(); ok {
		t.Fatalf("TryReceive on empty mailbox = %+v, true", msg)
	}
	if msg, ok := mb.TryReceive(1, 2); ok {
		t.Fatalf("TryReceive(1, 2) on empty mailbox = %+v, true", msg)
	}
	mustPush(t, mb, mailbox.Message{Tag: 3})
	if msg, ok := mb.TryReceive(1, 2); ok {
		t.Fatalf("TryReceive(1, 2) with only tag 3 queued = %+v, true", msg)
	}
	if mb.Len() != 1 {
		t.Fatalf("Len = %d after a failed selective receive, want 1", mb.Len())
	}
}

// A process waiting for one reply must find it quickly behind many
// unrelated messages, and must not disturb them.
func TestTagFilterManyWaiting(t *testing.T) {
	mb := mailbox.New(mailbox.Limits{})
	const others = 10_000
	for i := range others / 2 {
		mustPush(t, mb, seqMsg(1, 7, i))
	}
	mustPush(t, mb, mailbox.Message{Sender: 2, Tag: 42, Data: []byte("reply")})
	for i := others / 2; i < others; i++ {
		mustPush(t, mb, seqMsg(1, 7, i))
	}

	msg := mustReceive(t, mb, 42)
	if string(msg.Data) != "reply" || msg.Sender != 2 {
		t.Fatalf("Receive(42) = %+v, want the reply", msg)
	}
	if _, ok := mb.TryReceive(42); ok {
		t.Fatal("TryReceive(42) found a second reply")
	}
	for i := range others {
		msg, ok := mb.TryReceive()
		if !ok {
			t.Fatalf("mailbox empty after %d of %d messages", i, others)
		}
		if got := decode(msg.Data); got != i || msg.Tag != 7 {
			t.Fatalf("message %d: got seq %d tag %d", i, got, msg.Tag)
		}
	}
	if mb.Len() != 0 || mb.Bytes() != 0 {
		t.Fatalf("after draining: Len %d, Bytes %d, want 0, 0", mb.Len(), mb.Bytes())
	}
}

func TestTagSetTakesOldestMatch(t *testing.T) {
	mb := mailbox.New(mailbox.Limits{})
	for i, tag := range []int64{5, 3, 9, 2, 3, 0, 2} {
		mustPush(t, mb, seqMsg(0, tag, i))
	}
	var got []int
	for {
		msg, ok := mb.TryReceive(2, 3, 3) // a repeated tag is harmless
		if !ok {
			break
		}
		got = append(got, decode(msg.Data))
	}
	if diff := cmp.Diff([]int{1, 3, 4, 6}, got); diff != "" {
		t.Fatalf("receive(2, 3) order (-want +got):\n%s", diff)
	}
}

func TestTagZeroSelectsUntagged(t *testing.T) {
	mb := mailbox.New(mailbox.Limits{})
	mustPush(t, mb, seqMsg(0, 1, 0))
	mustPush(t, mb, seqMsg(0, 0, 1))
	mustPush(t, mb, seqMsg(0, -1, 2))
	mustPush(t, mb, seqMsg(0, 0, 3))
	for _, want := range []int{1, 3} {
		msg, ok := mb.TryReceive(0)
		if !ok || decode(msg.Data) != want {
			t.Fatalf("TryReceive(0) = %v, %v; want message %d", msg, ok, want)
		}
	}
	if _, ok := mb.TryReceive(0); ok {
		t.Fatal("TryReceive(0) returned a tagged message")
	}
	msg := mustReceive(t, mb, -1)
	if decode(msg.Data) != 2 {
		t.Fatalf("Receive(-1) = message %d, want 2", decode(msg.Data))
	}
}

// Selective receives take messages out of the middle; the plain receives
// after them must still see the rest in arrival order.
func TestUntaggedReceiveAfterTaggedKeepsOrder(t *testing.T) {
	mb := mailbox.New(mailbox.Limits{})
	tags := []int64{0, 1, 2, 1, 0, 2, 2, 1, 0, 3}
	for i, tag := range tags {
		mustPush(t, mb, seqMsg(0, tag, i))
	}
	// Take the first 1, then from {2, 3} twice, then the 3.
	steps := []struct {
		tags []int64
		want int
	}{
		{[]int64{1}, 1},
		{[]int64{3, 2}, 2},
		{[]int64{3, 2}, 5},
		{[]int64{3}, 9},
	}
	for _, s := range steps {
		msg, ok := mb.TryReceive(s.tags...)
		if !ok || decode(msg.Data) != s.want {
			t.Fatalf("TryReceive(%v) = %v, %v; want message %d", s.tags, msg, ok, s.want)
		}
	}
	var got []int
	for {
		msg, ok := mb.TryReceive()
		if !ok {
			break
		}
		got = append(got, decode(msg.Data))
	}
	if diff := cmp.Diff([]int{0, 3, 4, 6, 7, 8}, got); diff != "" {
		t.Fatalf("remaining order (-want +got):\n%s", diff)
	}
}

func TestReceiveTimeout(t *testing.T) {
	mb := mailbox.New(mailbox.Limits{})
	mustPush(t, mb, mailbox.Message{Tag: 1})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	msg, err := mb.Receive(ctx, 2)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Receive past deadline = %+v, %v; want an error wrapping DeadlineExceeded", msg, err)
	}
	if mb.Len() != 1 {
		t.Fatalf("Len = %d after timed-out receive, want 1", mb.Len())
	}
}

func TestReceiveCanceledWithCause(t *testing.T) {
	mb := mailbox.New(mailbox.Limits{})
	cause := errors.New("process killed")
	ctx, cancel := context.WithCancelCause(context.Background())
	done := make(chan error, 1)
	go func() {
		_, err := mb.Receive(ctx)
		done <- err
	}()
	cancel(cause)
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) || !errors.Is(err, cause) {
			t.Fatalf("Receive after cancel = %v; want it to wrap Canceled and the cause", err)
		}
	case <-time.After(hangTimeout):
		t.Fatal("Receive did not return after cancel")
	}
}

// A message already waiting is delivered even when the deadline has passed,
// like Erlang's "receive ... after 0".
func TestReceiveDoneContextStillDelivers(t *testing.T) {
	mb := mailbox.New(mailbox.Limits{})
	mustPush(t, mb, mailbox.Message{Data: []byte("x")})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	msg, err := mb.Receive(ctx)
	if err != nil || string(msg.Data) != "x" {
		t.Fatalf("Receive with done ctx = %+v, %v; want the waiting message", msg, err)
	}
	if _, err := mb.Receive(ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("Receive with done ctx on empty mailbox = %v, want Canceled", err)
	}
}

func TestReceiveWakesOnPush(t *testing.T) {
	mb := mailbox.New(mailbox.Limits{})
	got := make(chan mailbox.Message, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), hangTimeout)
		defer cancel()
		msg, err := mb.Receive(ctx, 9)
		if err != nil {
			t.Errorf("Receive: %v", err)
		}
		got <- msg
	}()
	// Non-matching messages wake the receiver, which must go back to sleep.
	for range 10 {
		mustPush(t, mb, mailbox.Message{Tag: 1})
		time.Sleep(time.Millisecond)
	}
	mustPush(t, mb, mailbox.Message{Tag: 9, Data: []byte("yes")})
	select {
	case msg := <-got:
		if string(msg.Data) != "yes" {
			t.Fatalf("Receive(9) = %+v", msg)
		}
	case <-time.After(hangTimeout):
		t.Fatal("Receive(9) did not wake")
	}
	if mb.Len() != 10 {
		t.Fatalf("Len = %d, want the 10 non-matching messages", mb.Len())
	}
}

func TestHandlesAndSenderCarried(t *testing.T) {
	mb := mailbox.New(mailbox.Limits{})
	type handle struct{ id int }
	h := &handle{id: 7}
	want := mailbox.Message{Sender: 12, Tag: 3, Data: []byte("d"), Handles: []any{h, "s"}}
	mustPush(t, mb, want)
	got := mustReceive(t, mb)
	if got.Sender != 12 || got.Tag != 3 || string(got.Data) != "d" ||
		len(got.Handles) != 2 || got.Handles[0] != any(h) || got.Handles[1] != "s" {
		t.Fatalf("received %+v, want %+v", got, want)
	}
}

// TryReceiveThen takes the oldest match, then offers the oldest messages
// left, in order, until one is refused; what was taken no longer counts
// against the limits.
func TestTryReceiveThenOffersTheFront(t *testing.T) {
	mb := mailbox.New(mailbox.Limits{MaxMessages: 6})
	for seq, tag := range []int64{1, 2, 1, 2, 1, 2} {
		mustPush(t, mb, seqMsg(9, tag, seq))
	}
	var offered []int
	msg, ok := mb.TryReceiveThen([]int64{2}, func(m mailbox.Message) bool {
		offered = append(offered, decode(m.Data))
		return len(offered) < 3 // takes two, refuses the third
	})
	if !ok || decode(msg.Data) != 1 {
		t.Fatalf("TryReceiveThen(2) = %v, %v; want message 1", msg, ok)
	}
	if diff := cmp.Diff([]int{0, 2, 3}, offered); diff != "" {
		t.Fatalf("offered (-want +got):\n%s", diff)
	}
	// Messages 3, 4 and 5 are left; the taken ones freed their places.
	if mb.Len() != 3 {
		t.Fatalf("Len = %d, want 3", mb.Len())
	}
	for seq := 6; seq < 9; seq++ {
		mustPush(t, mb, seqMsg(9, 1, seq))
	}
	if got := decode(mustReceive(t, mb).Data); got != 3 {
		t.Fatalf("next message is %d, want 3: the refused one stays first", got)
	}
	// No match: nothing is offered.
	if _, ok := mb.TryReceiveThen([]int64{7}, func(mailbox.Message) bool {
		t.Fatal("offered after a receive that found nothing")
		return false
	}); ok {
		t.Fatal("TryReceiveThen(7) found a message")
	}
}
