package mailbox_test

import (
	"testing"

	"github.com/wardrt/ward/mailbox"
)

// sliceIntake is an Intake over a slice.
type sliceIntake struct{ msgs []mailbox.Message }

func (s *sliceIntake) Pending() bool { return len(s.msgs) > 0 }
func (s *sliceIntake) Drain(push func(mailbox.Message)) {
	for _, m := range s.msgs {
		push(m)
	}
	s.msgs = nil
}
func (s *sliceIntake) Publish(count, bytes int) {}

// Empty agrees with TryReceive: false while a message is queued or waits
// in the intake, true once both are empty; and it moves nothing.
func TestEmptyAgreesWithTryReceive(t *testing.T) {
	mb := mailbox.New(mailbox.Limits{})
	if !mb.Empty() {
		t.Fatal("a new mailbox is not Empty")
	}
	mustPush(t, mb, seqMsg(1, 0, 0))
	if mb.Empty() {
		t.Fatal("Empty with a message queued")
	}
	if _, ok := mb.TryReceive(); !ok {
		t.Fatal("TryReceive found nothing")
	}
	if !mb.Empty() {
		t.Fatal("not Empty once its only message was taken")
	}

	in := &sliceIntake{}
	mb.SetIntake(in)
	in.msgs = append(in.msgs, seqMsg(2, 0, 1))
	if mb.Empty() {
		t.Fatal("Empty with a message in the intake")
	}
	if len(in.msgs) != 1 {
		t.Fatal("Empty drained the intake")
	}
	if msg, ok := mb.TryReceive(); !ok || decode(msg.Data) != 1 {
		t.Fatalf("TryReceive = %v, %v; want the intake's message", msg, ok)
	}
	if !mb.Empty() {
		t.Fatal("not Empty once the intake's message was taken")
	}
	mb.Close()
	if !mb.Empty() {
		t.Fatal("a closed mailbox is not Empty")
	}
}
