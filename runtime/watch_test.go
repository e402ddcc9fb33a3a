package runtime

import (
	"context"
	"testing"
	"time"

	"github.com/wardrt/ward/internal/abi"
)

// A guest's send_receive watches its target: a target that ends before it
// replies (normally, by a trap, or killed) fails the call at once with
// ErrNotFound, whatever the timeout, and leaves nothing in the mailbox.
func TestSendReceiveFailsWhenTheTargetEnds(t *testing.T) {
	r := newRuntime(t)
	m := load(t, r, "handoff", []byte(handoffWAT))
	env := r.Environment()
	forever := I64(time.Hour.Milliseconds())
	for _, c := range []struct {
		entry string
		kill  bool
	}{{"then_exit", false}, {"then_trap", false}, {"sink", true}} {
		t.Run(c.entry, func(t *testing.T) {
			server := spawn(t, env, m, c.entry)
			parked(t, server)
			asker := spawn(t, env, m, "ask_clean", I64(int64(server.ID())), I64(5), forever)
			if c.kill {
				// The sink took the request and waits again; the asker
				// watches it, and waits or is about to.
				waitFor(t, testTimeout, "the asker to watch the sink", func() bool {
					return numWatchers(server) == 1
				})
				server.Kill()
			}
			wantAskStatus(t, asker, abi.ErrNotFound, "its target ended before replying")
			wait(t, server)
		})
	}
}

// A request that ends by a reply or a timeout ends its watch: the target
// keeps no watcher, and no DOWN comes later. then_return replies and ends
// at once, so its DOWN races the reply; the reply, queued first, wins.
func TestSendReceiveLeavesNoWatch(t *testing.T) {
	r := newRuntime(t)
	m := load(t, r, "handoff", []byte(handoffWAT))
	msgs := load(t, r, "messages", []byte(messagesWAT))
	env := r.Environment()
	watchers := numWatchers
	echo := spawn(t, env, msgs, "echo")
	sink := spawn(t, env, m, "sink")
	for i := range 50 {
		asker := spawn(t, env, m, "ask_clean", I64(int64(echo.ID())), I64(int64(i+1)), I64(-1))
		if reason := wait(t, asker); reason != Normal {
			t.Fatalf("ask %d of the echo: %v", i, reason)
		}
		asker = spawn(t, env, m, "ask_clean", I64(int64(sink.ID())), I64(int64(i+1)), I64(1))
		wantAskStatus(t, asker, abi.ErrTimeout, "the sink never replies")

		server := spawn(t, env, m, "then_return")
		asker = spawn(t, env, m, "ask_clean", I64(int64(server.ID())), I64(int64(i+1)), I64(-1))
		if reason := wait(t, asker); reason != Normal {
			t.Fatalf("ask %d of a server that replies and ends: %v", i, reason)
		}
	}
	if n, k := watchers(echo), watchers(sink); n != 0 || k != 0 {
		t.Errorf("watchers left: %d on the echo, %d on the sink", n, k)
	}
}

// endRequest after the watch fired takes the DOWN that propagateExit
// queued, so a reply that won the race leaves nothing behind; given the
// DOWN itself, it reports that the target ended.
func TestEndRequestAfterTheWatchFired(t *testing.T) {
	r := newRuntime(t)
	env := r.Environment()
	block := func(ctx context.Context, _ *Self) error { <-ctx.Done(); return nil }
	asker := goProc(t, env, "asker", block)
	for _, takeDown := range []bool{false, true} {
		target := goProc(t, env, "target", block)
		asker.requestTo = target.ID()
		asker.watchPending(nil)
		ref := asker.request
		target.Kill()
		wait(t, target)
		var down Message
		if takeDown {
			var ok bool
			if down, ok = asker.mb.TryReceive(requestTag(ref)); !ok {
				t.Fatal("no DOWN queued under the request's tag once the target has ended")
			}
		}
		if ended := asker.endRequest(down); ended != takeDown {
			t.Errorf("endRequest(DOWN given: %v) = %v", takeDown, ended)
		}
		if asker.request != 0 || asker.mb.Len() != 0 {
			t.Errorf("after endRequest: request %d, %d messages left", asker.request, asker.mb.Len())
		}
	}
}

// A requester parked on its watched request and borrowed by senders whose
// messages it does not want keeps its filter as it was: each such borrow
// used to add the watch's tag to it once more.
func TestBorrowsKeepTheRequestFilter(t *testing.T) {
	r := newRuntime(t)
	m := load(t, r, "handoff", []byte(handoffWAT))
	env := r.Environment()
	sink := spawn(t, env, m, "sink")
	asker := spawn(t, env, m, "ask", I64(int64(sink.ID())), I64(5), I64(-1))
	parked(t, asker)
	sender := goProc(t, env, "sender", func(ctx context.Context, self *Self) error {
		for range 100 {
			for asker.park.Load() != parkWaiting { // so that each send borrows it
				if err := ctx.Err(); err != nil {
					return err
				}
				time.Sleep(100 * time.Microsecond)
			}
			if err := self.send(asker.ID(), Message{Tag: 7}, maxHandOffHops); err != nil {
				return err
			}
		}
		return nil
	})
	if reason := wait(t, sender); reason != Normal {
		t.Fatalf("sender: %v", reason)
	}
	if n := len(asker.waitTags); n != 2 {
		t.Errorf("the asker waits with %d tags, want 2 (its reply's and its watch's): %v", n, asker.waitTags)
	}
	if asker.borrows < 50 {
		t.Errorf("borrowed %d times, want most of the 100 sends", asker.borrows)
	}
	sink.Kill()
	wantAskStatus(t, asker, abi.ErrNotFound, "its target ended")
}
