package metrics_test

import (
	"errors"
	"strings"
	"testing"

	"go.opentelemetry.io/otel"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"

	"github.com/wardrt/ward/environment"
	"github.com/wardrt/ward/hostapi/metrics"
	"github.com/wardrt/ward/internal/abi"
	"github.com/wardrt/ward/runtime"
)

var enabled = metrics.Config{Enabled: true, MaxInstruments: 16, MaxLabelSets: 16}

// TestGuestMetricsReadBack: what a guest records on each kind of
// instrument, with and without labels, reaches an OpenTelemetry reader
// under guest.<name>, with its labels as attributes.
func TestGuestMetricsReadBack(t *testing.T) {
	ctx := testCtx(t)
	rt, reader := newRuntime(t, enabled, metrics.Options{})
	runScript(t, ctx, rt.Environment(), []op{
		{fn: "create", kind: metrics.Counter, text: "app.jobs", slot: 1},
		{fn: "create", kind: metrics.UpDownCounter, text: "app.queue", slot: 2},
		{fn: "create", kind: metrics.Gauge, text: "app.temp", slot: 3},
		{fn: "create", kind: metrics.Histogram, text: "app.latency", slot: 4},
		{fn: "labels", text: "queue=fast\nzone=eu", slot: 10},
		{fn: "labels", text: "queue=slow\n", slot: 11},
		{fn: "record", inst: 1, lslot: 10, value: 2},
		{fn: "record", inst: 1, lslot: 10, value: 3},
		{fn: "record", inst: 1, lslot: 11, value: 7},
		{fn: "record", inst: 1, value: 1},
		{fn: "record", inst: 2, value: 5},
		{fn: "record", inst: 2, value: -2},
		{fn: "record", inst: 3, lslot: 11, value: 7},
		{fn: "record", inst: 3, lslot: 11, value: 4},
		{fn: "record", inst: 4, value: 10},
		{fn: "record", inst: 4, value: 20},
		// A counter refuses a negative value; nothing is recorded.
		{fn: "record", inst: 1, value: -1, want: abi.ErrInvalid},
		// Handles the process does not hold.
		{fn: "record", inst: 5, value: 1, want: abi.ErrNotFound},
		{fn: "record", inst: 1, lslot: -9, value: 1, want: abi.ErrNotFound},
	})
	// A second process shares the counter by name.
	runScript(t, ctx, rt.Environment(), []op{
		{fn: "create", kind: metrics.Counter, text: "app.jobs", slot: 1},
		{fn: "record", inst: 1, value: 100},
		// The same name with another kind is refused.
		{fn: "create", kind: metrics.Gauge, text: "app.jobs", slot: 2, want: abi.ErrInvalid},
	})

	got := collect(t, ctx, reader)
	want := map[string]map[string]int64{
		"guest.app.jobs":  {"queue=fast,zone=eu": 5, "queue=slow": 7, "": 101},
		"guest.app.queue": {"": 3},
		"guest.app.temp":  {"queue=slow": 4},
	}
	for name, w := range want {
		m, ok := got[name]
		if !ok {
			t.Fatalf("no %s among %v", name, keys(got))
		}
		p := points(t, m)
		if len(p) != len(w) {
			t.Errorf("%s: points %v, want %v", name, p, w)
		}
		for k, v := range w {
			if p[k] != v {
				t.Errorf("%s{%s} = %d, want %d (all: %v)", name, k, p[k], v, p)
			}
		}
	}
	if s, ok := got["guest.app.jobs"].Data.(metricdata.Sum[int64]); !ok || !s.IsMonotonic {
		t.Errorf("guest.app.jobs is not a monotonic sum: %T", got["guest.app.jobs"].Data)
	}
	h, ok := got["guest.app.latency"].Data.(metricdata.Histogram[int64])
	if !ok || len(h.DataPoints) != 1 || h.DataPoints[0].Count != 2 || h.DataPoints[0].Sum != 30 {
		t.Errorf("guest.app.latency: %+v", got["guest.app.latency"].Data)
	}
	for name := range got {
		if !strings.HasPrefix(name, metrics.GuestNamePrefix) {
			t.Errorf("a guest's instrument is exported as %s", name)
		}
	}
}

func keys[V any](m map[string]V) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

// TestPrefixAndPermission: a guest creates instruments only where its
// environment enables metrics, and only under the environment's prefix; a
// name that looks like ward's own still lands under guest.; a child
// environment can narrow the configuration but not widen it.
func TestPrefixAndPermission(t *testing.T) {
	ctx := testCtx(t)
	rt, reader := newRuntime(t, metrics.Config{Enabled: true, Prefix: "app.", MaxInstruments: 4, MaxLabelSets: 4}, metrics.Options{})
	runScript(t, ctx, rt.Environment(), []op{
		{fn: "create", kind: metrics.Counter, text: "ward.processes", slot: 1, want: abi.ErrPermission},
		{fn: "create", kind: metrics.Counter, text: "other.jobs", slot: 1, want: abi.ErrPermission},
		{fn: "create", kind: metrics.Counter, text: "app", slot: 1, want: abi.ErrPermission},
		{fn: "create", kind: metrics.Counter, text: "app.ok", slot: 1},
		{fn: "create", kind: metrics.Counter, text: "app.Bad", slot: 2, want: abi.ErrInvalid},
		{fn: "create", kind: metrics.Counter, text: "app.bad name", slot: 2, want: abi.ErrInvalid},
		{fn: "create", kind: 4, text: "app.kind", slot: 2, want: abi.ErrInvalid},
	})

	child, err := rt.NewEnvironment(environment.Config{Host: map[string]environment.HostConfig{
		metrics.Namespace: metrics.Config{Enabled: true, Prefix: "app.child.", MaxInstruments: 1, MaxLabelSets: 1},
	}})
	if err != nil {
		t.Fatal(err)
	}
	runScript(t, ctx, child, []op{
		{fn: "create", kind: metrics.Counter, text: "app.ok", slot: 1, want: abi.ErrPermission},
		{fn: "create", kind: metrics.Counter, text: "app.child.a", slot: 1},
		{fn: "create", kind: metrics.Counter, text: "app.child.b", slot: 2, want: abi.ErrLimit},
	})
	for _, wider := range []metrics.Config{
		{Enabled: true, Prefix: "", MaxInstruments: 1},
		{Enabled: true, Prefix: "app.", MaxInstruments: 5},
		{Enabled: true, Prefix: "app.", MaxLabelSets: 5},
	} {
		if _, err := rt.NewEnvironment(environment.Config{Host: map[string]environment.HostConfig{metrics.Namespace: wider}}); !errors.Is(err, environment.ErrWiden) {
			t.Errorf("child %+v: %v, want ErrWiden", wider, err)
		}
	}

	off, err := rt.NewEnvironment(environment.Config{Host: map[string]environment.HostConfig{metrics.Namespace: metrics.Config{Prefix: "app."}}})
	if err != nil {
		t.Fatal(err)
	}
	runScript(t, ctx, off, []op{
		{fn: "create", kind: metrics.Counter, text: "app.ok", slot: 1, want: abi.ErrPermission},
		{fn: "labels", text: "a=b", slot: 2, want: abi.ErrPermission},
		{fn: "record", inst: 1, value: 1, want: abi.ErrNotFound},
	})
	got := collect(t, ctx, reader)
	for name := range got {
		if name != "guest.app.ok" && name != "guest.app.child.a" {
			t.Errorf("exported %s", name)
		}
	}
}

// TestDefaultGrantsNothing: registered without a configuration for the
// root, the module refuses every guest.
func TestDefaultGrantsNothing(t *testing.T) {
	ctx := testCtx(t)
	mod, err := metrics.Module(sdkmetric.NewMeterProvider(), metrics.Options{})
	if err != nil {
		t.Fatal(err)
	}
	rt := newRuntimeWith(t, withModule(mod))
	runScript(t, ctx, rt.Environment(), []op{
		{fn: "create", kind: metrics.Counter, text: "jobs", slot: 1, want: abi.ErrPermission},
	})
}

// TestBounds: per-process handle bounds (the environment's), and the
// runtime-wide bounds on names and on label sets per instrument (the
// embedder's), each refused with ErrLimit; what was admitted still
// records.
func TestBounds(t *testing.T) {
	ctx := testCtx(t)
	rt, reader := newRuntime(t, metrics.Config{Enabled: true, MaxInstruments: 3, MaxLabelSets: 3}, metrics.Options{MaxNames: 4, MaxSeries: 2})
	runScript(t, ctx, rt.Environment(), []op{
		{fn: "create", kind: metrics.Counter, text: "a", slot: 1},
		{fn: "create", kind: metrics.Counter, text: "b", slot: 2},
		{fn: "create", kind: metrics.Counter, text: "c", slot: 3},
		{fn: "create", kind: metrics.Counter, text: "d", slot: 4, want: abi.ErrLimit}, // 3 handles held
		{fn: "labels", text: "k=1", slot: 11},
		{fn: "labels", text: "k=2", slot: 12},
		{fn: "labels", text: "k=3", slot: 13},
		{fn: "labels", text: "k=4", slot: 14, want: abi.ErrLimit}, // 3 label sets held
		{fn: "record", inst: 1, lslot: 11, value: 1},
		{fn: "record", inst: 1, lslot: 12, value: 1},
		{fn: "record", inst: 1, lslot: 13, value: 1, want: abi.ErrLimit}, // a third series on a
		{fn: "record", inst: 1, lslot: 11, value: 1},                     // an admitted one still counts
		{fn: "record", inst: 2, lslot: 13, value: 1},                     // b has its own series
	})
	// Names are bounded across processes: a, b, c exist, so one more.
	runScript(t, ctx, rt.Environment(), []op{
		{fn: "create", kind: metrics.Counter, text: "d", slot: 1},
		{fn: "create", kind: metrics.Counter, text: "e", slot: 2, want: abi.ErrLimit},
		{fn: "create", kind: metrics.Counter, text: "a", slot: 2}, // an existing name is no new one
	})
	p := points(t, collect(t, ctx, reader)["guest.a"])
	if len(p) != 2 || p["k=1"] != 2 || p["k=2"] != 1 {
		t.Errorf("guest.a: %v", p)
	}
}

// TestHostileGuest: huge and malformed label encodings, names past the
// bounds, and a flood of creates are refused with statuses; nothing traps,
// and the host holds no more than the bounds.
func TestHostileGuest(t *testing.T) {
	ctx := testCtx(t)
	rt, reader := newRuntime(t, metrics.Config{Enabled: true, MaxInstruments: 8, MaxLabelSets: 8}, metrics.Options{MaxNames: 8, MaxSeries: 4})
	var many strings.Builder
	for i := range abi.MaxMetricLabels + 1 {
		many.WriteString("k" + string(rune('a'+i)) + "=v\n")
	}
	ops := []op{
		{fn: "rawlabels", ptr: 0, length: 0x7fffffff, want: abi.ErrInvalid},
		{fn: "rawlabels", ptr: 0, length: -1, want: abi.ErrInvalid},
		{fn: "rawlabels", ptr: 0, length: abi.MaxMetricLabelsSize + 1, want: abi.ErrInvalid},
		{fn: "labels", text: many.String(), slot: 1, want: abi.ErrInvalid},
		{fn: "labels", text: "k=1\nk=2", slot: 1, want: abi.ErrInvalid},
		{fn: "labels", text: "novalue", slot: 1, want: abi.ErrInvalid},
		{fn: "labels", text: "=v", slot: 1, want: abi.ErrInvalid},
		{fn: "labels", text: "1k=v", slot: 1, want: abi.ErrInvalid},
		{fn: "labels", text: "k=\xff", slot: 1, want: abi.ErrInvalid},
		{fn: "create", kind: metrics.Counter, text: strings.Repeat("x", abi.MaxMetricNameLen+1), slot: 1, want: abi.ErrInvalid},
		{fn: "create", kind: metrics.Counter, text: strings.Repeat("x", abi.MaxMetricNameLen), slot: 1},
	}
	for i := range 12 {
		want := int32(abi.OK)
		if i >= 7 { // 8 names
			want = abi.ErrLimit
		}
		ops = append(ops, op{fn: "create", kind: metrics.Histogram, text: "flood" + strings.Repeat("x", i), slot: 2, want: want})
	}
	runScript(t, ctx, rt.Environment(), ops)
	if n := len(collect(t, ctx, reader)); n > 8 {
		t.Errorf("%d instruments exported, at most 8 allowed", n)
	}
}

// TestNothingExportedWithoutProvider: guests that record with a module
// made without a provider, and a runtime nobody registered, put nothing in
// OpenTelemetry's global MeterProvider.
func TestNothingExportedWithoutProvider(t *testing.T) {
	ctx := testCtx(t)
	global := sdkmetric.NewManualReader()
	prev := otel.GetMeterProvider()
	otel.SetMeterProvider(sdkmetric.NewMeterProvider(sdkmetric.WithReader(global)))
	t.Cleanup(func() { otel.SetMeterProvider(prev) })

	mod, err := metrics.Module(nil, metrics.Options{})
	if err != nil {
		t.Fatal(err)
	}
	rt := newRuntimeWith(t, withModule(mod), withRootConfig(enabled))
	runScript(t, ctx, rt.Environment(), []op{
		{fn: "create", kind: metrics.Counter, text: "jobs", slot: 1},
		{fn: "labels", text: "a=b", slot: 2},
		{fn: "record", inst: 1, lslot: 2, value: 3},
	})
	if got := collect(t, ctx, global); len(got) != 0 {
		t.Errorf("exported without a provider: %v", keys(got))
	}
}

// TestHandlesArePerProcess: handles name the caller's own instruments and
// label sets; a process that made none finds nothing with another's
// numbers, and a process's handles go when it ends.
func TestHandlesArePerProcess(t *testing.T) {
	ctx := testCtx(t)
	rt, reader := newRuntime(t, enabled, metrics.Options{})
	runScript(t, ctx, rt.Environment(), []op{
		{fn: "create", kind: metrics.Counter, text: "mine", slot: 1},
		{fn: "labels", text: "a=b", slot: 2},
		{fn: "record", inst: 1, lslot: 2, value: 1},
	})
	// The same numbers, 1 and 1, from a process that holds nothing.
	runScript(t, ctx, rt.Environment(), []op{
		{fn: "create", kind: metrics.Gauge, text: "other", slot: 9}, // holds gauge 1 now
		{fn: "record", inst: 9, lslot: -1, value: 5, want: abi.ErrNotFound},
	})
	p := points(t, collect(t, ctx, reader)["guest.mine"])
	if len(p) != 1 || p["a=b"] != 1 {
		t.Errorf("guest.mine: %v", p)
	}
}

// TestTrapKeepsWhatWasRecorded: a process that traps after recording
// loses its handles, not its figures; the next process finds the same
// instrument by name.
func TestTrapKeepsWhatWasRecorded(t *testing.T) {
	ctx := testCtx(t)
	rt, reader := newRuntime(t, enabled, metrics.Options{})
	mod, err := rt.LoadModule(ctx, "trapper", []byte(strings.Replace(scriptWAT([]op{
		{fn: "create", kind: metrics.Counter, text: "t", slot: 1},
		{fn: "record", inst: 1, value: 4},
	}), "  ))", "  unreachable))", 1)))
	if err != nil {
		t.Fatal(err)
	}
	reason, err := rt.Environment().Run(ctx, mod, "run")
	var trap *runtime.TrapError
	if err != nil || !errors.As(reason, &trap) {
		t.Fatalf("want a trap: %v, %v", reason, err)
	}
	runScript(t, ctx, rt.Environment(), []op{
		{fn: "create", kind: metrics.Counter, text: "t", slot: 1},
		{fn: "record", inst: 1, value: 1},
	})
	if p := points(t, collect(t, ctx, reader)["guest.t"]); p[""] != 5 {
		t.Errorf("guest.t: %v, want 5", p)
	}
}
