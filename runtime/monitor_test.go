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
			if _, err := self.Monitor(child.ID()); err != nil {
				return err
			}
			if _, err := self.Receive(ctx, TagDown); err != nil {
				return err
			}
		}
		if n := numWatching(self.p); n != 0 {
			return fmt.Errorf("%d fired monitors still held", n)
		}
		return nil
	}))
	if reason != Normal {
		t.Fatal(reason)
	}
}

// Once Demonitor has returned, the monitor's DOWN cannot arrive, even when
// the target was ending meanwhile: a DOWN is either queued before
// Demonitor returns or never. The target has many trapping peers, so its
// exit signals take long enough for Demonitor to land amid them.
func TestNoDownAfterDemonitor(t *testing.T) {
	r := newRuntime(t)
	env := r.Environment()
	block := func(ctx context.Context, _ *Self) error { <-ctx.Done(); return nil }
	watcher := goProc(t, env, "watcher", block)
	dead := func(p *Process) bool {
		p.sig.mu.Lock()
		defer p.sig.mu.Unlock()
		return p.sig.dead
	}
	for round := range 5 {
		target := goProc(t, env, "target", block)
		var peers []*Process
		for range 500 {
			peer := goProc(t, env, "peer", func(ctx context.Context, self *Self) error {
				self.TrapExit(true)
				<-ctx.Done()
				return nil
			})
			if err := r.link(peer, target); err != nil {
				t.Fatal(err)
			}
			peers = append(peers, peer)
		}
		ref, err := r.monitor(watcher, target.ID())
		if err != nil {
			t.Fatal(err)
		}
		target.Kill()
		for !dead(target) {
		}
		fired := !r.demonitor(watcher, ref)
		queued := watcher.mb.Len()
		wait(t, target)
		if fired != (queued == 1) {
			t.Errorf("round %d: Demonitor reported fired=%v with %d messages queued", round, fired, queued)
		}
		if n := watcher.mb.Len(); n != queued {
			t.Errorf("round %d: %d messages when Demonitor returned, %d once the target had ended", round, queued, n)
		}
		for watcher.mb.Len() > 0 {
			watcher.mb.TryReceive()
		}
		for _, p := range peers {
			p.Kill()
		}
	}
}
