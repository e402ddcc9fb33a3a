package net_test

import (
	"context"
	"fmt"
	gonet "net"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// buildGoGuest builds testdata/goguest for wasip1 into a temporary
// directory: building at test time keeps a 2 MB build out of the
// repository.
func buildGoGuest(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("builds a Go guest; skipped in -short")
	}
	goCmd, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go command on PATH to build the guest with")
	}
	out := filepath.Join(t.TempDir(), "goguest.wasm")
	cmd := exec.Command(goCmd, "build", "-buildmode=c-shared", "-trimpath", "-o", out, ".")
	cmd.Dir = filepath.Join("testdata", "goguest")
	cmd.Env = append(os.Environ(), "GOOS=wasip1", "GOARCH=wasm", "CGO_ENABLED=0")
	if msg, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("building the guest: %v\n%s", err, msg)
	}
	return out
}

// Package guest's networking, end to end: a Go guest's echo server
// (Listen, Accept, io.Copy over a Conn) serves another Go guest that
// resolves a name, dials it, is refused where the allow-lists say, and
// times out on a read deadline.
func TestGoGuest(t *testing.T) {
	path := buildGoGuest(t)
	lp := freePort(t)
	cfg := loopbackConfig(lp, lp)
	rt := newRuntime(t, cfg)
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
}
