package runtime

import (
	"context"
	"io"
	"log/slog"
	"os"
	"testing"

	"github.com/wardrt/ward/module"
)

// BenchmarkLoadVerifiedFromCache: what a restarted program pays to load a
// signed Go guest (hello.wasm, about 4 MiB) it compiled before: a fresh
// runtime each time, the signature checked, the code read back from a warm
// cache directory and authenticated. Only Load is timed.
func BenchmarkLoadVerifiedFromCache(b *testing.B) {
	wasm, err := os.ReadFile("../guest/examples/hello/hello.wasm")
	if err != nil {
		b.Fatal(err)
	}
	pub, priv := testKey(1)
	signed, err := module.Sign(wasm, priv)
	if err != nil {
		b.Fatal(err)
	}
	dir := b.TempDir()
	ctx := context.Background()
	src := module.Bytes("hello.wasm", signed)
	trust := Verify(module.Ed25519(pub))
	load := func() {
		b.StopTimer()
		r, err := New(WithCacheDir(dir), WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil))))
		if err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		if _, err := r.Load(ctx, src, trust); err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		r.Close(ctx)
		b.StartTimer()
	}
	load() // warms the cache
	b.SetBytes(int64(len(signed)))
	b.ResetTimer()
	for range b.N {
		load()
	}
}
