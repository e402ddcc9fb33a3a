//go:build !wasip1

package c

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/wardrt/ward/runtime"
)

// readmeProgram returns the first ```c block of README.md.
func readmeProgram(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, rest, ok := strings.Cut(string(b), "```c\n")
	if !ok {
		t.Fatal("README.md has no ```c block")
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
