package metrics_test

import (
	"maps"
	"math"
	"testing"

	"go.opentelemetry.io/otel/sdk/metric/metricdata"

	"github.com/wardrt/ward/hostapi/metrics"
	"github.com/wardrt/ward/internal/abi"
)

// Float64 instruments of every kind record what the guest gave, read back
// through the OpenTelemetry reader, with and without labels; record's
// int64 on a float instrument counts as a float64.
func TestFloatInstruments(t *testing.T) {
	ctx := testCtx(t)
	rt, reader := newRuntime(t, metrics.Config{Enabled: true, MaxInstruments: 8, MaxLabelSets: 8}, metrics.Options{})
	runScript(t, ctx, rt.Environment(), []op{
		{fn: "labels", text: "zone=a", slot: 10},
		{fn: "create_float", kind: metrics.Counter, text: "f.count", slot: 1},
		{fn: "create_float", kind: metrics.UpDownCounter, text: "f.level", slot: 2},
		{fn: "create_float", kind: metrics.Gauge, text: "f.ratio", slot: 3},
		{fn: "create_float", kind: metrics.Histogram, text: "f.seconds", slot: 4},
		{fn: "record_float", inst: 1, f: 1.25},
		{fn: "record_float", inst: 1, f: 0.5},
		{fn: "record", inst: 1, value: 2},
		{fn: "record_float", inst: 1, lslot: 10, f: 0.125},
		{fn: "record_float", inst: 2, f: -2.5},
		{fn: "record_float", inst: 3, lslot: 10, f: 0.75},
		{fn: "record_float", inst: 3, lslot: 10, f: 0.25},
		{fn: "record_float", inst: 4, f: 0.001},
		{fn: "record_float", inst: 4, f: 3.5},
		{fn: "create_float", kind: metrics.Counter, text: "f.count", slot: 5}, // found, shared
		{fn: "record_float", inst: 5, f: 1},
	})
	got := collect(t, ctx, reader)
	for name, want := range map[string]map[string]float64{
		"guest.f.count": {"": 4.75, "zone=a": 0.125},
		"guest.f.level": {"": -2.5},
		"guest.f.ratio": {"zone=a": 0.25},
	} {
		if p := floatPoints(t, got[name]); !maps.Equal(p, want) {
			t.Errorf("%s: %v, want %v", name, p, want)
		}
	}
	h, ok := got["guest.f.seconds"].Data.(metricdata.Histogram[float64])
	if !ok || len(h.DataPoints) != 1 || h.DataPoints[0].Count != 2 || h.DataPoints[0].Sum != 3.501 {
		t.Fatalf("guest.f.seconds: %+v, want 2 observations summing to 3.501", got["guest.f.seconds"].Data)
	}
}

// A hostile guest's float and drop calls: NaN and the infinities are
// refused on every kind and leave nothing recorded, as are negative
// counter values, floats on int64 instruments, a name reused with the
// other value type, unknown kinds, and handles it does not hold (never
// made, dropped, or an instrument's number given as a label set's).
func TestFloatAndDropHostile(t *testing.T) {
	ctx := testCtx(t)
	rt, reader := newRuntime(t, metrics.Config{Enabled: true, MaxInstruments: 8, MaxLabelSets: 8}, metrics.Options{})
	ops := []op{
		{fn: "create_float", kind: 4, text: "x.bad", slot: 9, want: abi.ErrInvalid},
		{fn: "create_float", kind: -1, text: "x.bad", slot: 9, want: abi.ErrInvalid},
		{fn: "create_float", kind: metrics.Counter, text: "Bad", slot: 9, want: abi.ErrInvalid},
		{fn: "create_float", kind: metrics.Counter, text: "x.c", slot: 1},
		{fn: "create", kind: metrics.Counter, text: "x.i", slot: 2},
		{fn: "create_float", kind: metrics.Gauge, text: "x.g", slot: 3},
		{fn: "labels", text: "k=v", slot: 4},
		{fn: "create_float", kind: metrics.Counter, text: "x.i", slot: 9, want: abi.ErrInvalid},
		{fn: "create", kind: metrics.Counter, text: "x.c", slot: 9, want: abi.ErrInvalid},
		{fn: "record_float", inst: 2, f: 1, want: abi.ErrInvalid},
		{fn: "record_float", inst: 1, f: -1, want: abi.ErrInvalid},
		{fn: "record_float", inst: 1, f: 2},
		{fn: "record_float", inst: 1, f: math.Copysign(0, -1)},
		{fn: "record_float", inst: -999, f: 1, want: abi.ErrNotFound},
		{fn: "record_float", inst: -0, f: 1, want: abi.ErrNotFound},
		{fn: "record_float", inst: 1, lslot: -77, f: 1, want: abi.ErrNotFound},
		{fn: "drop", inst: -999, want: abi.ErrNotFound},
		{fn: "drop", inst: -0, want: abi.ErrNotFound},
		{fn: "drop_labels", inst: -999, want: abi.ErrNotFound},
		{fn: "drop_labels", inst: -2, want: abi.ErrNotFound}, // handle 2 is an instrument's; the label sets have only 1
	}
	for _, v := range []float64{math.NaN(), math.Inf(1), math.Inf(-1), math.Float64frombits(0x7ff0000000000001)} {
		for _, inst := range []int{1, 3} {
			ops = append(ops, op{fn: "record_float", inst: inst, f: v, want: abi.ErrInvalid})
			ops = append(ops, op{fn: "record_float", inst: inst, lslot: 4, f: v, want: abi.ErrInvalid})
		}
	}
	ops = append(ops,
		op{fn: "drop", inst: 1},
		op{fn: "drop", inst: 1, want: abi.ErrNotFound},
		op{fn: "record_float", inst: 1, f: 1, want: abi.ErrNotFound},
		op{fn: "record", inst: 1, value: 1, want: abi.ErrNotFound},
		op{fn: "drop_labels", inst: 4},
		op{fn: "record", inst: 2, lslot: 4, value: 1, want: abi.ErrNotFound},
		op{fn: "drop_labels", inst: 4, want: abi.ErrNotFound},
	)
	runScript(t, ctx, rt.Environment(), ops)
	got := collect(t, ctx, reader)
	if p := floatPoints(t, got["guest.x.c"]); !maps.Equal(p, map[string]float64{"": 2}) {
		t.Errorf("guest.x.c: %v, want only the 2 recorded", p)
	}
	if m, ok := got["guest.x.g"]; ok {
		if p := floatPoints(t, m); len(p) != 0 {
			t.Errorf("guest.x.g: %v, want no point: every value was refused", p)
		}
	}
}

// Dropping a handle frees its room under the environment's bounds, and
// what was recorded through it stays.
func TestDropFreesRoom(t *testing.T) {
	ctx := testCtx(t)
	rt, reader := newRuntime(t, metrics.Config{Enabled: true, MaxInstruments: 1, MaxLabelSets: 1}, metrics.Options{})
	runScript(t, ctx, rt.Environment(), []op{
		{fn: "create", kind: metrics.Counter, text: "a", slot: 1},
		{fn: "labels", text: "k=1", slot: 3},
		{fn: "record", inst: 1, lslot: 3, value: 5},
		{fn: "create_float", kind: metrics.Gauge, text: "b", slot: 2, want: abi.ErrLimit},
		{fn: "labels", text: "k=2", slot: 4, want: abi.ErrLimit},
		{fn: "drop", inst: 1},
		{fn: "drop_labels", inst: 3},
		{fn: "create_float", kind: metrics.Gauge, text: "b", slot: 2},
		{fn: "labels", text: "k=2", slot: 4},
		{fn: "record_float", inst: 2, lslot: 4, f: 1.5},
		{fn: "create", kind: metrics.Counter, text: "a", slot: 1, want: abi.ErrLimit},
	})
	got := collect(t, ctx, reader)
	if p := points(t, got["guest.a"]); !maps.Equal(p, map[string]int64{"k=1": 5}) {
		t.Errorf("guest.a: %v, want k=1 5 kept after the drop", p)
	}
	if p := floatPoints(t, got["guest.b"]); !maps.Equal(p, map[string]float64{"k=2": 1.5}) {
		t.Errorf("guest.b: %v, want k=2 1.5", p)
	}
}
