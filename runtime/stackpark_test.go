package runtime

import (
	"testing"

	"github.com/wardrt/ward/internal/wasm"
)

// deepSleepWAT recurses n frames deep, each holding locals derived from
// its depth, sleeps ms at the bottom, and checks every frame's locals on
// the way back: a frame that came back different traps. With a sleep of
// releaseStackMillis or more, the frames spend the sleep copied out of
// the fiber stack (wasm.Proc.ReleaseStack).
const deepSleepWAT = `(module
  (import "ward_process" "sleep_ms" (func $sleep (param i64)))
  (memory (export "memory") 1)
  (func $deep (param $n i32) (param $ms i64) (result i64)
    (local $a i64) (local $b i64) (local $c f64)
    (local.set $a (i64.mul (i64.extend_i32_u (local.get $n)) (i64.const 0x9E3779B97F4A7C15)))
    (local.set $b (i64.xor (local.get $a) (i64.const 0x5555)))
    (local.set $c (f64.convert_i32_u (local.get $n)))
    (if (i32.eqz (local.get $n))
      (then (call $sleep (local.get $ms)))
      (else (local.set $b (i64.add (local.get $b)
        (call $deep (i32.sub (local.get $n) (i32.const 1)) (local.get $ms))))))
    (if (i64.ne (i64.mul (i64.extend_i32_u (local.get $n)) (i64.const 0x9E3779B97F4A7C15)) (local.get $a))
      (then unreachable))
    (if (f64.ne (local.get $c) (f64.convert_i32_u (local.get $n)))
      (then unreachable))
    (i64.add (local.get $a) (local.get $b)))
  (func (export "deep") (param $n i32) (param $ms i64) (result i64)
    (call $deep (local.get $n) (local.get $ms))))`

// waitReleased waits until a stack release more than total has happened
// and a stack is out now.
func waitReleased(t *testing.T, total int64) {
	t.Helper()
	waitFor(t, testTimeout, "the sleeper's stack to be released", func() bool {
		now, tot := wasm.StacksReleased()
		return now > 0 && tot > total
	})
}

// A long sleep releases the sleeper's stack pages, and every wake puts
// its frames back intact: the timer's (after a message that did not end
// the sleep), and a kill's, which unwinds them. Shallow and deeper stacks
// (one page, several: 500 frames are about 32 KiB).
func TestLongSleepReleasesItsStack(t *testing.T) {
	r := newRuntime(t)
	env := r.Environment()
	m := load(t, r, "deep", []byte(deepSleepWAT))
	for _, depth := range []int32{0, 20, 500} {
		_, before := wasm.StacksReleased()
		// The timer: a message first, which the sleep outlasts.
		p := spawn(t, env, m, "deep", I32(depth), I64(releaseStackMillis+200))
		waitReleased(t, before)
		if err := p.Send(testCtx(t), Message{Tag: 1, Data: []byte("not now")}); err != nil {
			t.Fatal(err)
		}
		if reason := wait(t, p); reason != Normal {
			t.Fatalf("depth %d: woken by its timer, ended with %v, want Normal", depth, reason)
		}
		// A kill.
		_, before = wasm.StacksReleased()
		p = spawn(t, env, m, "deep", I32(depth), I64(1<<40))
		waitReleased(t, before)
		p.Kill()
		if reason := wait(t, p); reason != Killed {
			t.Fatalf("depth %d: killed while its stack was out, ended with %v", depth, reason)
		}
		if now, _ := wasm.StacksReleased(); now != 0 {
			t.Fatalf("depth %d: %d stacks still out after the sleepers ended", depth, now)
		}
	}
}

// A short sleep keeps its stack: releasing costs a page fault at the wake.
// So does a long sleep under frames too deep to copy cheaply (2,000
// frames, about 130 KiB).
func TestShortSleepKeepsItsStack(t *testing.T) {
	r := newRuntime(t)
	env := r.Environment()
	m := load(t, r, "deep", []byte(deepSleepWAT))
	for _, c := range []struct {
		depth int32
		ms    int64
	}{{20, releaseStackMillis - 1}, {2000, releaseStackMillis + 50}} {
		_, before := wasm.StacksReleased()
		if reason := wait(t, spawn(t, env, m, "deep", I32(c.depth), I64(c.ms))); reason != Normal {
			t.Fatalf("depth %d, %d ms: ended with %v, want Normal", c.depth, c.ms, reason)
		}
		if _, after := wasm.StacksReleased(); after != before {
			t.Fatalf("depth %d, %d ms: the sleep released its stack (%d releases)", c.depth, c.ms, after-before)
		}
	}
}

// Closing the runtime ends sleepers whose stacks are out, and puts every
// stack back first (newRuntime's cleanup checks that no store is left).
func TestCloseEndsSleepersWithTheirStacksOut(t *testing.T) {
	r := newRuntime(t)
	env := r.Environment()
	m := load(t, r, "deep", []byte(deepSleepWAT))
	_, before := wasm.StacksReleased()
	var ps []*Process
	for range 8 {
		ps = append(ps, spawn(t, env, m, "deep", I32(50), I64(1<<40)))
	}
	waitFor(t, testTimeout, "every sleeper's stack to be released", func() bool {
		now, tot := wasm.StacksReleased()
		return now >= 8 && tot >= before+8
	})
	if err := r.Close(testCtx(t)); err != nil {
		t.Fatalf("Close: %v", err)
	}
	for _, p := range ps {
		if reason := wait(t, p); reason != Killed {
			t.Fatalf("ended with %v by Close, want Killed", reason)
		}
	}
	if now, _ := wasm.StacksReleased(); now != 0 {
		t.Fatalf("%d stacks still out after Close", now)
	}
}
