package runtime

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"
)

// A request to a process that ends without replying fails when it ends,
// with its reason, rather than at the caller's deadline.
func TestRequestFailsWhenTheTargetEnds(t *testing.T) {
	r := newRuntime(t)
	env := r.Environment()
	idle := spawn(t, env, loadMessages(t, r), "idle") // never reads its mailbox
	done := make(chan error, 1)
	go func() {
		_, err := r.Request(testCtx(t), idle.ID(), Message{Data: []byte("?")})
		done <- err
	}()
	waitFor(t, testTimeout, "the request to arrive", func() bool { return idle.mb.Len() == 1 })
	idle.Kill()
	err := <-done
	if !errors.Is(err, ErrNoProcess) || !errors.Is(err, Killed) {
		t.Fatalf("Request to a process killed before replying: %v; want ErrNoProcess and Killed", err)
	}
}

func TestRequestToAnEndedProcess(t *testing.T) {
	r := newRuntime(t)
	env := r.Environment()
	p := spawn(t, env, loadMessages(t, r), "crash")
	wait(t, p)
	if _, err := r.Request(testCtx(t), p.ID(), Message{}); !errors.Is(err, ErrNoProcess) || !errors.Is(err, NoProc) {
		t.Fatalf("Request to an ended process: %v; want ErrNoProcess and NoProc", err)
	}
	if n := r.NumProcesses(); n != 0 {
		t.Errorf("%d processes left after the request", n)
	}
}

// A Runtime.Request that Close cuts short says the runtime closed.
func TestRequestCutShortByClose(t *testing.T) {
	r := newRuntime(t)
	idle := spawn(t, r.Environment(), loadMessages(t, r), "idle") // never replies
	done := make(chan error, 1)
	go func() {
		_, err := r.Request(testCtx(t), idle.ID(), Message{})
		done <- err
	}()
	waitFor(t, testTimeout, "the request to arrive", func() bool { return idle.mb.Len() == 1 })
	if err := r.Close(testCtx(t)); err != nil {
		t.Fatal(err)
	}
	if err := <-done; !errors.Is(err, ErrClosed) {
		t.Errorf("Request when the runtime closed: %v; want ErrClosed", err)
	}
}

// Each request watches its target for as long as it waits and no longer:
// servers that reply and end at once leave no DOWN message, no monitor
// and no stray reply behind in the requester.
func TestRequestLeavesNothingBehind(t *testing.T) {
	r := newRuntime(t)
	env := r.Environment()
	m := load(t, r, "handoff", []byte(handoffWAT))
	const n = 200
	reason := wait(t, goProc(t, env, "requester", func(ctx context.Context, self *Self) error {
		for i := range n {
			server, err := env.Spawn(ctx, m, "then_return") // replies, then ends
			if err != nil {
				return err
			}
			if _, err := self.Request(ctx, server.ID(), Message{Data: u64(uint64(i))}); err != nil {
				return fmt.Errorf("request %d: %w", i, err)
			}
			if n := self.p.mb.Len(); n != 0 {
				return fmt.Errorf("after request %d: %d messages left in the mailbox", i, n)
			}
		}
		if n := numWatching(self.p); n != 0 {
			return fmt.Errorf("%d monitors left after the requests", n)
		}
		return nil
	}))
	if reason != Normal {
		t.Fatal(reason)
	}
}

// Runtime.Request's failures are its caller's errors: none is logged as a
// process failure, and a context that ends first gives its own error.
func TestRuntimeRequestFailures(t *testing.T) {
	var logs syncBuffer
	r := newRuntime(t, WithLogger(slog.New(slog.NewTextHandler(&logs, nil))))
	env := r.Environment()
	idle := spawn(t, env, loadMessages(t, r), "idle")

	ctx, cancel := context.WithTimeout(testCtx(t), 20*time.Millisecond)
	defer cancel()
	if _, err := r.Request(ctx, idle.ID(), Message{}); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Request past its deadline: %v; want context.DeadlineExceeded", err)
	}
	if _, err := r.Request(ctx, idle.ID(), Message{}); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Request with an ended context: %v; want context.DeadlineExceeded", err)
	}
	idle.Kill()
	wait(t, idle)
	if _, err := r.Request(testCtx(t), idle.ID(), Message{}); !errors.Is(err, ErrNoProcess) {
		t.Errorf("Request to an ended process: %v; want ErrNoProcess", err)
	}
	if out := logs.String(); strings.Contains(out, "request") {
		t.Errorf("failed requests were logged:\n%s", out)
	}
	if n := r.NumProcesses(); n != 0 {
		t.Errorf("%d processes left after the requests", n)
	}
}
