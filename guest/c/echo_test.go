//go:build !wasip1

package c

import (
	"bytes"
	"context"
	_ "embed"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/wardrt/ward/runtime"
)

//go:embed examples/echo.wasm
var echoWasm []byte

func newRuntime(t testing.TB) (*runtime.Runtime, *runtime.Module) {
	t.Helper()
	rt, err := runtime.New()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { rt.Close(context.Background()) })
	start := time.Now()
	mod, err := rt.LoadModule(context.Background(), "echo", echoWasm)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("echo.wasm: %d bytes, compiled in %v", len(echoWasm), time.Since(start))
	return rt, mod
}

// TestEcho runs the C client: it spawns an echo server, requests, reports
// the reply to a Go process, finds the server by name, stops it, sees it
// end, and exits 0.
func TestEcho(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	rt, mod := newRuntime(t)
	reports := make(chan runtime.Message, 1)
	collector, err := rt.Environment().SpawnGo(ctx, "collector", func(ctx context.Context, self *runtime.Self) error {
		m, err := self.Receive(ctx, 1)
		if err == nil {
			reports <- m
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	p, err := rt.Environment().Spawn(ctx, mod, "client", runtime.I64(int64(collector.ID())))
	if err != nil {
		t.Fatal(err)
	}
	reason, err := p.Wait(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !reason.Normal() {
		t.Fatalf("client ended: %v", reason)
	}
	select {
	case m := <-reports:
		if string(m.Data) != "HELLO FROM C" || m.Sender != uint64(p.ID()) {
			t.Errorf("report %q from %d, want %q from the client, %d", m.Data, m.Sender, "HELLO FROM C", p.ID())
		}
	case <-ctx.Done():
		t.Fatal("no report from the client")
	}
}

// TestEchoServerFromHost talks to the C server from Go: requests, then a
// stop message, after which it ends normally.
func TestEchoServerFromHost(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	rt, mod := newRuntime(t)
	srv, err := rt.Environment().Spawn(ctx, mod, "echo_server", runtime.I32(0))
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{"as is", "", string(bytes.Repeat([]byte("x"), 100_000))} {
		reply, err := rt.Request(ctx, srv.ID(), runtime.Message{Data: []byte(s)})
		if err != nil {
			t.Fatal(err)
		}
		if string(reply.Data) != s {
			t.Errorf("reply of %d bytes to %d bytes", len(reply.Data), len(s))
		}
	}
	if err := srv.Send(ctx, runtime.Message{Tag: 0}); err != nil {
		t.Fatal(err)
	}
	if reason, err := srv.Wait(ctx); err != nil || !reason.Normal() {
		t.Fatalf("server ended: %v, %v", reason, err)
	}
}

// TestCBuildsAreCurrent rebuilds the examples with build.sh into a
// temporary directory and compares the bytes with the committed builds.
// clang's output depends only on its inputs and version, so any difference
// is a stale build (or another clang or wasi-libc: the message says which
// one the committed build was made with). It skips, saying why, where the
// toolchain is missing.
func TestCBuildsAreCurrent(t *testing.T) {
	if _, err := exec.LookPath("sh"); err != nil {
		t.Skip("no sh to run build.sh")
	}
	dir := t.TempDir()
	cmd := exec.Command("sh", "./build.sh", dir)
	out, err := cmd.CombinedOutput()
	var ee *exec.ExitError
	if errors.As(err, &ee) && ee.ExitCode() == 3 {
		t.Skipf("the C guest toolchain is missing here: %s", bytes.TrimSpace(out))
	}
	if err != nil {
		t.Fatalf("build.sh: %v\n%s", err, out)
	}
	built, err := filepath.Glob(filepath.Join(dir, "*.wasm"))
	if err != nil || len(built) == 0 {
		t.Fatalf("build.sh built nothing: %v\n%s", err, out)
	}
	for _, fresh := range built {
		name := filepath.Base(fresh)
		a, err := os.ReadFile(filepath.Join("examples", name))
		if err != nil {
			t.Errorf("%s is built by build.sh but not committed: %v", name, err)
			continue
		}
		b, err := os.ReadFile(fresh)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(a, b) {
			t.Errorf("%s differs from a fresh build (%d bytes, committed %d): run `go generate ./guest/c` "+
				"(or guest/c/build.sh) and commit it; the committed build says it was made by %q",
				name, len(b), len(a), producer(a))
		}
	}
}

// producer returns the clang version a module's producers section names,
// if it has one.
func producer(wasm []byte) string {
	i := bytes.Index(wasm, []byte("clang version"))
	if i < 0 {
		return "an unknown compiler"
	}
	end := i
	for end < len(wasm) && end-i < 120 && wasm[end] >= ' ' && wasm[end] < 0x7f {
		end++
	}
	return string(wasm[i:end])
}

// BenchmarkSpawnC is the cost of a C guest process (instantiate, run
// wasi-libc's _initialize, call the export) that ends at once: the
// server's stop message is waiting in its mailbox.
func BenchmarkSpawnC(b *testing.B) {
	rt, mod := newRuntime(b)
	ctx := context.Background()
	for b.Loop() {
		p, err := rt.Environment().Spawn(ctx, mod, "echo_server", runtime.I32(0))
		if err != nil {
			b.Fatal(err)
		}
		p.Send(ctx, runtime.Message{Tag: 0})
		if reason, _ := p.Wait(ctx); !reason.Normal() {
			b.Fatal(reason)
		}
	}
}

// BenchmarkRequestC is a request and its reply between a Go-native process
// and the C echo server.
func BenchmarkRequestC(b *testing.B) {
	rt, mod := newRuntime(b)
	ctx := context.Background()
	srv, err := rt.Environment().Spawn(ctx, mod, "echo_server", runtime.I32(0))
	if err != nil {
		b.Fatal(err)
	}
	defer srv.Kill()
	data := []byte("ping")
	client, err := rt.Environment().SpawnGo(ctx, "client", func(ctx context.Context, self *runtime.Self) error {
		for b.Loop() {
			if _, err := self.Request(ctx, srv.ID(), runtime.Message{Data: data}); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
	if reason, _ := client.Wait(ctx); !reason.Normal() {
		b.Fatal(reason)
	}
}
