//go:build !wasip1

package main

import (
	"context"
	"strings"
	"testing"
	"time"
)

// TestHello runs the committed hello.wasm (guest/internal/wasmbuild's test
// checks that it is current) and checks the report its main export sends:
// every step of the conversation happened, and main ended normally (run
// fails otherwise).
func TestHello(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	start := time.Now()
	r, err := run(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("hello.wasm: %d bytes; run (new runtime, compile, processes) %v", len(helloWasm), time.Since(start))
	t.Logf("report: %+v", r)
	if r.Self == 0 || r.Greeter == 0 || r.Greeter == r.Self {
		t.Errorf("ids: main %d, greeter %d", r.Self, r.Greeter)
	}
	if r.LookedUp != r.Greeter {
		t.Errorf(`Lookup("greeter", "^1") = %d, GetOrSpawn gave %d`, r.LookedUp, r.Greeter)
	}
	if r.Greeting != "hello, ward" {
		t.Errorf("greeting %q, want %q", r.Greeting, "hello, ward")
	}
	if r.GreeterDown != "normal" {
		t.Errorf("greeter ended %q, want normal", r.GreeterDown)
	}
	if r.CrashExit != "exit code" || !strings.Contains(r.CrashText, "code 7") {
		t.Errorf("crasher's exit signal: %q, %q; want exit code 7", r.CrashExit, r.CrashText)
	}
	if r.Ticks != 1 || !r.Cancelled {
		t.Errorf("timers: %d ticks, cancelled %v; want 1 tick, cancelled", r.Ticks, r.Cancelled)
	}
}
