package mailbox_test

import (
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/wardrt/ward/mailbox"
)

// fullError asserts that err is a *FullError matching ErrFull and returns it.
func fullError(t *testing.T, err error) *mailbox.FullError {
	t.Helper()
	if !errors.Is(err, mailbox.ErrFull) {
		t.Fatalf("error %v does not match ErrFull", err)
	}
	var fe *mailbox.FullError
	if !errors.As(err, &fe) {
		t.Fatalf("error %v is not a *FullError", err)
	}
	return fe
}

// drainSeq receives everything and checks it is messages 0..n-1 in order.
func drainSeq(t *testing.T, mb *mailbox.Mailbox, n int) {
	t.Helper()
	for i := range n {
		msg, ok := mb.TryReceive()
		if !ok {
			t.Fatalf("mailbox empty after %d of %d messages", i, n)
		}
		if got := decode(msg.Data); got != i {
			t.Fatalf("message %d has seq %d: a message was dropped or reordered", i, got)
		}
	}
	if msg, ok := mb.TryReceive(); ok {
		t.Fatalf("unexpected extra message %+v", msg)
	}
}

func TestFloodMessageLimit(t *testing.T) {
	const limit = 100
	mb := mailbox.New(mailbox.Limits{MaxMessages: limit})
	accepted := 0
	for i := range 3 * limit {
		err := mb.Push(seqMsg(1, 0, accepted))
		if err == nil {
			accepted++
			continue
		}
		fe := fullError(t, err)
		want := mailbox.FullError{Limit: mailbox.LimitMessages, Max: limit, Used: limit, Size: 1}
		if diff := cmp.Diff(want, *fe); diff != "" {
			t.Fatalf("push %d: FullError (-want +got):\n%s", i, diff)
		}
	}
	if accepted != limit || mb.Len() != limit {
		t.Fatalf("accepted %d, Len %d; want both %d", accepted, mb.Len(), limit)
	}
	drainSeq(t, mb, limit)

	// Draining makes room again.
	for i := range limit {
		mustPush(t, mb, seqMsg(1, 0, i))
	}
	drainSeq(t, mb, limit)
}

func TestFloodByteLimit(t *testing.T) {
	const limit = 1000
	mb := mailbox.New(mailbox.Limits{MaxBytes: limit})
	pad := func(seq int) mailbox.Message {
		msg := seqMsg(1, 0, seq)
		msg.Data = append(msg.Data, make([]byte, 96)...) // 100 bytes each
		return msg
	}
	accepted := 0
	for range 30 {
		err := mb.Push(pad(accepted))
		if err == nil {
			accepted++
			continue
		}
		fe := fullError(t, err)
		want := mailbox.FullError{Limit: mailbox.LimitBytes, Max: limit, Used: limit, Size: 100}
		if diff := cmp.Diff(want, *fe); diff != "" {
			t.Fatalf("FullError (-want +got):\n%s", diff)
		}
	}
	if accepted != 10 || mb.Bytes() != limit {
		t.Fatalf("accepted %d, Bytes %d; want 10, %d", accepted, mb.Bytes(), limit)
	}
	// A message without data still fits: the byte limit is about bytes.
	mustPush(t, mb, mailbox.Message{Tag: 5})
	if _, ok := mb.TryReceive(5); !ok {
		t.Fatal("empty message not received")
	}
	drainSeq(t, mb, 10)
	if mb.Bytes() != 0 {
		t.Fatalf("Bytes = %d after draining, want 0", mb.Bytes())
	}
	for i := range 10 {
		mustPush(t, mb, pad(i))
	}
	drainSeq(t, mb, 10)
}

func TestMessageLargerThanByteLimit(t *testing.T) {
	mb := mailbox.New(mailbox.Limits{MaxBytes: 10})
	err := mb.Push(mailbox.Message{Data: make([]byte, 11)})
	fe := fullError(t, err)
	if fe.Limit != mailbox.LimitBytes || fe.Used != 0 || fe.Size != 11 {
		t.Fatalf("FullError = %+v", fe)
	}
	if mb.Len() != 0 {
		t.Fatalf("Len = %d, want 0", mb.Len())
	}
}

func TestPushSignalIgnoresLimits(t *testing.T) {
	mb := mailbox.New(mailbox.Limits{MaxMessages: 2, MaxBytes: 8})
	mustPush(t, mb, seqMsg(1, 0, 0))
	mustPush(t, mb, seqMsg(1, 0, 1))
	if err := mb.Push(seqMsg(1, 0, 2)); !errors.Is(err, mailbox.ErrFull) {
		t.Fatalf("Push to full mailbox = %v, want ErrFull", err)
	}
	// Past both limits at once.
	for i := 2; i < 5; i++ {
		if err := mb.PushSignal(seqMsg(9, -1, i)); err != nil {
			t.Fatalf("PushSignal %d: %v", i, err)
		}
	}
	if mb.Len() != 5 || mb.Bytes() != 20 {
		t.Fatalf("Len %d, Bytes %d; want 5, 20", mb.Len(), mb.Bytes())
	}
	// Ordinary pushes keep failing while signals hold the mailbox over.
	err := mb.Push(mailbox.Message{})
	if fe := fullError(t, err); fe.Used != 5 || fe.Max != 2 {
		t.Fatalf("FullError = %+v, want Used 5 over Max 2", fe)
	}
	// Signals queue behind earlier messages.
	drainSeq(t, mb, 5)
}

// Limits must be enforced with the defaults when left zero; a negative
// limit, which could never admit a message, also means the default.
func TestZeroAndNegativeLimitsMeanDefaults(t *testing.T) {
	tooBig := make([]byte, mailbox.DefaultMaxBytes+1)
	for _, l := range []mailbox.Limits{{}, {MaxMessages: -1, MaxBytes: -5}} {
		mb := mailbox.New(l)
		err := mb.Push(mailbox.Message{Data: tooBig})
		if fe := fullError(t, err); fe.Max != mailbox.DefaultMaxBytes {
			t.Fatalf("Limits %+v: byte limit %d, want default %d", l, fe.Max, mailbox.DefaultMaxBytes)
		}
		mustPush(t, mb, mailbox.Message{Data: []byte("ok")})
	}
}

// PushQuiet queues like Push, under the same limits, without a token in
// Notify.
func TestPushQuietKeepsLimitsAndLeavesNotify(t *testing.T) {
	mb := mailbox.New(mailbox.Limits{MaxMessages: 2, MaxBytes: 8})
	for i := range 2 {
		if err := mb.PushQuiet(seqMsg(1, 0, i)); err != nil {
			t.Fatalf("PushQuiet %d: %v", i, err)
		}
	}
	select {
	case <-mb.Notify():
		t.Fatal("PushQuiet left a token in Notify")
	default:
	}
	if fe := fullError(t, mb.PushQuiet(seqMsg(1, 0, 2))); fe.Limit != mailbox.LimitMessages {
		t.Fatalf("FullError = %+v, want the message limit", fe)
	}
	drainSeq(t, mb, 2)
	mb.Close()
	if err := mb.PushQuiet(seqMsg(1, 0, 3)); !errors.Is(err, mailbox.ErrClosed) {
		t.Fatalf("PushQuiet after Close = %v, want ErrClosed", err)
	}
}

// CheckFull reports a mailbox at either limit, signals included, and
// nothing below them or once closed.
func TestCheckFull(t *testing.T) {
	mb := mailbox.New(mailbox.Limits{MaxMessages: 2, MaxBytes: 10})
	if err := mb.CheckFull(); err != nil {
		t.Fatalf("empty: %v", err)
	}
	if err := mb.Push(mailbox.Message{Data: make([]byte, 4)}); err != nil {
		t.Fatal(err)
	}
	if err := mb.CheckFull(); err != nil {
		t.Fatalf("one message of two: %v", err)
	}
	if err := mb.PushSignal(mailbox.Message{}); err != nil {
		t.Fatal(err)
	}
	if fe := fullError(t, mb.CheckFull()); fe.Limit != mailbox.LimitMessages || fe.Used != 2 {
		t.Errorf("at MaxMessages: %+v", fe)
	}
	mb.TryReceive()
	mb.TryReceive()
	if err := mb.PushSignal(mailbox.Message{Data: make([]byte, 12)}); err != nil {
		t.Fatal(err)
	}
	if fe := fullError(t, mb.CheckFull()); fe.Limit != mailbox.LimitBytes || fe.Used != 12 {
		t.Errorf("past MaxBytes: %+v", fe)
	}
	mb.Close()
	if err := mb.CheckFull(); err != nil {
		t.Errorf("closed: %v", err)
	}
}
