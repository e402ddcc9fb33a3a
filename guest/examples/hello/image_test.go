//go:build !wasip1

package main

import (
	"context"
	"io"
	"log/slog"
	"syscall"
	"testing"
	"time"

	"github.com/wardrt/ward/runtime"
)

// The whole conversation gives the same report whether every process
// starts from the pre-initialised image (the default) or runs the Go
// runtime's start-up itself.
func TestHelloFromImageMatchesNormalStart(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	fromImage, err := run(ctx)
	if err != nil {
		t.Fatal(err)
	}
	normal, err := run(ctx, runtime.WithGoImages(false))
	if err != nil {
		t.Fatal(err)
	}
	if fromImage != normal {
		t.Errorf("reports differ:\nfrom the image %+v\nnormal start   %+v", fromImage, normal)
	}
}

// BenchmarkGoStart is a Go guest's start: from Spawn to the first message
// it sends (the greeter's reply to a request), with and without the
// pre-initialised image.
func BenchmarkGoStart(b *testing.B) {
	for _, c := range []struct {
		name  string
		image bool
	}{{"image", true}, {"normal", false}} {
		b.Run(c.name, func(b *testing.B) {
			ctx := context.Background()
			rt, err := runtime.New(runtime.WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil))), runtime.WithGoImages(c.image))
			if err != nil {
				b.Fatal(err)
			}
			defer rt.Close(ctx)
			mod, err := rt.LoadModule(ctx, "hello", helloWasm)
			if err != nil {
				b.Fatal(err)
			}
			if _, ok := mod.Preinitialized(); ok != c.image {
				b.Fatalf("Preinitialized() = %v, want %v", ok, c.image)
			}
			req, err := runtime.EncodeMessage(0, "ward")
			if err != nil {
				b.Fatal(err)
			}
			var ru0, ru1 syscall.Rusage
			syscall.Getrusage(syscall.RUSAGE_SELF, &ru0)
			for b.Loop() {
				p, err := rt.Environment().Spawn(ctx, mod, "greeter")
				if err != nil {
					b.Fatal(err)
				}
				if _, err := rt.Request(ctx, p.ID(), req); err != nil {
					b.Fatal(err)
				}
				p.Wait(ctx)
			}
			syscall.Getrusage(syscall.RUSAGE_SELF, &ru1)
			b.ReportMetric(float64(ru1.Minflt-ru0.Minflt)/float64(b.N), "minflt/op")
			b.ReportMetric(float64((ru1.Stime.Nano()-ru0.Stime.Nano())/1000)/float64(b.N), "sys-us/op")
		})
	}
}
