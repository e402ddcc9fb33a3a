package runtime

import (
	"context"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/wardrt/ward/testdata"
)

// Eight guests that never yield on their own, on a machine with fewer
// cores, must all keep getting CPU, and so must a ninth, long job: epoch
// interruption makes every guest yield each tick, and the run semaphore
// queues them fairly.
func TestSpinnersShareTheCPU(t *testing.T) {
	r := newRuntime(t)
	env := r.Environment()
	spin := load(t, r, "spin", testdata.Spin)
	var spinners []*Process
	for range 8 {
		spinners = append(spinners, spawn(t, env, spin, "spin"))
	}
	// A job that would run for hours alone: it must go on being scheduled
	// beside the spinners, as each of them must. Counts, not timings: a
	// fixed-size job raced the tick and, on a fast machine, finished
	// before every spinner had been preempted twice.
	job := spawn(t, env, spin, "count", I64(1<<50))
	everyone := append([]*Process{job}, spinners...)
	waitFor(t, 60*time.Second, "every process to be preempted and rescheduled", func() bool {
		for _, p := range everyone {
			if p.yields.Load() < 3 {
				return false
			}
		}
		return true
	})
	for i, p := range everyone {
		if p.Reason() != nil {
			t.Errorf("process %d ended: %v", i, p.Reason())
		}
		p.Kill()
	}
	for _, p := range everyone {
		wait(t, p)
	}
}

// napWAT: a guest that waits (a sleep or a receive) and then loops a
// little, many times over.
const napWAT = `(module
  (import "ward_process" "sleep_ms" (func $sleep (param i64)))
  (import "ward_message" "receive" (func $receive (param i32 i32 i64) (result i32)))
  (memory (export "memory") 1)
  (func $work (local $i i32)
    (loop $l
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br_if $l (i32.lt_u (local.get $i) (i32.const 1000)))))
  (func (export "sleeps") (param $n i32)
    (loop $l
      (call $sleep (i64.const 3))
      (call $work)
      (br_if $l (local.tee $n (i32.sub (local.get $n) (i32.const 1))))))
  (func (export "receives") (param $n i32)
    (loop $l
      (drop (call $receive (i32.const 0) (i32.const 0) (i64.const -1)))
      (call $work)
      (br_if $l (local.tee $n (i32.sub (local.get $n) (i32.const 1)))))))`

// A process that resumes after a wait longer than its time slice gets a
// fresh slice: it is not preempted at its first loop back-edge, which would
// cost every wake-up an extra trip through the run queue.
func TestWaitsEndWithAFreshTimeSlice(t *testing.T) {
	r := newRuntime(t)
	env := r.Environment()
	m := load(t, r, "nap", []byte(napWAT))
	const n = 10
	sleeper := spawn(t, env, m, "sleeps", I32(n))
	receiver := spawn(t, env, m, "receives", I32(n))
	for range n {
		time.Sleep(3 * time.Millisecond) // three epoch ticks: the deadline passes
		if err := receiver.Send(testCtx(t), Message{}); err != nil {
			t.Fatal(err)
		}
	}
	for _, p := range []*Process{sleeper, receiver} {
		if reason := wait(t, p); reason != Normal {
			t.Fatalf("%v: %v", p, reason)
		}
		// A tick may land inside the short loop now and then; not after
		// every one of the n waits.
		if y := p.yields.Load(); y >= n {
			t.Errorf("%v was preempted %d times in %d short runs after waits", p, y, n)
		}
	}
}

// Close stops the epoch ticker at once, not after the rest of its
// interval.
func TestCloseDoesNotWaitOutTheEpochInterval(t *testing.T) {
	r, err := New(WithEpochInterval(time.Hour), WithLogger(newSlog(slog.NewTextHandler(io.Discard, nil))))
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- r.Close(context.Background()) }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(testTimeout): // a hang guard: the interval is an hour
		t.Fatal("Close waited for the epoch ticker's hour-long interval")
	}
}
