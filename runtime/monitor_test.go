package runtime

import (
	"context"
	"fmt"
	"testing"
)

// A monitor that fired is forgotten by its watcher too: a long-lived
// supervisor watching short-lived children must not grow.
func TestFiredMonitorsAreForgotten(t *testing.T) {
	r := newRuntime(t)
	env := r.Environment()
	m := loadMessages(t, r)
	reason := wait(t, goProc(t, env, "watcher", func(ctx context.Context, self *Self) error {
		for range 20 {
			child, err := env.Spawn(ctx, m, "crash")
			if err != nil {
				return err
			}
			self.Monitor(child.ID())
			if _, err := self.Receive(ctx, TagDown); err != nil {
				return err
			}
		}
		r.sigMu.Lock()
		defer r.sigMu.Unlock()
		if n := len(self.p.sig.watching); n != 0 {
			return fmt.Errorf("%d fired monitors still held", n)
		}
		return nil
	}))
	if reason != Normal {
		t.Fatal(reason)
	}
}
