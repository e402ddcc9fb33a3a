package mailbox_test

import (
	"testing"

	"github.com/wardrt/ward/mailbox"
)

// TestCounts checks that Counts tells queued pushes from refused ones and
// leaves signals and pushes after Close out.
func TestCounts(t *testing.T) {
	mb := mailbox.New(mailbox.Limits{MaxMessages: 2, MaxBytes: 4})
	_ = mb.Push(mailbox.Message{Data: []byte("a")})
	_ = mb.PushQuiet(mailbox.Message{Data: []byte("b")})
	_ = mb.Push(mailbox.Message{})                      // full: messages
	_ = mb.PushSignal(mailbox.Message{Tag: -1})         // not counted
	mb.TryReceive()                                     // room for one message
	mb.TryReceive()                                     // and another
	_ = mb.Push(mailbox.Message{Data: []byte("12345")}) // full: bytes
	if a, r := mb.Counts(); a != 2 || r != 2 {
		t.Fatalf("Counts = %d accepted, %d refused; want 2, 2", a, r)
	}
	mb.Close()
	_ = mb.Push(mailbox.Message{})
	if a, r := mb.Counts(); a != 2 || r != 2 {
		t.Fatalf("after Close, Counts = %d accepted, %d refused; want 2, 2", a, r)
	}
}
