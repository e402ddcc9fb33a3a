package guest_test

import (
	"github.com/wardrt/ward/guest"
)

// A guest counts the jobs it serves by queue, and keeps their latencies:
// instruments and label sets are made once, then each record is one host
// call. The environment must enable ward_metrics and allow the "worker."
// prefix (hostapi/metrics.Config); the embedder exports them as
// guest.worker.jobs and guest.worker.latency_ms.
func ExampleNewCounter() {
	jobs, err := guest.NewCounter("worker.jobs")
	if err != nil {
		return // ErrPermission where metrics are not enabled or outside the prefix
	}
	latency, err := guest.NewHistogram("worker.latency_ms")
	if err != nil {
		return
	}
	fast, err := guest.NewLabels("queue", "fast")
	if err != nil {
		return
	}
	for {
		msg, err := guest.Receive()
		if err != nil {
			return
		}
		_ = msg // ... serve the job ...
		jobs.Add(1, fast)
		latency.Record(3, fast)
	}
}
