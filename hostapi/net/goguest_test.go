package net_test

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	gonet "net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/wardrt/ward/environment"
	wardnet "github.com/wardrt/ward/hostapi/net"
	"github.com/wardrt/ward/runtime"
)

// buildGoGuest builds testdata/goguest for wasip1, once per test
// binary, into a temporary directory TestMain removes: building at test
// time keeps a multi-megabyte build out of the repository.
func buildGoGuest(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("builds a Go guest; skipped in -short")
	}
	goCmd, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go command on PATH to build the guest with")
	}
	goGuest.once.Do(func() {
		dir, err := os.MkdirTemp("", "wardnet-goguest")
		if err != nil {
			goGuest.err = err
			return
		}
		goGuest.dir = dir
		out := filepath.Join(dir, "goguest.wasm")
		cmd := exec.Command(goCmd, "build", "-buildmode=c-shared", "-trimpath", "-o", out, ".")
		cmd.Dir = filepath.Join("testdata", "goguest")
		cmd.Env = append(os.Environ(), "GOOS=wasip1", "GOARCH=wasm", "CGO_ENABLED=0")
		if msg, err := cmd.CombinedOutput(); err != nil {
			goGuest.err = fmt.Errorf("building the guest: %v\n%s", err, msg)
			return
		}
		goGuest.path = out
	})
	if goGuest.err != nil {
		t.Fatal(goGuest.err)
	}
	return goGuest.path
}

var goGuest struct {
	once      sync.Once
	dir, path string
	err       error
}

func TestMain(m *testing.M) {
	code := m.Run()
	if goGuest.dir != "" {
		os.RemoveAll(goGuest.dir)
	}
	os.Exit(code)
}

// Package guest's networking, end to end: a Go guest's echo server
// (Listen, Accept, io.Copy over a Conn) serves another Go guest that
// resolves a name, dials it, is refused where the allow-lists say, and
// times out on a read deadline; then the Go guest speaks TLS to a Go
// server, verified against the embedder's roots.
func TestGoGuest(t *testing.T) {
	path := buildGoGuest(t)
	lp := freePort(t)
	cert, pool := testCert(t)
	tl, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{cert}})
	if err != nil {
		t.Fatal(err)
	}
	defer tl.Close()
	go func() {
		for {
			c, err := tl.Accept()
			if err != nil {
				return
			}
			go func() { defer c.Close(); io.CopyN(c, c, 4) }()
		}
	}()
	tp := tl.Addr().(*gonet.TCPAddr).Port
	cfg := loopbackConfig(lp, lp)
	cfg.ConnectPorts = append(cfg.ConnectPorts, wardnet.Port(uint16(tp)))
	rt := tlsRuntime(t, cfg, wardnet.Options{TLSClient: &tls.Config{RootCAs: pool}})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	m, err := rt.LoadModuleFile(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	server, err := rt.Environment().Spawn(ctx, m, "echo", i32(int(lp)))
	if err != nil {
		t.Fatal(err)
	}
	defer server.Kill()
	// Wait until the server listens (a Go connection it echoes nothing
	// to and closes), then run the client once.
	for {
		c, err := gonet.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", lp))
		if err == nil {
			c.Close()
			break
		}
		if ctx.Err() != nil {
			t.Fatal(err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	reason, err := rt.Environment().Run(ctx, m, "client", i32(int(lp)))
	if err != nil || !reason.Normal() {
		t.Fatalf("client: %v %v", reason, err)
	}
	reason, err = rt.Environment().Run(ctx, m, "tlsping", i32(tp))
	if err != nil || !reason.Normal() {
		t.Fatalf("tlsping: %v %v", reason, err)
	}
}

// A Go guest's HTTP/1.1 server on ward_net serves net/http's client:
// several requests over one kept-alive connection, then a new one.
func TestGoGuestHTTPServer(t *testing.T) {
	path := buildGoGuest(t)
	lp := freePort(t)
	rt := newRuntime(t, loopbackConfig(1, lp))
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	m, err := rt.LoadModuleFile(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	server, err := rt.Environment().Spawn(ctx, m, "httpserve", i32(int(lp)))
	if err != nil {
		t.Fatal(err)
	}
	defer server.Kill()
	tr := &http.Transport{}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr, Timeout: hangGuard}
	get := func(p string) (string, error) {
		resp, err := client.Get(fmt.Sprintf("http://127.0.0.1:%d%s", lp, p))
		if err != nil {
			return "", err
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		return string(b), err
	}
	// Until it listens, connections are refused.
	for {
		if _, err := get("/ready"); err == nil {
			break
		}
		if ctx.Err() != nil {
			t.Fatal("the guest never served")
		}
		time.Sleep(20 * time.Millisecond)
	}
	for _, p := range []string{"/a", "/b/c", "/d"} {
		if body, err := get(p); err != nil || body != "hello "+p {
			t.Fatalf("GET %s: %q %v", p, body, err)
		}
	}
	tr.CloseIdleConnections()
	if body, err := get("/after"); err != nil || body != "hello /after" {
		t.Fatalf("GET on a new connection: %q %v", body, err)
	}
}

// Permissions through processes: a resolver process in an environment
// that may resolve *.example.com serves a process of a child environment
// that may do nothing on the network, and only for those names.
func TestGoGuestResolverProcess(t *testing.T) {
	path := buildGoGuest(t)
	rt := newRuntime(t, loopbackConfig(1, 1))
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	m, err := rt.LoadModuleFile(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	resolver, err := rt.Environment().Spawn(ctx, m, "resolver")
	if err != nil {
		t.Fatal(err)
	}
	defer resolver.Kill()
	child, err := rt.NewEnvironment(environment.Config{Host: map[string]environment.HostConfig{wardnet.Namespace: wardnet.Config{}}})
	if err != nil {
		t.Fatal(err)
	}
	reason, err := child.Run(ctx, m, "asker", runtime.I64(int64(resolver.ID())))
	if err != nil || !reason.Normal() {
		t.Fatalf("asker: %v %v", reason, err)
	}
}
