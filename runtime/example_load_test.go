package runtime_test

import (
	"context"
	"crypto/ed25519"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"

	"github.com/wardrt/ward/module"
	"github.com/wardrt/ward/runtime"
	"github.com/wardrt/ward/testdata"
)

// A plugin fetched from a URL and trusted only if its publisher signed
// it, with a fallback built into the program for when the fetch or the
// check fails.
func ExampleRuntime_Load() {
	ctx := context.Background()
	// The publisher signs each release; the program knows its public key.
	publisher := ed25519.NewKeyFromSeed(make([]byte, ed25519.SeedSize))
	release, _ := module.Sign(testdata.Trivial, publisher)
	builtin, _ := module.Sign(testdata.Procs, publisher) // shipped inside the program
	tampered := append(release[:len(release):len(release)], 0, 1, 0)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/plugin.wasm":
			w.Write(release)
		case "/tampered.wasm":
			w.Write(tampered)
		default:
			http.NotFound(w, r)
		}
	}))
	defer srv.Close()

	rt, err := runtime.New(runtime.WithLogger(quietLogger()))
	if err != nil {
		panic(err)
	}
	defer rt.Close(ctx)
	trust := runtime.Verify(module.Ed25519(publisher.Public().(ed25519.PublicKey)))
	load := func(url string) *runtime.Module {
		m, err := rt.Load(ctx, module.URL(url), trust)
		if err != nil {
			fmt.Println("fetch or check failed, using the built-in plugin")
			m, err = rt.Load(ctx, module.Bytes("builtin", builtin), trust)
		}
		if err != nil {
			panic(err)
		}
		return m
	}

	for _, path := range []string{"/plugin.wasm", "/tampered.wasm", "/missing.wasm"} {
		m := load(srv.URL + path)
		v, _ := m.Verified()
		fmt.Println(strings.TrimPrefix(m.Name(), srv.URL), v.Method)
	}
	// Output:
	// /plugin.wasm ed25519
	// fetch or check failed, using the built-in plugin
	// builtin ed25519
	// fetch or check failed, using the built-in plugin
	// builtin ed25519
}
