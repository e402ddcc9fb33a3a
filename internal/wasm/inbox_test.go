//go:build linux && (amd64 || arm64) && cgo

package wasm

import (
	"testing"

	"github.com/wardrt/ward/mailbox"
)

// An upgrade publishes the mailbox's counts into the new instance
// (SetIntake), then moves the intake there (MoveInbox). A send through Go
// in between publishes a count the move must keep: left with an older,
// lower one, the new instance would take its intake's messages in C ahead
// of the older one in its mailbox, and let senders in C past its limits.
func TestMoveInboxKeepsTheCountsPublishedToTheNewInstance(t *testing.T) {
	e := newTestEngine(t)
	m, err := e.Compile([]byte(testWAT))
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	old, err := m.NewProc(7, 1<<20, 1<<40, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer old.Free()
	neu, err := m.NewProc(7, 1<<20, 1<<40, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer neu.Free()
	mb := mailbox.New(mailbox.Limits{})
	defer mb.SetIntake(nil)
	mb.SetIntake(old)
	old.ReceiveInC(mailbox.DefaultMaxMessages, mailbox.DefaultMaxBytes)

	// As runtime/upgrade.go does, with a push where another goroutine's
	// may come.
	old.Wait()
	mb.SetIntake(neu)
	if err := mb.Push(mailbox.Message{Data: []byte("through Go")}); err != nil {
		t.Fatal(err)
	}
	old.MoveInbox(neu)
	neu.Resume()

	if got := neu.MailboxCount(); got != 1 {
		t.Fatalf("the new instance's published mailbox count is %d after the move; the mailbox holds 1", got)
	}
}
