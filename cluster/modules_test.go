package cluster

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/wardrt/ward/runtime"
)

// echoWAT is a module whose bytes differ per tag, so a test can make
// several distinct modules.
func echoWAT(tag string) []byte {
	return []byte(`(module (func (export "main")) (func (export "` + tag + `")))`)
}

// startJS starts an embedded JetStream server for one test and returns a
// JetStream context on an in-process connection.
func startJS(t *testing.T) jetstream.JetStream {
	t.Helper()
	s, err := server.NewServer(&server.Options{
		DontListen: true, JetStream: true, StoreDir: t.TempDir(), NoSigs: true, NoLog: true,
	})
	if err != nil {
		t.Fatal(err)
	}
	go s.Start()
	if !s.ReadyForConnections(10 * time.Second) {
		t.Fatal("embedded server not ready")
	}
	t.Cleanup(s.Shutdown)
	nc, err := nats.Connect("", nats.InProcessServer(s))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	return js
}

func testRuntime(t testing.TB) *runtime.Runtime {
	t.Helper()
	rt, err := runtime.New(runtime.WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil))))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		rt.Close(ctx)
	})
	return rt
}

func testContext(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func hashOf(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// A module published by one runtime is fetched, checked and compiled by
// another that never loaded it; asking again returns the same Module.
func TestModulesShipBetweenRuntimes(t *testing.T) {
	ctx := testContext(t)
	js := startJS(t)
	a, err := openModules(ctx, testRuntime(t), js, "ward_test_modules", jetstream.FileStorage, 0)
	if err != nil {
		t.Fatal(err)
	}
	b, err := openModules(ctx, testRuntime(t), js, "ward_test_modules", jetstream.FileStorage, 0)
	if err != nil {
		t.Fatal(err)
	}
	wasm := echoWAT("one")
	m, err := a.publish(ctx, "one", wasm)
	if err != nil {
		t.Fatal(err)
	}
	if m.Hash() != hashOf(wasm) {
		t.Fatalf("published hash %s, want %s", m.Hash(), hashOf(wasm))
	}
	// Publishing again finds the object there and keeps it.
	if _, err := a.publish(ctx, "one", wasm); err != nil {
		t.Fatal(err)
	}
	got, err := b.module(ctx, m.Hash())
	if err != nil {
		t.Fatal(err)
	}
	if got.Hash() != m.Hash() || got.Name() != "one" {
		t.Fatalf("fetched %s %s, want one %s", got.Name(), got.Hash(), m.Hash())
	}
	again, err := b.module(ctx, m.Hash())
	if err != nil || again != got {
		t.Fatalf("second ask: %v, %p want %p", err, again, got)
	}
	// Concurrent asks for a module not yet here share one fetch and all
	// get the same Module.
	wasm2 := echoWAT("two")
	m2, err := a.publish(ctx, "two", wasm2)
	if err != nil {
		t.Fatal(err)
	}
	res := make(chan *runtime.Module, 8)
	for range cap(res) {
		go func() {
			m, err := b.module(ctx, m2.Hash())
			if err != nil {
				t.Error(err)
			}
			res <- m
		}()
	}
	first := <-res
	for range cap(res) - 1 {
		if m := <-res; m != first || m == nil {
			t.Fatalf("concurrent asks got different modules %p and %p", m, first)
		}
	}
}

// A node checks the bytes it fetches against the hash it asked for: an
// object put under another module's hash (by a tamperer with bus access,
// or damage) is refused, though the store's own digest of it is right.
func TestModulesRefuseBytesOfAnotherHash(t *testing.T) {
	ctx := testContext(t)
	js := startJS(t)
	b, err := openModules(ctx, testRuntime(t), js, "ward_test_modules", jetstream.FileStorage, 0)
	if err != nil {
		t.Fatal(err)
	}
	wanted, evil := echoWAT("wanted"), echoWAT("evil")
	if _, err := b.obs.PutBytes(ctx, hashOf(wanted), evil); err != nil {
		t.Fatal(err)
	}
	_, err = b.module(ctx, hashOf(wanted))
	if !errors.Is(err, ErrHashMismatch) {
		t.Fatalf("fetching tampered object: %v, want ErrHashMismatch", err)
	}
	// Nothing was kept: a fixed object is then accepted.
	if _, err := b.obs.PutBytes(ctx, hashOf(wanted), wanted); err != nil {
		t.Fatal(err)
	}
	if _, err := b.module(ctx, hashOf(wanted)); err != nil {
		t.Fatalf("after repair: %v", err)
	}
}

// What a remote caller can name is bounded: a malformed hash, a hash not
// published, and an object over the node's size limit are each refused
// with their own error, the last before its bytes are read.
func TestModulesRefuseBadAsks(t *testing.T) {
	ctx := testContext(t)
	js := startJS(t)
	small, err := openModules(ctx, testRuntime(t), js, "ward_test_modules", jetstream.FileStorage, 1024)
	if err != nil {
		t.Fatal(err)
	}
	for _, h := range []string{"", "../x", strings.Repeat("A", 64), strings.Repeat("0", 63)} {
		if _, err := small.module(ctx, h); !errors.Is(err, ErrBadHash) {
			t.Errorf("module(%q): %v, want ErrBadHash", h, err)
		}
	}
	if _, err := small.module(ctx, strings.Repeat("0", 64)); !errors.Is(err, ErrNoModule) {
		t.Errorf("unpublished hash: %v, want ErrNoModule", err)
	}
	big := append(echoWAT("big"), []byte(strings.Repeat(" ", 2048))...)
	if _, err := small.publish(ctx, "big", big); !errors.Is(err, ErrModuleTooLarge) {
		t.Errorf("publishing over the limit: %v, want ErrModuleTooLarge", err)
	}
	large, err := openModules(ctx, testRuntime(t), js, "ward_test_modules", jetstream.FileStorage, 0)
	if err != nil {
		t.Fatal(err)
	}
	m, err := large.publish(ctx, "big", big)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := small.module(ctx, m.Hash()); !errors.Is(err, ErrModuleTooLarge) {
		t.Errorf("fetching over the limit: %v, want ErrModuleTooLarge", err)
	}
	// A node compiles at most so many modules for remote callers.
	few, err := openModules(ctx, testRuntime(t), js, "ward_test_modules", jetstream.FileStorage, 0)
	if err != nil {
		t.Fatal(err)
	}
	few.maxFetched = 1
	one, err := large.publish(ctx, "one", echoWAT("one"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := few.module(ctx, one.Hash()); err != nil {
		t.Fatal(err)
	}
	if _, err := few.module(ctx, m.Hash()); !errors.Is(err, ErrTooManyModules) {
		t.Errorf("one module too many: %v, want ErrTooManyModules", err)
	}
	if _, err := few.module(ctx, one.Hash()); err != nil {
		t.Errorf("the module already there: %v", err)
	}
}
