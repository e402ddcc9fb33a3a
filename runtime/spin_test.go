package runtime

import (
	"context"
	goruntime "runtime"
	"testing"
	"time"

	"github.com/wardrt/ward/internal/wasm"
)

// spinWAT's "wait" takes a first message, then waits for one under tag 5
// and returns; any other tag traps.
const spinWAT = `(module
  (import "ward_message" "receive" (func $receive (param i32 i32 i64) (result i32)))
  (import "ward_message" "get_tag" (func $tag (result i64)))
  (memory (export "memory") 1)
  (func (export "wait")
    (drop (call $receive (i32.const 0) (i32.const 0) (i64.const -1)))
    (drop (call $receive (i32.const 0) (i32.const 0) (i64.const -1)))
    (if (i64.ne (call $tag) (i64.const 5)) (then unreachable))))`

// spinningReceiver returns a process spinning in a receive (internal/wasm,
// shim.c, "Spinning receives"), with the spin's bound raised to an hour:
// only what the caller does can end it before the test's hang guard. The
// test holds every run slot but the receiver's, so that the receiver
// spins (another process holds one); release gives them back, as the
// cleanup does at the latest.
func spinningReceiver(t *testing.T) (r *Runtime, p *Process, release func()) {
	t.Helper()
	slots := goruntime.GOMAXPROCS(0)
	if slots < 2 {
		t.Skip("receives spin only with 2 run slots or more")
	}
	old, _, _ := wasm.ObserveSpins(time.Hour)
	t.Cleanup(func() { wasm.ObserveSpins(old) })
	r = newRuntime(t, grantAll())
	m := load(t, r, "spin", []byte(spinWAT))
	ctx := testCtx(t)
	held := 0
	release = func() {
		for ; held > 0; held-- {
			r.releaseRun()
		}
	}
	t.Cleanup(release) // before the runtime's Close, which needs a slot
	for ; held < slots-1; held++ {
		r.acquireRun()
	}
	_, before, _ := wasm.ObserveSpins(0)
	p, err := r.Environment().Spawn(ctx, m, "wait")
	if err != nil {
		t.Fatal(err)
	}
	// Its first receive is Go's, and registers it for sends in C; the
	// second spins.
	if err := p.Send(ctx, Message{Tag: 1}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, testTimeout, "the receiver to spin", func() bool {
		_, now, _ := wasm.ObserveSpins(0)
		return now > before
	})
	return r, p, release
}

func TestSpinningReceiverKilled(t *testing.T) {
	_, p, _ := spinningReceiver(t)
	_, _, woken := wasm.ObserveSpins(0)
	p.Kill()
	spinEndedBy(t, p, woken, Killed, "a kill")
}

func TestSpinningReceiverGetsGoMessage(t *testing.T) {
	_, p, _ := spinningReceiver(t)
	_, _, woken := wasm.ObserveSpins(0)
	if err := p.Send(testCtx(t), Message{Tag: 5}); err != nil {
		t.Fatal(err)
	}
	// Normal only if the message the spin saw is the one received.
	spinEndedBy(t, p, woken, Normal, "a message from Go")
}

// spinEndedBy checks that what the caller did (cause) ended p's spin,
// counted as ended by a wake since woken was read, and p with want.
func spinEndedBy(t *testing.T, p *Process, woken int64, want Reason, cause string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	reason, err := p.Wait(ctx)
	if err != nil {
		t.Fatalf("%s did not end the spin: %v", cause, err)
	}
	if reason != want {
		t.Fatalf("reason %v, want %v", reason, want)
	}
	if _, _, w := wasm.ObserveSpins(0); w == woken {
		t.Errorf("the spin ended, but not for the wake of %s", cause)
	}
}

// A spinning receiver gives its run slot up as soon as someone waits for
// one: here the test itself, which would otherwise wait out the hour.
func TestSpinningReceiverYieldsRunSlot(t *testing.T) {
	r, p, release := spinningReceiver(t)
	got := make(chan struct{})
	go func() {
		r.acquireRun()
		close(got)
	}()
	select {
	case <-got:
	case <-time.After(testTimeout):
		t.Fatal("a process waiting for a run slot did not get the spinning receiver's")
	}
	r.releaseRun()
	release()
	p.Kill()
}
