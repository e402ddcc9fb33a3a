//go:build !wasip1

package main

import (
	"context"
	"io"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/wardrt/ward/runtime"
)

// Every check gives the same result when its processes start normally,
// running the Go runtime's start-up each, as when they start from the
// pre-initialised image, as in the rest of this package's tests.
func TestChecksFromNormalStart(t *testing.T) {
	if _, ok := mod.Preinitialized(); !ok {
		t.Fatal("e2e.wasm has no image: the other tests started it normally too")
	}
	nrt, err := runtime.New(
		runtime.WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil))),
		runtime.WithMemoryReserve(64<<20),
		runtime.WithGoImages(false),
	)
	if err != nil {
		t.Fatal(err)
	}
	defer nrt.Close(context.Background())
	nmod, err := nrt.LoadModule(context.Background(), "e2e", e2eWasm)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := nmod.Preinitialized(); ok {
		t.Fatal("WithGoImages(false): e2e.wasm has an image")
	}
	savedRT, savedMod := rt, mod
	rt, mod = nrt, nmod
	defer func() { rt, mod = savedRT, savedMod }()
	for name, f := range map[string]func(*testing.T){
		"SelfAndExists": TestSelfAndExists, "Spawn": TestSpawn, "Messages": TestMessages,
		"Request": TestRequest, "Links": TestLinks, "Monitors": TestMonitors, "Timers": TestTimers,
		"Goroutines": TestGoroutines, "Registry": TestRegistry, "SpawnDenied": TestSpawnDenied,
		"SpawnLimit": TestSpawnLimit, "ExitAndPanic": TestExitAndPanic, "HostRequest": TestHostRequest,
		"ServeJob": TestServeJob, "RunJob": TestRunJob,
	} {
		t.Run(name, f)
	}
}

// Processes of one image share its pages until they write them: n parked
// Go guests (each has answered a request, so each has started and is
// waiting again) hold far less than n copies of the image.
func TestImageProcessesShareMemory(t *testing.T) {
	size, ok := mod.Preinitialized()
	if !ok {
		t.Fatal("e2e.wasm has no image")
	}
	ctx := testContext(t)
	const n = 200
	before := rssKiB(t)
	procs := make([]*runtime.Process, 0, n)
	defer func() {
		for _, p := range procs {
			p.Kill()
		}
	}()
	for range n {
		p, err := rt.Environment().Spawn(ctx, mod, "echo_loop")
		if err != nil {
			t.Fatal(err)
		}
		procs = append(procs, p)
		if _, err := rt.Request(ctx, p.ID(), runtime.Message{Data: []byte("x")}); err != nil {
			t.Fatal(err)
		}
	}
	perProc := (rssKiB(t) - before) / n
	t.Logf("%d parked Go guests: %d KiB RSS each; the image is %d KiB", n, perProc, size>>10)
	if perProc*4 > int64(size>>10) {
		t.Errorf("%d KiB RSS a process, a quarter of the %d KiB image or more: pages are not shared", perProc, size>>10)
	}
}

func rssKiB(t *testing.T) int64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		t.Skipf("no /proc/self/status: %v", err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			n, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			if err != nil {
				t.Fatal(err)
			}
			return n
		}
	}
	t.Skip("no VmRSS in /proc/self/status")
	return 0
}
