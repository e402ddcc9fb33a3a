package cluster

import (
	"slices"
	"testing"
	"time"
)

// BenchmarkGlobalRegister measures a register and its unregister, each a
// conditional write to the bucket, on one embedded server over in-process
// connections. It reports the medians of each and of the pair
// (register-p50-µs, unregister-p50-µs, p50-µs).
func BenchmarkGlobalRegister(b *testing.B) {
	nodes := startGlobals(b, startGlobalServer(b), 1)
	n := nodes[0]
	ctx := globalTestCtx(b)
	p := n.holder(b)
	var reg, unreg, pair []time.Duration
	for b.Loop() {
		t0 := time.Now()
		if err := n.g.Register(ctx, "bench", "1.0.0", p.ID()); err != nil {
			b.Fatal(err)
		}
		t1 := time.Now()
		if err := n.g.Unregister(ctx, "bench", "1.0.0"); err != nil {
			b.Fatal(err)
		}
		t2 := time.Now()
		reg, unreg, pair = append(reg, t1.Sub(t0)), append(unreg, t2.Sub(t1)), append(pair, t2.Sub(t0))
	}
	b.ReportMetric(p50us(reg), "register-p50-µs")
	b.ReportMetric(p50us(unreg), "unregister-p50-µs")
	b.ReportMetric(p50us(pair), "p50-µs")
}

func p50us(d []time.Duration) float64 {
	slices.Sort(d)
	return float64(d[len(d)/2].Nanoseconds()) / 1e3
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
