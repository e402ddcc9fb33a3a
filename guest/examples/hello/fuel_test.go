//go:build !wasip1

package main

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/wardrt/ward/environment"
	"github.com/wardrt/ward/runtime"
)

// TestStartupFuel measures the fuel a Go guest burns before its code runs.
// Started normally, that is the Go runtime's initialisation (_initialize),
// which the README and docs/limits.md quote, and it is what MaxFuel must
// cover: with half of it the guest ends out of fuel while instantiating,
// with twice as much it runs. Started from the pre-initialised image (the
// default), that initialisation ran once, at load, and a process is
// charged next to nothing for its start.
func TestStartupFuel(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	// crash exits with code 7 as soon as it runs: its fuel is the start's.
	startFuel := func(rt *runtime.Runtime, mod *runtime.Module, fuel uint64) (uint64, runtime.Reason) {
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
		return p.FuelUsed(), reason
	}
	var exit *runtime.ExitError
	var fuel [2]uint64
	for i, images := range []bool{false, true} {
		rt, err := testRuntime(runtime.WithGoImages(images))
		if err != nil {
			t.Fatal(err)
		}
		defer rt.Close(context.Background())
		mod, err := rt.LoadModule(ctx, "hello", helloWasm)
		if err != nil {
			t.Fatal(err)
		}
		start, reason := startFuel(rt, mod, 0)
		if !errors.As(reason, &exit) || exit.Code != 7 {
			t.Fatalf("crash ended with %v, want exit code 7", reason)
		}
		fuel[i] = start
		if _, reason := startFuel(rt, mod, start/2); !errors.Is(reason, runtime.ErrOutOfFuel) {
			t.Fatalf("with half its start-up fuel (images %v): %v, want ErrOutOfFuel", images, reason)
		}
		if _, reason := startFuel(rt, mod, 2*start); !errors.As(reason, &exit) {
			t.Fatalf("with twice its start-up fuel (images %v): %v, want exit code 7", images, reason)
		}
	}
	t.Logf("a Go guest's start-up: %d fuel started normally, %d from its image", fuel[0], fuel[1])
	if fuel[1]*100 > fuel[0] {
		t.Errorf("started from its image, a Go guest burned %d fuel, more than 1%% of a normal start's %d", fuel[1], fuel[0])
	}
}
