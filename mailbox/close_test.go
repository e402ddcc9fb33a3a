package mailbox_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/wardrt/ward/mailbox"
)

func TestCloseWakesBlockedReceiver(t *testing.T) {
	mb := mailbox.New(mailbox.Limits{})
	started := make(chan struct{})
	done := make(chan error, 1)
	go func() {
		close(started)
		_, err := mb.Receive(context.Background(), 1)
		done <- err
	}()
	<-started
	mustPush(t, mb, mailbox.Message{Tag: 2}) // not what it waits for
	time.Sleep(5 * time.Millisecond)         // let it block; either way the result must be ErrClosed
	if n := mb.Close(); n != 1 {
		t.Fatalf("Close dropped %d, want 1", n)
	}
	select {
	case err := <-done:
		if !errors.Is(err, mailbox.ErrClosed) {
			t.Fatalf("blocked Receive woke with %v, want ErrClosed", err)
		}
	case <-time.After(hangTimeout):
		t.Fatal("Close did not wake the blocked receiver")
	}
}

func TestClosedMailbox(t *testing.T) {
	mb := mailbox.New(mailbox.Limits{})
	for i := range 3 {
		mustPush(t, mb, seqMsg(1, int64(i), i))
	}
	if n := mb.Close(); n != 3 {
		t.Fatalf("Close dropped %d, want 3", n)
	}
	if err := mb.Push(mailbox.Message{}); !errors.Is(err, mailbox.ErrClosed) {
		t.Fatalf("Push after Close = %v, want ErrClosed", err)
	}
	if err := mb.PushSignal(mailbox.Message{}); !errors.Is(err, mailbox.ErrClosed) {
		t.Fatalf("PushSignal after Close = %v, want ErrClosed", err)
	}
	if msg, ok := mb.TryReceive(); ok {
		t.Fatalf("TryReceive after Close = %+v", msg)
	}
	if _, err := mb.Receive(context.Background()); !errors.Is(err, mailbox.ErrClosed) {
		t.Fatalf("Receive after Close = %v, want ErrClosed", err)
	}
	if mb.Len() != 0 || mb.Bytes() != 0 {
		t.Fatalf("Len %d, Bytes %d after Close; want 0, 0", mb.Len(), mb.Bytes())
	}
	select {
	case _, open := <-mb.Notify():
		if open {
			// A token left from the pushes is allowed; the close must follow.
			if _, open = <-mb.Notify(); open {
				t.Fatal("Notify channel not closed")
			}
		}
	case <-time.After(hangTimeout):
		t.Fatal("Notify channel not closed")
	}
	if n := mb.Close(); n != 0 {
		t.Fatalf("second Close dropped %d, want 0", n)
	}
}

func TestCloseWithReleasesInOrder(t *testing.T) {
	mb := mailbox.New(mailbox.Limits{})
	for i := range 5 {
		mustPush(t, mb, seqMsg(1, int64(i%2), i))
	}
	_, _ = mb.TryReceive(1) // message 1 is gone before the close
	var released []int
	n := mb.CloseWith(func(msg mailbox.Message) {
		released = append(released, decode(msg.Data))
		// The mailbox is closed and unlocked by now.
		if err := mb.Push(mailbox.Message{}); !errors.Is(err, mailbox.ErrClosed) {
			t.Errorf("Push from release = %v, want ErrClosed", err)
		}
	})
	if n != 4 {
		t.Fatalf("CloseWith dropped %d, want 4", n)
	}
	if diff := cmp.Diff([]int{0, 2, 3, 4}, released); diff != "" {
		t.Fatalf("released (-want +got):\n%s", diff)
	}
}

// TestWakeSignalsWithoutQueueing: Wake leaves one value in Notify and
// queues nothing; after Close it does nothing (and does not panic on the
// closed channel).
func TestWakeSignalsWithoutQueueing(t *testing.T) {
	m := mailbox.New(mailbox.Limits{})
	m.Wake()
	m.Wake() // a second value is not queued: the buffer holds one
	select {
	case <-m.Notify():
	default:
		t.Fatal("Wake left no value in Notify")
	}
	select {
	case <-m.Notify():
		t.Fatal("two Wakes left two values")
	default:
	}
	if n := m.Len(); n != 0 {
		t.Fatalf("Len = %d after Wake, want 0", n)
	}
	if _, ok := m.TryReceive(); ok {
		t.Fatal("Wake queued a message")
	}
	m.Close()
	m.Wake()
	if _, open := <-m.Notify(); open {
		t.Fatal("Notify is open after Close")
	}
}
