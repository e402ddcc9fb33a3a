package runtime

import (
	"errors"
	"testing"
	"time"

	"github.com/wardrt/ward/environment"
)

func TestMaxWallTimeKillsAndFreesTheName(t *testing.T) {
	r := newRuntime(t)
	ctx := testCtx(t)
	env := childEnv(t, r.Environment(), environment.Config{MaxWallTime: 50 * time.Millisecond})
	m := load(t, r, "plugin", []byte(callWAT))
	// A spinner and a waiter: fuel would stop neither of the waiters.
	spinner := spawn(t, env, m, "spin")
	waiter := spawn(t, env, m, "serve")
	if err := env.Register("svc", "1.0.0", waiter); err != nil {
		t.Fatal(err)
	}
	for _, p := range []*Process{spinner, waiter} {
		reason := wait(t, p)
		var tl *TimeLimitError
		if !errors.Is(reason, ErrTimeLimit) || !errors.As(reason, &tl) || tl.Limit != 50*time.Millisecond {
			t.Fatalf("%s ended with %v, want the time limit", p, reason)
		}
		if reasonKind(reason) != 1 { // abi.ReasonKilled
			t.Fatalf("guests see kind %d", reasonKind(reason))
		}
	}
	if _, _, err := env.Lookup("svc", "^1"); err == nil {
		t.Fatal("the name outlived its process")
	}
	// A process that ends in time is not touched later.
	quick := spawn(t, env, m, "echo_once")
	if _, err := quick.Call(ctx, []byte("x")); err != nil {
		t.Fatal(err)
	}
	if reason := wait(t, quick); !reason.Normal() {
		t.Fatalf("a process that replied in time: %v", reason)
	}
}
