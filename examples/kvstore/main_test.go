package main

import (
	"bytes"
	"context"
	goruntime "runtime"
	"strings"
	"testing"
	"time"
)

func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func TestRun(t *testing.T) {
	var out bytes.Buffer
	if err := run(testCtx(t), &out); err != nil {
		t.Fatalf("run: %v\n%s", err, out.String())
	}
	want := []string{
		"host module: get color -> teal",
		"host module: get flash -> gone soon",
		"host module: get flash 150ms later -> (missing)",
		"process:     get color -> teal",
		"process:     get flash -> gone soon",
		"process:     get flash 150ms later -> (missing)",
		"bad_pointer ended: process * (kvguest.bad_pointer) trapped: kv.get: pointer range outside the guest's memory: [2147483632, 2147483637) in 65536 bytes",
		"and the store serves on:",
		"host module: get color -> teal",
		"process:     get color -> teal",
	}
	got := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
	if len(got) != len(want) {
		t.Fatalf("%d lines, want %d:\n%s", len(got), len(want), out.String())
	}
	for i := range want {
		// The process id is whatever the runtime gave it.
		before, after, _ := strings.Cut(want[i], "*")
		if !strings.HasPrefix(got[i], before) || !strings.HasSuffix(got[i], after) {
			t.Errorf("line %d:\n got %s\nwant %s", i+1, got[i], want[i])
		}
	}
}

// TestNoGoroutineOutlivesRun: the store's sweeper, the kvstore process,
// its sweep timer, the guests and the runtime's own goroutines all end
// when run returns.
func TestNoGoroutineOutlivesRun(t *testing.T) {
	before := goruntime.NumGoroutine()
	var out bytes.Buffer // not io.Discard: the WASI output pipe's goroutine must end too
	if err := run(testCtx(t), &out); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for goruntime.NumGoroutine() > before {
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<20)
			t.Fatalf("%d goroutines before run, %d after:\n%s", before, goruntime.NumGoroutine(), buf[:goruntime.Stack(buf, true)])
		}
		time.Sleep(10 * time.Millisecond)
	}
}
