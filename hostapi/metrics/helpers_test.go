package metrics_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"

	"github.com/wardrt/ward/environment"
	"github.com/wardrt/ward/hostapi"
	"github.com/wardrt/ward/hostapi/metrics"
	"github.com/wardrt/ward/runtime"
)

func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute) // a hang guard
	t.Cleanup(cancel)
	return ctx
}

// newRuntime makes a runtime with the metrics module exporting to a
// ManualReader, and cfg as the root's configuration of it.
func newRuntime(t *testing.T, cfg metrics.Config, opts metrics.Options) (*runtime.Runtime, *sdkmetric.ManualReader) {
	t.Helper()
	reader := sdkmetric.NewManualReader()
	provider := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	mod, err := metrics.Module(provider, opts)
	if err != nil {
		t.Fatal(err)
	}
	rt := newRuntimeWith(t, runtime.WithHostModule(mod), runtime.WithRootEnvironment(environment.Config{
		Host: map[string]environment.HostConfig{metrics.Namespace: cfg},
	}))
	return rt, reader
}

func newRuntimeWith(t *testing.T, opts ...runtime.Option) *runtime.Runtime {
	t.Helper()
	opts = append([]runtime.Option{runtime.WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil)))}, opts...)
	rt, err := runtime.New(opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := rt.Close(ctx); err != nil {
			t.Errorf("closing the runtime: %v", err)
		}
	})
	return rt
}

// op is one ward_metrics call of a script guest, and the status it must
// return.
type op struct {
	fn     string // "create", "create_float", "labels", "record", "record_float", "drop", "drop_labels", "rawlabels"
	kind   metrics.Kind
	text   string // create's name, labels' encoding
	slot   int    // where create and labels write the handle (1..63)
	inst   int    // record's and drop's instrument slot (negative: -inst is the handle); drop_labels' label slot
	lslot  int    // record's label slot (0: no labels; negative: -lslot is the handle)
	value  int64
	f      float64 // record_float's value
	ptr    int64   // rawlabels: ptr and len as given
	length int64
	want   int32
}

// scriptWAT is a guest whose export "run" makes the calls of ops in order
// and exits with code (i+1)*16 + status at the first op i whose status is
// not the one wanted. Handles live at slot*4; strings from 4096.
func scriptWAT(ops []op) string {
	var data, body strings.Builder
	off := 4096
	for i, o := range ops {
		fail := fmt.Sprintf("(if (i32.ne (local.tee $st %%s) (i32.const %d)) (then (call $exit (i32.add (i32.const %d) (local.get $st)))))\n", o.want, (i+1)*16)
		var call string
		switch o.fn {
		case "create", "create_float", "labels":
			fmt.Fprintf(&data, "  (data (i32.const %d) %s)\n", off, watString(o.text))
			if o.fn != "labels" {
				call = fmt.Sprintf("(call $%s (i32.const %d) (i32.const %d) (i32.const %d) (i32.const %d))", o.fn, o.kind, off, len(o.text), o.slot*4)
			} else {
				call = fmt.Sprintf("(call $labels (i32.const %d) (i32.const %d) (i32.const %d))", off, len(o.text), o.slot*4)
			}
			off += len(o.text) + 1
		case "rawlabels":
			call = fmt.Sprintf("(call $labels (i32.const %d) (i32.const %d) (i32.const 0))", int32(o.ptr), int32(o.length))
		case "record", "record_float":
			lab := "(i32.const 0)"
			if o.lslot < 0 { // a literal handle: -lslot
				lab = fmt.Sprintf("(i32.const %d)", -o.lslot)
			} else if o.lslot != 0 {
				lab = fmt.Sprintf("(i32.load (i32.const %d))", o.lslot*4)
			}
			v := o.value
			if o.fn == "record_float" {
				v = int64(math.Float64bits(o.f))
			}
			call = fmt.Sprintf("(call $%s %s %s (i64.const %d))", o.fn, handleArg(o.inst), lab, v)
		case "drop", "drop_labels":
			call = fmt.Sprintf("(call $%s %s)", o.fn, handleArg(o.inst))
		}
		fmt.Fprintf(&body, "    "+fail, call)
	}
	return `(module
  (import "ward_metrics" "create" (func $create (param i32 i32 i32 i32) (result i32)))
  (import "ward_metrics" "labels" (func $labels (param i32 i32 i32) (result i32)))
  (import "ward_metrics" "record" (func $record (param i32 i32 i64) (result i32)))
  (import "ward_metrics" "create_float" (func $create_float (param i32 i32 i32 i32) (result i32)))
  (import "ward_metrics" "record_float" (func $record_float (param i32 i32 i64) (result i32)))
  (import "ward_metrics" "drop" (func $drop (param i32) (result i32)))
  (import "ward_metrics" "drop_labels" (func $drop_labels (param i32) (result i32)))
  (import "ward_process" "exit" (func $exit (param i32)))
  (memory (export "memory") 1)
` + data.String() + `  (func (export "run") (local $st i32)
` + body.String() + `  ))`
}

// handleArg is the WAT for the handle in slot, or the literal handle
// -slot when slot is negative.
func handleArg(slot int) string {
	if slot < 0 {
		return fmt.Sprintf("(i32.const %d)", -slot)
	}
	return fmt.Sprintf("(i32.load (i32.const %d))", slot*4)
}

// runScript runs ops in env as one process and fails the test at the first
// op that returned another status than wanted.
func runScript(t *testing.T, ctx context.Context, env *runtime.Environment, ops []op) {
	t.Helper()
	mod, err := env.Runtime().LoadModule(ctx, "script", []byte(scriptWAT(ops)))
	if err != nil {
		t.Fatal(err)
	}
	reason, err := env.Run(ctx, mod, "run")
	if err != nil {
		t.Fatal(err)
	}
	if reason != runtime.Normal {
		var ee *runtime.ExitError
		if errors.As(reason, &ee) && ee.Code >= 16 {
			i := int(ee.Code)/16 - 1
			t.Fatalf("op %d (%+v) returned status %d, want %d", i, ops[i], ee.Code%16, ops[i].want)
		}
		t.Fatalf("guest ended with %v", reason)
	}
}

// collect reads everything the reader has, by instrument name.
func collect(t *testing.T, ctx context.Context, r *sdkmetric.ManualReader) map[string]metricdata.Metrics {
	t.Helper()
	var rm metricdata.ResourceMetrics
	if err := r.Collect(ctx, &rm); err != nil {
		t.Fatal(err)
	}
	out := map[string]metricdata.Metrics{}
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			out[m.Name] = m
		}
	}
	return out
}

// points returns an int64 sum's or gauge's points as "k=v,k=v" -> value
// ("" for no attributes).
func points(t *testing.T, m metricdata.Metrics) map[string]int64 {
	t.Helper()
	return pointsOf[int64](t, m)
}

// floatPoints is points for a float64 sum or gauge.
func floatPoints(t *testing.T, m metricdata.Metrics) map[string]float64 {
	t.Helper()
	return pointsOf[float64](t, m)
}

func pointsOf[N int64 | float64](t *testing.T, m metricdata.Metrics) map[string]N {
	t.Helper()
	var dps []metricdata.DataPoint[N]
	switch d := m.Data.(type) {
	case metricdata.Sum[N]:
		dps = d.DataPoints
	case metricdata.Gauge[N]:
		dps = d.DataPoints
	default:
		t.Fatalf("%s: data of type %T", m.Name, m.Data)
	}
	out := map[string]N{}
	for _, dp := range dps {
		out[attrKey(dp.Attributes.ToSlice())] = dp.Value
	}
	return out
}

func attrKey(kvs []attribute.KeyValue) string {
	var parts []string
	for _, kv := range kvs {
		parts = append(parts, string(kv.Key)+"="+kv.Value.Emit())
	}
	return strings.Join(parts, ",")
}

// watString quotes s for WAT, every byte but letters and digits as \hh.
func watString(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' {
			b.WriteByte(c)
		} else {
			fmt.Fprintf(&b, "\\%02x", c)
		}
	}
	b.WriteByte('"')
	return b.String()
}

func withModule(m hostapi.Module) runtime.Option { return runtime.WithHostModule(m) }

func withRootConfig(cfg metrics.Config) runtime.Option {
	return runtime.WithRootEnvironment(environment.Config{Host: map[string]environment.HostConfig{metrics.Namespace: cfg}})
}
