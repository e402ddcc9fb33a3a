package runtime

import (
	"errors"
	"testing"

	"github.com/wardrt/ward/environment"
	"github.com/wardrt/ward/mailbox"
)

// A process's mailbox has its environment's limits, not the package's.
func TestMailboxHasEnvironmentLimits(t *testing.T) {
	r := newRuntime(t)
	env := childEnv(t, r.Environment(), environment.Config{MaxMailboxMessages: 3, MaxMailboxBytes: 100})
	p := goProc(t, env, "idle", blockGo)
	ctx := testCtx(t)
	for i := range 3 {
		if err := p.Send(ctx, Message{Data: []byte("x")}); err != nil {
			t.Fatalf("message %d: %v", i, err)
		}
	}
	var fe *mailbox.FullError
	if err := p.Send(ctx, Message{}); !errors.As(err, &fe) || fe.Limit != mailbox.LimitMessages || fe.Max != 3 {
		t.Fatalf("a 4th message: %v, want the mailbox full at MaxMailboxMessages 3", err)
	}
	q := goProc(t, env, "idle", blockGo)
	if err := q.Send(ctx, Message{Data: make([]byte, 101)}); !errors.As(err, &fe) || fe.Limit != mailbox.LimitBytes || fe.Max != 100 {
		t.Fatalf("101 bytes: %v, want the mailbox full at MaxMailboxBytes 100", err)
	}
}
