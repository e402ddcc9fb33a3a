package metrics_test

import (
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"go.opentelemetry.io/otel/sdk/metric/metricdata"

	"github.com/wardrt/ward/hostapi/metrics"
	"github.com/wardrt/ward/runtime"
)

// TestGoGuestSDK builds testdata/goguest with the Go guest SDK (package
// guest) and reads back what it recorded: the SDK's Counter, UpDownCounter,
// Gauge, Histogram and NewLabels make the calls the ABI documents, and
// its errors are the SDK's sentinels. The build is made here, not
// committed, and skipped with -short.
func TestGoGuestSDK(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a Go guest")
	}
	out := filepath.Join(t.TempDir(), "goguest.wasm")
	build := exec.Command("go", "build", "-buildmode=c-shared", "-o", out, "./testdata/goguest")
	build.Env = append(os.Environ(), "GOOS=wasip1", "GOARCH=wasm", "CGO_ENABLED=0")
	if b, err := build.CombinedOutput(); err != nil {
		t.Fatalf("building the guest: %v\n%s", err, b)
	}
	wasm, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	ctx := testCtx(t)
	rt, reader := newRuntime(t, metrics.Config{Enabled: true, Prefix: "sdk.", MaxInstruments: 8, MaxLabelSets: 8}, metrics.Options{})
	mod, err := rt.LoadModule(ctx, "goguest", wasm)
	if err != nil {
		t.Fatal(err)
	}
	reason, err := rt.Environment().Run(ctx, mod, "run")
	if err != nil || reason != runtime.Normal {
		t.Fatalf("guest: %v, %v", reason, err)
	}
	got := collect(t, ctx, reader)
	for name, want := range map[string]map[string]int64{
		"guest.sdk.jobs":  {"queue=fast": 2, "": 1},
		"guest.sdk.queue": {"": -3},
		"guest.sdk.temp":  {"queue=fast": 21},
	} {
		p := points(t, got[name])
		if len(p) != len(want) {
			t.Errorf("%s: %v, want %v", name, p, want)
		}
		for k, v := range want {
			if p[k] != v {
				t.Errorf("%s{%s} = %d, want %d", name, k, p[k], v)
			}
		}
	}
	if _, ok := got["guest.sdk.latency"]; !ok {
		t.Error("no guest.sdk.latency")
	}
	if p := points(t, got["guest.sdk.more"]); len(p) != 1 || p["queue=fast"] != 4 {
		t.Errorf("guest.sdk.more: %v, want queue=fast 4", p)
	}
	for name, want := range map[string]map[string]float64{
		"guest.sdk.work_seconds": {"queue=fast": 1.5, "": 0.25},
		"guest.sdk.level":        {"": -0.5},
		"guest.sdk.ratio":        {"queue=fast": 0.75},
	} {
		if p := floatPoints(t, got[name]); !maps.Equal(p, want) {
			t.Errorf("%s: %v, want %v", name, p, want)
		}
	}
	if h, ok := got["guest.sdk.size"].Data.(metricdata.Histogram[float64]); !ok || len(h.DataPoints) != 1 || h.DataPoints[0].Count != 1 || h.DataPoints[0].Sum != 2.5 {
		t.Errorf("guest.sdk.size: %+v, want one observation of 2.5", got["guest.sdk.size"].Data)
	}
}
