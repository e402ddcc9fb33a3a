//go:build !wasip1

package main

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/wardrt/ward/environment"
	"github.com/wardrt/ward/runtime"
)

// TestStartupFuel measures the fuel a Go guest burns before its code runs
// (the Go runtime's initialisation, in _initialize), which the README
// quotes, and checks that it is what MaxFuel must cover: with half of it
// the guest ends out of fuel while instantiating, with twice as much it
// runs.
func TestStartupFuel(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	rt, err := runtime.New(runtime.WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil))))
	if err != nil {
		t.Fatal(err)
	}
	defer rt.Close(context.Background())
	mod, err := rt.LoadModule(ctx, "hello", helloWasm)
	if err != nil {
		t.Fatal(err)
	}
	// crash exits with code 7 as soon as it runs: its fuel is the start's.
	runWith := func(fuel uint64) (*runtime.Process, runtime.Reason) {
		env, err := rt.NewEnvironment(environment.Config{MaxFuel: fuel})
		if err != nil {
			t.Fatal(err)
		}
		p, err := env.Spawn(ctx, mod, "crash", runtime.I32(7))
		if err != nil {
			t.Fatal(err)
		}
		reason, err := p.Wait(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return p, reason
	}
	p, reason := runWith(0)
	var exit *runtime.ExitError
	if !errors.As(reason, &exit) || exit.Code != 7 {
		t.Fatalf("crash ended with %v, want exit code 7", reason)
	}
	start := p.FuelUsed()
	t.Logf("a Go guest's start-up: %d fuel", start)
	if _, reason := runWith(start / 2); !errors.Is(reason, runtime.ErrOutOfFuel) {
		t.Fatalf("with half its start-up fuel: %v, want ErrOutOfFuel", reason)
	}
	if _, reason := runWith(2 * start); !errors.As(reason, &exit) {
		t.Fatalf("with twice its start-up fuel: %v, want exit code 7", reason)
	}
}
