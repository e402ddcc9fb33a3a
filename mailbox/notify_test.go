package mailbox_test

import (
	"testing"

	"github.com/wardrt/ward/mailbox"
)

// TestNotifyMadeLate: the Notify channel is made only when a consumer
// first waits, and is then as if it had been there from the start: a
// wake or push before it leaves a value in it, a close before it leaves
// it closed, and it is the same channel every time.
func TestNotifyMadeLate(t *testing.T) {
	t.Run("wake", func(t *testing.T) {
		mb := mailbox.New(mailbox.Limits{})
		mb.Wake()
		c := mb.Notify()
		select {
		case <-c:
		default:
			t.Fatal("a Wake before the first Notify left no value in its channel")
		}
		if mb.Notify() != c {
			t.Fatal("Notify returned another channel")
		}
		select {
		case <-c:
			t.Fatal("one Wake left two values")
		default:
		}
	})
	t.Run("push", func(t *testing.T) {
		mb := mailbox.New(mailbox.Limits{})
		mustPush(t, mb, mailbox.Message{Tag: 1})
		select {
		case <-mb.Notify():
		default:
			t.Fatal("a Push before the first Notify left no value in its channel")
		}
	})
	t.Run("quiet", func(t *testing.T) {
		mb := mailbox.New(mailbox.Limits{})
		if err := mb.PushQuiet(mailbox.Message{Tag: 1}); err != nil {
			t.Fatal(err)
		}
		select {
		case <-mb.Notify():
			t.Fatal("a PushQuiet before the first Notify left a value in its channel")
		default:
		}
	})
	t.Run("close", func(t *testing.T) {
		mb := mailbox.New(mailbox.Limits{})
		mb.Wake()
		mb.Close()
		c := mb.Notify()
		for range 2 { // the wake's value, if any, then closed
			select {
			case _, open := <-c:
				if !open {
					return
				}
			default:
				t.Fatal("Notify after Close returned an open, empty channel")
			}
		}
		t.Fatal("Notify after Close returned a channel that is not closed")
	})
}
