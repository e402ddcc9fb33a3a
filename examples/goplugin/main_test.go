package main

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// TestFirstPlugin follows the README's plugin walk-through: build the Go
// guest with the command it gives, then run the host on it, twice (the
// second run loads the plugin from the compile cache).
func TestFirstPlugin(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a Go guest; skipped in -short")
	}
	goCmd, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go command on PATH to build the guest with")
	}
	dir := t.TempDir()
	wasm := filepath.Join(dir, "upper.wasm")
	cmd := exec.Command(goCmd, "build", "-buildmode=c-shared", "-o", wasm, "./plugin")
	cmd.Env = append(os.Environ(), "GOOS=wasip1", "GOARCH=wasm", "CGO_ENABLED=0")
	if msg, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("building the plugin: %v\n%s", err, msg)
	}
	cache := filepath.Join(dir, "cache")
	want := "upper: HELLO FROM THE HOST\nupper(empty): failed, exit code 1\n"
	for i := range 2 {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		var out bytes.Buffer
		err := run(ctx, wasm, cache, &out)
		cancel()
		if err != nil {
			t.Fatalf("run %d: %v", i+1, err)
		}
		if out.String() != want {
			t.Fatalf("run %d printed:\n%s\nwant:\n%s", i+1, out.String(), want)
		}
	}
	if entries, _ := os.ReadDir(cache); len(entries) == 0 {
		t.Fatal("the compile cache is empty after two runs")
	}
}
