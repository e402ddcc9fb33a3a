package metrics

import (
	"context"
	"sync"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"

	"github.com/wardrt/ward/internal/errs"
	"github.com/wardrt/ward/runtime"
)

// MetricHostCallDuration is the histogram HostCallDuration records, in
// seconds, by "function" ("namespace.name").
const MetricHostCallDuration = "ward.hostcall.duration"

// HostCallDuration returns the runtime option that records how long each
// call of a host module's function takes (runtime.WithHostCallObserver)
// in provider's histogram MetricHostCallDuration, by function. Only host
// modules' functions (hostapi) are timed: ward's built-in ones run in C
// in nanoseconds, which timing would double. Without this option, the
// calls pay one nil check. With it, a call costs two clock reads and a
// histogram record more: in BenchmarkGuestCounterAdd, a few hundred ns on
// top of a call of ~600 ns.
func HostCallDuration(provider metric.MeterProvider) (runtime.Option, error) {
	h, err := provider.Meter(RuntimeScope).Float64Histogram(MetricHostCallDuration,
		metric.WithUnit("s"),
		metric.WithDescription("How long host modules' functions take, by function."),
		metric.WithExplicitBucketBoundaries(1e-6, 2.5e-6, 5e-6, 1e-5, 2.5e-5, 5e-5, 1e-4, 2.5e-4, 1e-3, 1e-2, 0.1, 1, 10))
	if err != nil {
		return nil, errs.Errorf("ward: metrics: %w", err)
	}
	var opts sync.Map // function -> []metric.RecordOption, made once per function
	return runtime.WithHostCallObserver(func(function string, d time.Duration) {
		o, ok := opts.Load(function)
		if !ok {
			o, _ = opts.LoadOrStore(function, []metric.RecordOption{
				metric.WithAttributeSet(attribute.NewSet(attribute.String("function", function))),
			})
		}
		// The process's context is not at hand here, and exemplars are
		// not worth a lock per call: record without one.
		h.Record(backgroundCtx, d.Seconds(), o.([]metric.RecordOption)...)
	}), nil
}

var backgroundCtx = context.Background()
