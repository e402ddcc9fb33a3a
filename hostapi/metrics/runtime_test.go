package metrics_test

import (
	"errors"
	"strings"
	"testing"

	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"

	"github.com/wardrt/ward/environment"
	"github.com/wardrt/ward/hostapi/metrics"
	"github.com/wardrt/ward/internal/abi"
	"github.com/wardrt/ward/mailbox"
	"github.com/wardrt/ward/runtime"
)

const figuresWAT = `(module
  (import "ward_message" "receive" (func $receive (param i32 i32 i64) (result i32)))
  (memory (export "memory") 1)
  (data (i32.const 0) "\e7\03\00\00\00\00\00\00") ;; tag 999, never sent
  (func (export "ok"))
  (func (export "trap") unreachable)
  (func (export "block") (drop (call $receive (i32.const 0) (i32.const 1) (i64.const -1)))))`

// TestRuntimeFigures: spawn N, see N; ends by reason; messages queued and
// refused by a full mailbox; mailbox depths; and nothing more once the
// registration is undone.
func TestRuntimeFigures(t *testing.T) {
	ctx := testCtx(t)
	rt := newRuntimeWith(t, runtime.WithRootEnvironment(environment.Config{MaxMailboxMessages: 3}))
	reader := sdkmetric.NewManualReader()
	reg, err := metrics.Register(rt, sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader)))
	if err != nil {
		t.Fatal(err)
	}
	mod, err := rt.LoadModule(ctx, "figures", []byte(figuresWAT))
	if err != nil {
		t.Fatal(err)
	}
	const normal, traps = 5, 3
	for range normal {
		if r, err := rt.Environment().Run(ctx, mod, "ok"); err != nil || r != runtime.Normal {
			t.Fatal(r, err)
		}
	}
	for range traps {
		if _, err := rt.Environment().Run(ctx, mod, "trap"); err != nil {
			t.Fatal(err)
		}
	}
	blocker, err := rt.Environment().Spawn(ctx, mod, "block")
	if err != nil {
		t.Fatal(err)
	}
	full := 0
	for i := range 5 {
		err := rt.Send(ctx, blocker.ID(), runtime.Message{Tag: int64(i + 1)})
		switch {
		case errors.Is(err, mailbox.ErrFull):
			full++
		case err != nil:
			t.Fatal(err)
		}
	}
	if full != 2 {
		t.Fatalf("%d sends refused, want 2", full)
	}

	check := func(want map[string]map[string]int64) {
		t.Helper()
		got := collect(t, ctx, reader)
		for name, w := range want {
			m, ok := got[name]
			if !ok {
				t.Errorf("no %s", name)
				continue
			}
			p := points(t, m)
			for k, v := range w {
				if p[k] != v {
					t.Errorf("%s{%s} = %d, want %d (all: %v)", name, k, p[k], v, p)
				}
			}
		}
	}
	check(map[string]map[string]int64{
		metrics.MetricProcesses:     {"": 1},
		metrics.MetricSpawned:       {"": normal + traps + 1},
		metrics.MetricEnded:         {"reason=normal": normal, "reason=trap": traps, "reason=killed": 0},
		metrics.MetricMessagesSent:  {"": 3},
		metrics.MetricMessagesDrop:  {"": 2},
		metrics.MetricMailboxQueued: {"": 3},
		metrics.MetricMailboxMax:    {"": 3},
	})

	blocker.Kill()
	if _, err := blocker.Wait(ctx); err != nil {
		t.Fatal(err)
	}
	check(map[string]map[string]int64{
		metrics.MetricProcesses:     {"": 0},
		metrics.MetricEnded:         {"reason=normal": normal, "reason=trap": traps, "reason=killed": 1},
		metrics.MetricMessagesSent:  {"": 3}, // the ended process's count is kept
		metrics.MetricMailboxQueued: {"": 0},
	})

	if err := reg.Unregister(); err != nil {
		t.Fatal(err)
	}
	for name := range collect(t, ctx, reader) {
		if strings.HasPrefix(name, "ward.") {
			t.Errorf("%s still exported after Unregister", name)
		}
	}
}

// TestHostCallDuration: with the option, each call of a host module's
// function is one observation in ward.hostcall.duration, by function.
func TestHostCallDuration(t *testing.T) {
	ctx := testCtx(t)
	reader := sdkmetric.NewManualReader()
	provider := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	mod, err := metrics.Module(provider, metrics.Options{})
	if err != nil {
		t.Fatal(err)
	}
	timing, err := metrics.HostCallDuration(provider)
	if err != nil {
		t.Fatal(err)
	}
	rt := newRuntimeWith(t, withModule(mod), withRootConfig(enabled), timing)
	runScript(t, ctx, rt.Environment(), []op{
		{fn: "create", kind: metrics.Counter, text: "c", slot: 1},
		{fn: "labels", text: "a=b", slot: 2},
		{fn: "record", inst: 1, value: 1},
		{fn: "record", inst: 1, lslot: 2, value: 1},
		{fn: "record", inst: 1, value: -1, want: abi.ErrInvalid},
	})
	m, ok := collect(t, ctx, reader)[metrics.MetricHostCallDuration]
	if !ok {
		t.Fatal("no", metrics.MetricHostCallDuration)
	}
	h, ok := m.Data.(metricdata.Histogram[float64])
	if !ok {
		t.Fatalf("%T", m.Data)
	}
	got := map[string]uint64{}
	for _, dp := range h.DataPoints {
		got[attrKey(dp.Attributes.ToSlice())] = dp.Count
		if dp.Sum <= 0 {
			t.Errorf("%v: sum %v", dp.Attributes.ToSlice(), dp.Sum)
		}
	}
	want := map[string]uint64{"function=ward_metrics.create": 1, "function=ward_metrics.labels": 1, "function=ward_metrics.record": 3}
	if len(got) != len(want) {
		t.Errorf("got %v, want %v", got, want)
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s: %d calls, want %d", k, got[k], v)
		}
	}
}
