//go:build !wasip1

package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"syscall"
	"testing"
	"time"

	"github.com/wardrt/ward/runtime"
)

// cacheDir is a compile cache shared by this package's tests, so that the
// guest and its image's derived module are compiled once, not once per
// runtime.
var cacheDir string

func TestMain(m *testing.M) {
	var err error
	if cacheDir, err = os.MkdirTemp("", "ward-hello-test-"); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(cacheDir)
	os.Exit(code)
}

// testRuntime is a runtime for this package's tests: silent, on the
// shared compile cache, and with opts.
func testRuntime(opts ...runtime.Option) (*runtime.Runtime, error) {
	return runtime.New(append([]runtime.Option{
		runtime.WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil))),
		runtime.WithCacheDir(cacheDir),
	}, opts...)...)
}

// The whole conversation gives the same report whether every process
// starts from the pre-initialised image (the default) or runs the Go
// runtime's start-up itself.
func TestHelloFromImageMatchesNormalStart(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	fromImage, err := run(ctx, runtime.WithCacheDir(cacheDir))
	if err != nil {
		t.Fatal(err)
	}
	normal, err := run(ctx, runtime.WithCacheDir(cacheDir), runtime.WithGoImages(false))
	if err != nil {
		t.Fatal(err)
	}
	if fromImage != normal {
		t.Errorf("reports differ:\nfrom the image %+v\nnormal start   %+v", fromImage, normal)
	}
}

// BenchmarkGoStart is a Go guest's start: from Spawn to the first message
// it sends (the greeter's reply to a request), with and without the
// pre-initialised image. It reports page faults and system time per
// start too: faults are what a start from the image costs on a VM where
// each takes 35-85 µs, and what the image's pool of reset memories
// saves (docs/why.md).
func BenchmarkGoStart(b *testing.B) {
	for _, c := range []struct {
		name  string
		image bool
	}{{"image", true}, {"normal", false}} {
		b.Run(c.name, func(b *testing.B) {
			ctx := context.Background()
			rt, err := testRuntime(runtime.WithGoImages(c.image))
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

// A Go guest's processes start from the image made when it was loaded;
// Module.Preinitialized says whether there is one, and how much memory
// its processes start with. Here a greeter starts and answers at once.
func Example_preinitialized() {
	ctx := context.Background()
	rt, err := runtime.New(runtime.WithCacheDir(cacheDir))
	if err != nil {
		panic(err)
	}
	defer rt.Close(ctx)
	mod, err := rt.LoadModule(ctx, "hello", helloWasm) // runs the Go start-up once
	if err != nil {
		panic(err)
	}
	_, ok := mod.Preinitialized()
	fmt.Println("pre-initialised:", ok)

	p, err := rt.Environment().Spawn(ctx, mod, "greeter") // no start-up: from the image
	if err != nil {
		panic(err)
	}
	req, _ := runtime.EncodeMessage(0, "ward")
	reply, err := rt.Request(ctx, p.ID(), req)
	if err != nil {
		panic(err)
	}
	var greeting string
	if err := runtime.DecodeMessage(reply, &greeting); err != nil {
		panic(err)
	}
	fmt.Println(greeting)
	// Output:
	// pre-initialised: true
	// hello, ward
}
