package mailbox_test

import (
	"context"
	"testing"
	"time"

	"github.com/wardrt/ward/mailbox"
)

// hangTimeout bounds waits that only fail when something hangs. It is
// generous because the test machines are shared and slow under -race.
const hangTimeout = 10 * time.Second

func mustPush(t testing.TB, mb *mailbox.Mailbox, msg mailbox.Message) {
	t.Helper()
	if err := mb.Push(msg); err != nil {
		t.Fatalf("Push(%+v): %v", msg, err)
	}
}

// mustReceive receives with a hang guard.
func mustReceive(t testing.TB, mb *mailbox.Mailbox, tags ...int64) mailbox.Message {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), hangTimeout)
	defer cancel()
	msg, err := mb.Receive(ctx, tags...)
	if err != nil {
		t.Fatalf("Receive(%v): %v", tags, err)
	}
	return msg
}

// seqMsg is a message whose place in its sender's sequence can be checked
// on receipt: seq is encoded in Data.
func seqMsg(sender uint64, tag int64, seq int) mailbox.Message {
	return mailbox.Message{Sender: sender, Tag: tag, Data: encode(seq)}
}

func encode(n int) []byte {
	return []byte{byte(n >> 24), byte(n >> 16), byte(n >> 8), byte(n)}
}

func decode(b []byte) int {
	return int(b[0])<<24 | int(b[1])<<16 | int(b[2])<<8 | int(b[3])
}
