package runtime

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/wardrt/ward/environment"
	"github.com/wardrt/ward/module"
	"github.com/wardrt/ward/testdata"
)

// testKey returns a fixed ed25519 key pair.
func testKey(seed byte) (ed25519.PublicKey, ed25519.PrivateKey) {
	s := make([]byte, ed25519.SeedSize)
	s[0] = seed
	priv := ed25519.NewKeyFromSeed(s)
	return priv.Public().(ed25519.PublicKey), priv
}

func signedProcs(t testing.TB, priv ed25519.PrivateKey) []byte {
	t.Helper()
	b, err := module.Sign(testdata.Procs, priv)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// checkRuns spawns exit_with(0) of a procs module and checks it ends
// normally: the module Load returned is the one that was signed.
func checkRuns(t *testing.T, r *Runtime, m *Module) {
	t.Helper()
	if reason := wait(t, spawn(t, r.Environment(), m, "exit_with", I32(0))); reason != Normal {
		t.Fatalf("%s: %v", m.Name(), reason)
	}
}

func TestLoadEverySource(t *testing.T) {
	pub, priv := testKey(1)
	signed := signedProcs(t, priv)
	path := filepath.Join(t.TempDir(), "procs.wasm")
	if err := os.WriteFile(path, signed, 0o644); err != nil {
		t.Fatal(err)
	}
	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write(signed) })
	srv := httptest.NewServer(handler)
	defer srv.Close()
	tls := httptest.NewTLSServer(handler)
	defer tls.Close()

	sources := map[string]module.Source{
		"bytes":  module.Bytes("procs", signed),
		"file":   module.File(path),
		"reader": module.Reader("procs", bytes.NewReader(signed)),
		"http":   module.URL(srv.URL+"/procs.wasm", module.Client(srv.Client())),
		"https":  module.URL(tls.URL+"/procs.wasm", module.Client(tls.Client())),
	}
	for kind, src := range sources {
		t.Run(kind, func(t *testing.T) {
			r := newRuntime(t)
			// Before newRuntime's check that no goroutine is left: the
			// kept-alive connections' goroutines are not the runtime's.
			t.Cleanup(func() {
				for _, s := range []*httptest.Server{srv, tls} {
					s.Client().CloseIdleConnections()
					s.CloseClientConnections()
				}
			})
			m, err := r.Load(testCtx(t), src, Verify(module.Ed25519(pub)))
			if err != nil {
				t.Fatal(err)
			}
			v, ok := m.Verified()
			if !ok || v.Method != "ed25519" || v.ID != module.Fingerprint(pub) {
				t.Fatalf("Verified() = %v, %v; want ed25519:%s", v, ok, module.Fingerprint(pub))
			}
			if m.Name() != src.Name() {
				t.Fatalf("Name %q, want the source's %q", m.Name(), src.Name())
			}
			checkRuns(t, r, m)
		})
	}
}

func TestLoadRefuses(t *testing.T) {
	pub, priv := testKey(1)
	other, _ := testKey(2)
	signed := signedProcs(t, priv)
	tampered := append([]byte(nil), signed...)
	tampered[len(testdata.Procs)-2] ^= 0xff // in the last section of the module proper
	cases := []struct {
		name string
		src  module.Source
		opts []LoadOption
		want error
	}{
		{"bad signature", module.Bytes("tampered", tampered), []LoadOption{Verify(module.Ed25519(pub))}, module.ErrBadSignature},
		{"wrong key", module.Bytes("procs", signed), []LoadOption{Verify(module.Ed25519(other))}, module.ErrUntrustedKey},
		{"not signed", module.Bytes("procs", testdata.Procs), []LoadOption{Verify(module.Ed25519(pub))}, module.ErrNotSigned},
		{"truncated", module.Bytes("procs", signed[:len(signed)/2]), []LoadOption{Verify(module.Ed25519(pub))}, module.ErrMalformed},
		{"digest not pinned", module.Bytes("procs", signed), []LoadOption{Verify(module.SHA256(strings.Repeat("0", 64)))}, module.ErrDigestMismatch},
		{"too large", module.Bytes("procs", signed), []LoadOption{MaxModuleSize(int64(len(signed) - 1))}, module.ErrTooLarge},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := newRuntime(t)
			m, err := r.Load(testCtx(t), c.src, c.opts...)
			if !errors.Is(err, c.want) || m != nil {
				t.Fatalf("Load = %v, %v; want %v", m, err, c.want)
			}
			if !strings.HasPrefix(err.Error(), "ward: ") || !strings.Contains(err.Error(), c.src.Name()) {
				t.Fatalf("error %q should start with ward: and name the module", err)
			}
			if n := r.Stats().Modules; n != 0 {
				t.Fatalf("a refused module was compiled: %d modules", n)
			}
		})
	}
	// The runtime-wide bound applies when Load sets none.
	r := newRuntime(t, WithMaxModuleSize(100))
	if _, err := r.Load(testCtx(t), module.Bytes("procs", signed)); !errors.Is(err, module.ErrTooLarge) {
		t.Fatalf("over WithMaxModuleSize: %v, want ErrTooLarge", err)
	}
	if _, err := r.Load(testCtx(t), module.Bytes("procs", signed), MaxModuleSize(1<<20)); err != nil {
		t.Fatalf("MaxModuleSize above the runtime's bound: %v", err)
	}
}

func TestLoadURLLimits(t *testing.T) {
	const limit = 64 << 10
	release := make(chan struct{})
	defer close(release)
	mux := http.NewServeMux()
	mux.HandleFunc("/stream.wasm", func(w http.ResponseWriter, r *http.Request) {
		chunk := make([]byte, 16<<10)
		for range 4 * limit / len(chunk) {
			if _, err := w.Write(chunk); err != nil {
				return
			}
			w.(http.Flusher).Flush()
		}
	})
	mux.HandleFunc("/announced.wasm", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", strconv.Itoa(2*limit))
		w.Write(make([]byte, 10))
		w.(http.Flusher).Flush()
		select {
		case <-release:
		case <-r.Context().Done():
		}
	})
	handlerDone := make(chan struct{})
	mux.HandleFunc("/slow.wasm", func(w http.ResponseWriter, r *http.Request) {
		defer close(handlerDone)
		select {
		case <-release:
		case <-r.Context().Done():
		}
	})
	srv := httptest.NewServer(mux)
	defer srv.Close()
	r := newRuntime(t, WithMaxModuleSize(limit))

	if _, err := r.Load(testCtx(t), module.URL(srv.URL+"/stream.wasm")); !errors.Is(err, module.ErrTooLarge) {
		t.Fatalf("streamed past the limit: %v, want ErrTooLarge", err)
	}
	if _, err := r.Load(testCtx(t), module.URL(srv.URL+"/announced.wasm")); !errors.Is(err, module.ErrTooLarge) {
		t.Fatalf("Content-Length past the limit: %v, want ErrTooLarge before the body", err)
	}

	ctx, cancel := context.WithTimeout(testCtx(t), 100*time.Millisecond)
	defer cancel()
	done := make(chan error, 1)
	go func() {
		_, err := r.Load(ctx, module.URL(srv.URL+"/slow.wasm"))
		done <- err
	}()
	select {
	case err := <-done:
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("slow server: %v, want context.DeadlineExceeded", err)
		}
	case <-time.After(testTimeout):
		t.Fatal("Load did not return when its context ended")
	}
	select {
	case <-handlerDone:
	case <-time.After(testTimeout):
		t.Fatal("the slow handler was not released")
	}
}

// Verification is a property of the bytes: every handle on bytes loaded
// first without verifying says verified once a Load has verified them.
func TestLoadVerifiesTheSharedModule(t *testing.T) {
	pub, priv := testKey(1)
	signed := signedProcs(t, priv)
	r := newRuntime(t)
	plain := load(t, r, "procs", signed)
	if _, ok := plain.Verified(); ok {
		t.Fatal("LoadModule's module says verified")
	}
	if m, err := r.Load(testCtx(t), module.Bytes("procs", signed)); err != nil || m.Hash() != plain.Hash() {
		t.Fatalf("Load without Verify = %v, %v; want the same bytes", m, err)
	} else if _, ok := m.Verified(); ok {
		t.Fatal("a Load without Verify verified the module")
	}
	m, err := r.Load(testCtx(t), module.Bytes("procs", signed), Verify(module.Ed25519(pub)))
	if err != nil {
		t.Fatal(err)
	}
	if v, ok := m.Verified(); !ok || v.ID != module.Fingerprint(pub) {
		t.Fatalf("the verified Load's module: Verified() = %v, %v", v, ok)
	}
	if v, ok := plain.Verified(); !ok || v.ID != module.Fingerprint(pub) {
		t.Fatalf("after a verified Load: Verified() = %v, %v", v, ok)
	}
}

func TestRequireVerified(t *testing.T) {
	pub, priv := testKey(1)
	r := newRuntime(t)
	ctx := testCtx(t)
	verified, err := r.Load(ctx, module.Bytes("procs", signedProcs(t, priv)), Verify(module.Ed25519(pub)))
	if err != nil {
		t.Fatal(err)
	}
	unverified := load(t, r, "procs-plain", testdata.Procs)
	echo := load(t, r, "plugin", []byte(callWAT))

	strict, err := r.NewEnvironment(environment.Config{RequireVerified: true})
	if err != nil {
		t.Fatal(err)
	}
	// A child that asks for nothing, and one that says false, still require.
	child, err := strict.NewChild(environment.Config{RequireVerified: false})
	if err != nil {
		t.Fatal(err)
	}
	if !child.Config().RequireVerified {
		t.Fatal("a child of a requiring environment does not require verified modules")
	}
	for _, env := range []*Environment{strict, child} {
		_, err := env.Spawn(ctx, unverified, "exit_with", I32(0))
		if !errors.Is(err, ErrUnverified) || !strings.Contains(err.Error(), "runtime.Verify") {
			t.Fatalf("Spawn of an unverified module: %v, want ErrUnverified saying how to fix it", err)
		}
		if _, err := env.Run(ctx, unverified, "exit_with", I32(0)); !errors.Is(err, ErrUnverified) {
			t.Fatalf("Run of an unverified module: %v, want ErrUnverified", err)
		}
		if _, err := env.Call(ctx, echo, "echo_once", []byte("hi")); !errors.Is(err, ErrUnverified) {
			t.Fatalf("Call of an unverified module: %v, want ErrUnverified", err)
		}
		if reason := wait(t, spawn(t, env, verified, "exit_with", I32(0))); reason != Normal {
			t.Fatalf("verified module: %v", reason)
		}
	}
	// The root does not require: the unverified module runs there.
	if reason := wait(t, spawn(t, r.Environment(), unverified, "exit_with", I32(0))); reason != Normal {
		t.Fatalf("unverified module in the root: %v", reason)
	}

	// A guest of the verified module spawns its own module there.
	parent := spawn(t, strict, verified, "spawn_child", I32(60_000))
	if reason := wait(t, parent); reason != Normal {
		t.Fatalf("parent: %v", reason)
	}
	waitFor(t, 5*time.Second, "the child", func() bool { return strict.NumProcesses() == 1 })
	for _, p := range r.processesWithin(strict) {
		if p.Entry() != "child" {
			t.Fatalf("unexpected process %v", p)
		}
		p.Kill()
		wait(t, p)
	}
}
