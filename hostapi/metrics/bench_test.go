package metrics_test

import (
	"testing"

	sdkmetric "go.opentelemetry.io/otel/sdk/metric"

	"github.com/wardrt/ward/hostapi/metrics"
	"github.com/wardrt/ward/runtime"
)

// benchWAT creates counter "bench.ops" and label set "k=v", then adds 1
// n times: ward_metrics.record, the hot path, from a guest loop.
const benchWAT = `(module
  (import "ward_metrics" "create" (func $create (param i32 i32 i32 i32) (result i32)))
  (import "ward_metrics" "labels" (func $labels (param i32 i32 i32) (result i32)))
  (import "ward_metrics" "record" (func $record (param i32 i32 i64) (result i32)))
  (memory (export "memory") 1)
  (data (i32.const 64) "bench.ops")
  (data (i32.const 96) "k=v")
  (func (export "loop") (param $n i32) (param $labels i32) (local $lh i32)
    (if (call $create (i32.const 0) (i32.const 64) (i32.const 9) (i32.const 0)) (then unreachable))
    (if (call $labels (i32.const 96) (i32.const 3) (i32.const 4)) (then unreachable))
    (if (local.get $labels) (then (local.set $lh (i32.load (i32.const 4)))))
    (loop $l
      (if (call $record (i32.load (i32.const 0)) (local.get $lh) (i64.const 1)) (then unreachable))
      (br_if $l (local.tee $n (i32.sub (local.get $n) (i32.const 1)))))))`

// BenchmarkGuestCounterAdd is the cost of one guest counter add (record),
// exported to an OpenTelemetry SDK MeterProvider, with and without a label
// set, and with each call timed (HostCallDuration); BenchmarkGoCounterAdd is the same add made from Go, for scale.
func BenchmarkGuestCounterAdd(b *testing.B) {
	for _, c := range []struct {
		name   string
		labels int32
		timed  bool
	}{{"no_labels", 0, false}, {"labels", 1, false}, {"labels_timed", 1, true}} {
		b.Run(c.name, func(b *testing.B) {
			ctx := b.Context()
			provider := sdkmetric.NewMeterProvider(sdkmetric.WithReader(sdkmetric.NewManualReader()))
			mod, err := metrics.Module(provider, metrics.Options{})
			if err != nil {
				b.Fatal(err)
			}
			opts := []runtime.Option{withModule(mod), withRootConfig(enabled)}
			if c.timed { // with HostCallDuration: the cost of timing each call
				timing, err := metrics.HostCallDuration(provider)
				if err != nil {
					b.Fatal(err)
				}
				opts = append(opts, timing)
			}
			rt, err := runtime.New(opts...)
			if err != nil {
				b.Fatal(err)
			}
			defer rt.Close(ctx)
			m, err := rt.LoadModule(ctx, "bench", []byte(benchWAT))
			if err != nil {
				b.Fatal(err)
			}
			b.ResetTimer()
			if r, err := rt.Environment().Run(ctx, m, "loop", runtime.I32(int32(max(b.N, 1))), runtime.I32(c.labels)); err != nil || r != runtime.Normal {
				b.Fatal(r, err)
			}
		})
	}
}

func BenchmarkGoCounterAdd(b *testing.B) {
	provider := sdkmetric.NewMeterProvider(sdkmetric.WithReader(sdkmetric.NewManualReader()))
	c, err := provider.Meter("bench").Int64Counter("bench.ops")
	if err != nil {
		b.Fatal(err)
	}
	ctx := b.Context()
	for b.Loop() {
		c.Add(ctx, 1)
	}
}
