package runtime

import (
	goruntime "runtime"
	"testing"
	"time"
)

// recvParkWAT parks in a receive without a timeout, its mailbox empty.
const recvParkWAT = `(module
  (import "ward_message" "receive" (func $receive (param i32 i32 i64) (result i32)))
  (memory (export "memory") 1)
  (func (export "park") (loop $l (drop (call $receive (i32.const 0) (i32.const 0) (i64.const -1))) (br $l))))`

// A process parked in a receive keeps its goroutine within its first
// 2 KiB of stack: the way to the wait never needs more (docs/why.md), so
// the stack never doubles to 4 KiB, which the GC would not shrink back.
// In a child process: Go starts goroutines with the average stack its
// earlier goroutines used, which after other tests may be 4 KiB already.
func TestReceiveParksWithin2KiBOfGoroutineStack(t *testing.T) {
	if raceDetector {
		t.Skip("the race detector's frames are larger")
	}
	if !inChild(t) {
		passInChild(t, time.Minute)
		return
	}
	r := newRuntime(t)
	env := r.Environment()
	m := load(t, r, "recvpark", []byte(recvParkWAT))
	stackInuse := func() uint64 {
		goruntime.GC()
		var ms goruntime.MemStats
		goruntime.ReadMemStats(&ms)
		return ms.StackInuse
	}
	const n = 500
	before := stackInuse()
	procs := make([]*Process, 0, n)
	for range n {
		procs = append(procs, spawn(t, env, m, "park"))
	}
	waitFor(t, testTimeout, "every process to park in its receive", func() bool {
		for _, p := range procs {
			if p.park.Load() != parkWaiting {
				return false
			}
		}
		return true
	})
	per := float64(stackInuse()-before) / n
	t.Logf("goroutine stack per receive-parked process: %.0f bytes", per)
	if per > 3<<10 {
		t.Errorf("goroutine stack per receive-parked process %.0f bytes, want about 2 KiB: some call on the way to the wait grew it to 4 KiB", per)
	}
	for _, p := range procs {
		p.Kill()
	}
	for _, p := range procs {
		wait(t, p)
	}
}
