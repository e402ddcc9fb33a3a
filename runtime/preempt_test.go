package runtime

import (
	"testing"

	"github.com/wardrt/ward/testdata"
)

// Eight guests that never yield on their own, on a machine with fewer
// cores, must all keep getting CPU, and a ninth short job must still
// finish: epoch interruption makes every guest yield each tick, and the
// run semaphore queues them fairly.
func TestSpinnersShareTheCPU(t *testing.T) {
	r := newRuntime(t)
	env := r.Environment()
	spin := load(t, r, "spin", testdata.Spin)
	var spinners []*Process
	for range 8 {
		spinners = append(spinners, spawn(t, env, spin, "spin"))
	}
	job := spawn(t, env, spin, "count", I64(20_000_000))
	if reason := wait(t, job); reason != Normal {
		t.Fatalf("job: %v", reason)
	}
	// Every spinner has been scheduled, preempted and rescheduled; none
	// ended. (Counts, not timings: the job's run spans many ticks.)
	for i, p := range spinners {
		if y := p.yields.Load(); y < 2 {
			t.Errorf("spinner %d yielded %d times: it was starved", i, y)
		}
		if p.Reason() != nil {
			t.Errorf("spinner %d ended: %v", i, p.Reason())
		}
	}
	if job.yields.Load() < 2 {
		t.Logf("the job finished within %d ticks", job.yields.Load())
	}
}
