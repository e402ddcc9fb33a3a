package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wardrt/ward/environment"
	"github.com/wardrt/ward/runtime"
)

func TestPlugin(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var out bytes.Buffer
	if err := run(ctx, &out); err != nil {
		t.Fatal(err)
	}
	got := out.String()
	lines := strings.Split(strings.TrimSuffix(got, "\n"), "\n")
	want := []string{
		`upper  ok: "HELLO, PLUGINS"`,
		"spin   out of fuel (limit 10000000), process ended",
		"crash  trapped (memory out of bounds), process ended: process ",
		"bomb   memory limit (4194304 of 4194304 bytes), process ended; then: process ",
		"hang   plugin timed out after 1s, process killed",
		`snoop  refused at spawn: ward: spawning snoop.run: import "wasi_snapshot_preview1"."path_open" is not allowed`,
		`upper  ok: "HELLO, PLUGINS"`,
		"host still up; processes alive: 0",
	}
	if len(lines) != len(want) {
		t.Fatalf("%d lines, want %d:\n%s", len(lines), len(want), got)
	}
	for i, w := range want {
		if !strings.HasPrefix(lines[i], w) {
			t.Errorf("line %d = %q, want it to begin %q", i+1, lines[i], w)
		}
	}
}

// TestCallReasons checks the typed errors Call returns, with many calls of
// every plugin at once: the good calls all succeed, whatever the others do.
func TestCallReasons(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	rt, err := runtime.New(
		runtime.WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil))),
		runtime.WithMemoryReserve(limits.MaxMemory),
	)
	if err != nil {
		t.Fatal(err)
	}
	defer rt.Close(ctx)
	host, err := NewHost(rt, limits, 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	mods := map[string]*runtime.Module{}
	for _, name := range []string{"upper", "spin", "crash", "bomb", "hang", "snoop"} {
		wasm, err := plugins.ReadFile("plugins/" + name + ".wasm")
		if err != nil {
			t.Fatal(err)
		}
		if mods[name], err = host.Load(ctx, name, wasm); err != nil {
			t.Fatal(err)
		}
	}
	check := map[string]func(out []byte, err error) bool{
		"upper": func(out []byte, err error) bool { return err == nil },
		"spin": func(_ []byte, err error) bool {
			var e *runtime.FuelError
			return errors.As(err, &e) && errors.Is(err, runtime.ErrOutOfFuel)
		},
		"crash": func(_ []byte, err error) bool {
			var e *runtime.TrapError
			return errors.As(err, &e) && e.Code == runtime.TrapMemoryOutOfBounds && !errors.Is(err, runtime.ErrMemoryLimit)
		},
		"bomb": func(_ []byte, err error) bool {
			var e *runtime.MemoryLimitError
			return errors.As(err, &e) && errors.Is(err, runtime.ErrMemoryLimit) && e.Used == limits.MaxMemory
		},
		"hang":  func(_ []byte, err error) bool { return errors.Is(err, ErrTimeout) },
		"snoop": func(_ []byte, err error) bool { return errors.Is(err, environment.ErrNamespaceDenied) },
	}

	const good = 40
	var wg sync.WaitGroup
	errs := make(chan error, 100)
	for i := range good {
		wg.Go(func() {
			in := fmt.Sprintf("request %d, abc", i)
			out, err := host.Call(ctx, mods["upper"], []byte(in))
			if err != nil || string(out) != strings.ToUpper(in) {
				errs <- fmt.Errorf("upper(%q) = %q, %v", in, out, err)
			}
		})
	}
	for name, ok := range check {
		if name == "upper" {
			continue
		}
		for range 3 {
			wg.Go(func() {
				out, err := host.Call(ctx, mods[name], []byte("x"))
				if !ok(out, err) {
					errs <- fmt.Errorf("%s: %q, %v (%T)", name, out, err, err)
				}
			})
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if n := rt.NumProcesses(); n != 0 {
		t.Errorf("%d processes alive after the calls", n)
	}
}

// A call whose ctx ends first returns ctx's error and leaves nothing
// running.
func TestCallCancelled(t *testing.T) {
	rt, err := runtime.New(runtime.WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil))))
	if err != nil {
		t.Fatal(err)
	}
	defer rt.Close(context.Background())
	host, err := NewHost(rt, limits, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	wasm, _ := plugins.ReadFile("plugins/hang.wasm")
	mod, err := host.Load(context.Background(), "hang", wasm)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if _, err := host.Call(ctx, mod, nil); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Call = %v, want the context's deadline", err)
	}
	if n := rt.NumProcesses(); n != 0 {
		t.Errorf("%d processes alive after the call", n)
	}
}
