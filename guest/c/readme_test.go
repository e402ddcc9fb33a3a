//go:build !wasip1

package c

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/wardrt/ward/runtime"
)

// readmeProgram returns the first ```c block of README.md.
func readmeProgram(t *testing.T) string { return readmeBlock(t, 0) }

// readmeBlock returns the ```c block of README.md after skip others.
func readmeBlock(t *testing.T, skip int) string {
	t.Helper()
	b, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	rest := string(b)
	for range skip + 1 {
		var ok bool
		if _, rest, ok = strings.Cut(rest, "```c\n"); !ok {
			t.Fatalf("README.md has fewer than %d ```c blocks", skip+1)
		}
	}
	prog, _, ok := strings.Cut(rest, "```")
	if !ok {
		t.Fatal("README.md's ```c block does not end")
	}
	return prog
}

// buildC builds the C files with build.sh into dir, skipping the test when
// the toolchain is missing.
func buildC(t *testing.T, dir string, files ...string) {
	t.Helper()
	if _, err := exec.LookPath("sh"); err != nil {
		t.Skip("no sh to run build.sh")
	}
	out, err := exec.Command("sh", append([]string{"./build.sh", dir}, files...)...).CombinedOutput()
	var ee *exec.ExitError
	if errors.As(err, &ee) && ee.ExitCode() == 3 {
		t.Skipf("the C guest toolchain is missing here: %s", bytes.TrimSpace(out))
	}
	if err != nil {
		t.Fatalf("build.sh: %v\n%s", err, out)
	}
}

// runGreet runs the README program's main export and returns what it
// reported.
func runGreet(t *testing.T, wasm []byte) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	rt, err := runtime.New()
	if err != nil {
		t.Fatal(err)
	}
	defer rt.Close(context.Background())
	mod, err := rt.LoadModule(ctx, "greet", wasm)
	if err != nil {
		t.Fatal(err)
	}
	got := make(chan string, 1)
	sink, err := rt.Environment().SpawnGo(ctx, "sink", func(ctx context.Context, self *runtime.Self) error {
		m, err := self.Receive(ctx, 1)
		got <- string(m.Data)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	p, err := rt.Environment().Spawn(ctx, mod, "main", runtime.I64(int64(sink.ID())))
	if err != nil {
		t.Fatal(err)
	}
	if reason, err := p.Wait(ctx); err != nil || !reason.Normal() {
		t.Fatalf("main ended: %v, %v", reason, err)
	}
	return <-got
}

// TestREADMEProgram builds the README's C program with build.sh and runs
// it as the README's Go snippet does.
func TestREADMEProgram(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join(dir, "greet.c")
	if err := os.WriteFile(src, []byte(readmeProgram(t)), 0o644); err != nil {
		t.Fatal(err)
	}
	buildC(t, dir, src)
	wasm, err := os.ReadFile(filepath.Join(dir, "greet.wasm"))
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("greet.wasm (wasi-libc reactor): %d bytes", len(wasm))
	if got := runGreet(t, wasm); got != "hello, ward" {
		t.Errorf("main reported %q, want %q", got, "hello, ward")
	}
}

// TestREADMEProgramBare builds it as the README says for guests without a
// C library: clang alone, no wasi-libc.
func TestREADMEProgramBare(t *testing.T) {
	if _, err := exec.LookPath("clang"); err != nil {
		t.Skip("no clang")
	}
	dir := t.TempDir()
	src := filepath.Join(dir, "greet.c")
	if err := os.WriteFile(src, []byte(readmeProgram(t)), 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "greet.wasm")
	cmd := exec.Command("clang", "--target=wasm32", "-nostdlib", "-Wl,--no-entry", "-O2", "-I.", "-o", out, src)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Skipf("clang cannot build bare wasm32 here (lld missing?): %v\n%s", err, b)
	}
	wasm, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(wasm, []byte("wasi_snapshot_preview1")) || bytes.Contains(wasm, []byte("_initialize")) {
		t.Error("the bare build imports WASI or has an _initialize")
	}
	t.Logf("greet.wasm (bare): %d bytes", len(wasm))
	if got := runGreet(t, wasm); got != "hello, ward" {
		t.Errorf("main reported %q, want %q", got, "hello, ward")
	}
}

// TestREADMECBOR builds the README's CBOR program (its second C block) and
// talks to it as its Go snippet does: typed requests in, typed replies
// out, and an error reply, not a wrong total, for data that is not a
// request.
func TestREADMECBOR(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join(dir, "counter.c")
	if err := os.WriteFile(src, []byte(readmeBlock(t, 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	buildC(t, dir, src)
	wasm, err := os.ReadFile(filepath.Join(dir, "counter.wasm"))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	rt, err := runtime.New()
	if err != nil {
		t.Fatal(err)
	}
	defer rt.Close(context.Background())
	mod, err := rt.LoadModule(ctx, "counter", wasm)
	if err != nil {
		t.Fatal(err)
	}
	counter, err := rt.Environment().Spawn(ctx, mod, "counter")
	if err != nil {
		t.Fatal(err)
	}
	type reply struct {
		Total *uint64 `cbor:"total"`
		Error *uint64 `cbor:"error"`
	}
	show := func(r reply) string {
		f := func(p *uint64) string {
			if p == nil {
				return "none"
			}
			return fmt.Sprint(*p)
		}
		return "total " + f(r.Total) + ", error " + f(r.Error)
	}
	ask := func(m runtime.Message) reply {
		t.Helper()
		r, err := rt.Request(ctx, counter.ID(), m)
		if err != nil {
			t.Fatal(err)
		}
		var out reply
		if err := runtime.DecodeMessage(r, &out); err != nil {
			t.Fatal(err)
		}
		return out
	}
	for i, tc := range []struct {
		req   any
		total uint64
	}{
		{map[string]uint64{"add": 2}, 2},
		{struct {
			Note string `cbor:"note"`
			Add  uint64 `cbor:"add"`
		}{"skipped", 40}, 42},
		{map[string]any{}, 42},
	} {
		m, err := runtime.EncodeMessage(0, tc.req)
		if err != nil {
			t.Fatal(err)
		}
		if got := ask(m); got.Total == nil || *got.Total != tc.total || got.Error != nil {
			t.Errorf("request %d: reply %s, want total %d", i, show(got), tc.total)
		}
	}
	for _, bad := range []struct {
		data []byte
		code uint64
	}{
		{[]byte{0xa1, 0x63, 'a', 'd', 'd', 0x20}, 103},               // {"add": -1}
		{[]byte{0xa1, 0x63, 'a', 'd', 'd'}, 101},                     // no value
		{append([]byte{0xa1, 0x63, 'a', 'd', 'd', 0x01}, 0x01), 102}, // trailing byte
		{append([]byte{0x41}, make([]byte, 2000)...), 105},           // larger than in[]
	} {
		if got := ask(runtime.Message{Data: bad.data}); got.Error == nil || *got.Error != bad.code || got.Total != nil {
			t.Errorf("% x: reply %s, want error %d", head(bad.data), show(got), bad.code)
		}
	}
	m, _ := runtime.EncodeMessage(0, map[string]uint64{"add": 1})
	if got := ask(m); got.Total == nil || *got.Total != 43 {
		t.Errorf("after the bad requests: reply %s, want total 43", show(got))
	}
}
