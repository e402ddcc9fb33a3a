// Command kvstore shows the two ways to give guests a new service: a
// key-value store whose entries expire, offered as a host module (namespace
// "kv") and, side by side, as a Go-native process registered as
// kvstore@1.0.0 that guests find by name and talk to in CBOR messages.
//
//	go run ./examples/kvstore
//
// A host module (hostmodule.go) is a set of functions guests import and
// call directly; its handlers run on the caller's goroutine, read and
// write the caller's memory through bounds-checked accessors, and share
// state, so the Store locks. A Go-native process (process.go) is a
// service guests send requests to; it owns its state, needs no lock, can be
// linked, monitored and replaced, and costs a message round trip per call.
// The two keep separate entries; store.go's table is the code they share.
//
// The guest, kvguest.wat, runs one script both ways: put a value, get it,
// put one that expires in 100 ms and see it gone 150 ms later. Then a guest
// passes the host module a pointer outside its memory: it traps, alone, and
// the store serves on.
package main

//go:generate go run ../../internal/tools/wat2wasm kvguest.wat

import (
	"context"
	_ "embed"
	"fmt"
	"io"
	"log/slog"
	"os"
	"sync"
	"time"

	"github.com/wardrt/ward/environment"
	"github.com/wardrt/ward/runtime"
)

//go:embed kvguest.wasm
var kvguestWasm []byte

func main() {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := run(ctx, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "kvstore:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, w io.Writer) error {
	// Guests' stdout reaches w from a goroutine of the runtime, and we
	// write to w too: take turns.
	out := &lockedWriter{w: w}

	// The store outlives every process that uses it: close it after the
	// runtime (defers run last first).
	store := NewStore(time.Second)
	defer store.Close()
	rt, err := runtime.New(
		runtime.WithHostModule(HostModule(store)),
		runtime.WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil))), // the trap below is expected
	)
	if err != nil {
		return err
	}
	defer rt.Close(ctx)

	// Guests print to out. Registering a host module allows its namespace
	// in the root environment, and children inherit that.
	env, err := rt.NewEnvironment(environment.Config{MaxMemory: 1 << 20, WASI: environment.WASI{Stdout: out}})
	if err != nil {
		return err
	}
	// Names are per environment: register the process where guests look.
	kv, err := env.SpawnGo(ctx, "kvstore", Serve(time.Second))
	if err != nil {
		return err
	}
	if err := env.Register("kvstore", "1.0.0", kv); err != nil {
		return err
	}

	mod, err := rt.LoadModule(ctx, "kvguest", kvguestWasm)
	if err != nil {
		return err
	}
	for _, entry := range []string{"host", "process"} {
		if reason, err := env.Run(ctx, mod, entry); err != nil || !reason.Normal() {
			return fmt.Errorf("guest %s: %v, %v", entry, reason, err)
		}
	}
	reason, err := env.Run(ctx, mod, "bad_pointer")
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "bad_pointer ended: %v\n", reason)
	fmt.Fprintln(out, "and the store serves on:")
	if reason, err := env.Run(ctx, mod, "check"); err != nil || !reason.Normal() {
		return fmt.Errorf("guest check: %v, %v", reason, err)
	}
	return rt.Close(ctx)
}

type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}
