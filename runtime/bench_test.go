package runtime

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"testing"

	"github.com/wardrt/ward/environment"
	"github.com/wardrt/ward/testdata"
)

func newBenchRuntime(b *testing.B) *Runtime {
	b.Helper()
	r, err := New(WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil))))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { r.Close(context.Background()) })
	return r
}

func loadTrivial(b *testing.B, r *Runtime) *Module {
	m, err := r.LoadModule(context.Background(), "trivial", []byte(`(module (func (export "run")))`))
	if err != nil {
		b.Fatal(err)
	}
	return m
}

// BenchmarkRun: the same process run on the caller's goroutine
// (Environment.Run): no goroutine hand-off, no scheduler wake-ups.
func BenchmarkRun(b *testing.B) {
	ctx := context.Background()
	r := newBenchRuntime(b)
	m := loadTrivial(b, r)
	env := r.Environment()
	b.ReportAllocs()
	for b.Loop() {
		if reason, err := env.Run(ctx, m, "run"); err != nil || reason != Normal {
			b.Fatal(reason, err)
		}
	}
}

// BenchmarkRunMemory: BenchmarkRun with a module that has a one-page
// memory, as wardbench's trivial module does: the memory comes from the
// pool, and is zeroed when its process ends.
func BenchmarkRunMemory(b *testing.B) {
	ctx := context.Background()
	r := newBenchRuntime(b)
	m, err := r.LoadModule(ctx, "trivial", []byte(`(module (memory 1) (func (export "run")))`))
	if err != nil {
		b.Fatal(err)
	}
	env := r.Environment()
	b.ReportAllocs()
	for b.Loop() {
		if reason, err := env.Run(ctx, m, "run"); err != nil || reason != Normal {
			b.Fatal(reason, err)
		}
	}
}

// BenchmarkSpawnParallel: spawn+wait from GOMAXPROCS goroutines at once;
// ns/op is the inverse of throughput.
func BenchmarkSpawnParallel(b *testing.B) {
	ctx := context.Background()
	r := newBenchRuntime(b)
	m := loadTrivial(b, r)
	env := r.Environment()
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			p, err := env.Spawn(ctx, m, "run")
			if err != nil {
				b.Fatal(err)
			}
			if reason, _ := p.Wait(ctx); reason != Normal {
				b.Fatal(reason)
			}
		}
	})
}

// BenchmarkSpawnRunExit: spawn a trivial WAT process, run it, wait for its
// exit (store freed). The target is a median of at most 15 µs here.
func BenchmarkSpawnRunExit(b *testing.B) {
	ctx := context.Background()
	r := newBenchRuntime(b)
	m := loadTrivial(b, r)
	env := r.Environment()
	b.ReportAllocs()
	for b.Loop() {
		p, err := env.Spawn(ctx, m, "run")
		if err != nil {
			b.Fatal(err)
		}
		if reason, _ := p.Wait(ctx); reason != Normal {
			b.Fatal(reason)
		}
	}
}

// BenchmarkMemoryGrowth: a guest grows its memory one 64 KiB page at a
// time up to a 4 MiB limit and dies of it. With the default (no reserve)
// every grow moves and copies the memory; with a reserve it grows in place.
func BenchmarkMemoryGrowth(b *testing.B) {
	for _, c := range []struct {
		name    string
		reserve uint64
	}{{"reserve=0", 0}, {"reserve=4MiB", 4 << 20}} {
		b.Run(c.name, func(b *testing.B) {
			ctx := context.Background()
			r, err := New(WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil))), WithMemoryReserve(c.reserve))
			if err != nil {
				b.Fatal(err)
			}
			defer r.Close(ctx)
			m, err := r.LoadModule(ctx, "growmem", testdata.GrowMem)
			if err != nil {
				b.Fatal(err)
			}
			env, err := r.NewEnvironment(environment.Config{MaxMemory: 4 << 20})
			if err != nil {
				b.Fatal(err)
			}
			for b.Loop() {
				reason, _ := env.Run(ctx, m, "grow_forever")
				if !errors.Is(reason, ErrMemoryLimit) {
					b.Fatal(reason)
				}
			}
		})
	}
}
