package metrics_test

import (
	"context"
	"fmt"

	"go.opentelemetry.io/otel/attribute"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"

	"github.com/wardrt/ward/environment"
	"github.com/wardrt/ward/hostapi/metrics"
	"github.com/wardrt/ward/runtime"
)

// An embedder exports guests' metrics and the runtime's own through one
// MeterProvider (here the SDK's, with a ManualReader; a Prometheus exporter
// plugs in the same way). The root environment lets guests create
// instruments whose names start with "shop.".
func Example() {
	ctx := context.Background()
	reader := sdkmetric.NewManualReader()
	provider := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))

	mod, err := metrics.Module(provider, metrics.Options{})
	if err != nil {
		fmt.Println(err)
		return
	}
	rt, err := runtime.New(runtime.WithHostModule(mod), runtime.WithRootEnvironment(environment.Config{
		Host: map[string]environment.HostConfig{metrics.Namespace: metrics.Config{
			Enabled: true, Prefix: "shop.", MaxInstruments: 8, MaxLabelSets: 8,
		}},
	}))
	if err != nil {
		fmt.Println(err)
		return
	}
	defer rt.Close(ctx)
	if _, err := metrics.Register(rt, provider); err != nil {
		fmt.Println(err)
		return
	}

	// The guest counts an order of 3 items from the EU (the Go SDK's
	// guest.NewCounter, guest.NewLabels and Counter.Add make these calls).
	guest, err := rt.LoadModule(ctx, "shop", []byte(`(module
	  (import "ward_metrics" "create" (func $create (param i32 i32 i32 i32) (result i32)))
	  (import "ward_metrics" "labels" (func $labels (param i32 i32 i32) (result i32)))
	  (import "ward_metrics" "record" (func $record (param i32 i32 i64) (result i32)))
	  (memory (export "memory") 1)
	  (data (i32.const 64) "shop.items")
	  (data (i32.const 96) "region=eu\n")
	  (func (export "run")
	    (drop (call $create (i32.const 0) (i32.const 64) (i32.const 10) (i32.const 0)))
	    (drop (call $labels (i32.const 96) (i32.const 10) (i32.const 4)))
	    (drop (call $record (i32.load (i32.const 0)) (i32.load (i32.const 4)) (i64.const 3)))))`))
	if err != nil {
		fmt.Println(err)
		return
	}
	if _, err := rt.Environment().Run(ctx, guest, "run"); err != nil {
		fmt.Println(err)
		return
	}

	var rm metricdata.ResourceMetrics
	if err := reader.Collect(ctx, &rm); err != nil {
		fmt.Println(err)
		return
	}
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			switch m.Name {
			case "guest.shop.items", metrics.MetricSpawned:
				for _, dp := range m.Data.(metricdata.Sum[int64]).DataPoints {
					fmt.Printf("%s{%s} %d\n", m.Name, dp.Attributes.Encoded(attribute.DefaultEncoder()), dp.Value)
				}
			}
		}
	}
	// Unordered output:
	// guest.shop.items{region=eu} 3
	// ward.processes.spawned{} 1
}
