package cluster

import (
	"slices"
	"testing"
	"time"
)

// BenchmarkGlobalRegister measures a register and its unregister, each a
// conditional write to the bucket, on one embedded server over in-process
// connections; p50-µs is the median of the pair.
func BenchmarkGlobalRegister(b *testing.B) {
	nodes := startGlobals(b, startGlobalServer(b), 1)
	n := nodes[0]
	ctx := globalTestCtx(b)
	p := n.holder(b)
	lat := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for b.Loop() {
		t0 := time.Now()
		if err := n.g.Register(ctx, "bench", "1.0.0", p.ID()); err != nil {
			b.Fatal(err)
		}
		if err := n.g.Unregister(ctx, "bench", "1.0.0"); err != nil {
			b.Fatal(err)
		}
		lat = append(lat, time.Since(t0))
	}
	b.StopTimer()
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)/2].Nanoseconds())/1e3, "p50-µs")
}

// BenchmarkGlobalLookup measures a lookup with a range constraint
// answered from the node's cache.
func BenchmarkGlobalLookup(b *testing.B) {
	nodes := startGlobals(b, startGlobalServer(b), 1)
	n := nodes[0]
	ctx := globalTestCtx(b)
	p := n.holder(b)
	for _, v := range []string{"1.0.0", "1.1.0", "1.2.0", "2.0.0"} {
		if err := n.g.Register(ctx, "bench", v, p.ID()); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := n.g.Lookup(ctx, "bench", "^1.1"); err != nil {
			b.Fatal(err)
		}
	}
}
