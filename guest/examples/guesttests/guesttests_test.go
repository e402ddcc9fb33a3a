package guesttests

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

	"github.com/wardrt/ward/environment"
	"github.com/wardrt/ward/guesttest"
	"github.com/wardrt/ward/runtime"
)

// buildGuest builds ./guest for wasip1 into a temporary directory, as
// guest/internal/wasmbuild does; building at test time keeps a 2 MB build
// out of the repository.
func buildGuest(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("builds a Go guest; skipped in -short")
	}
	goCmd, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go command on PATH to build the guest with")
	}
	out := filepath.Join(t.TempDir(), "guest.wasm")
	cmd := exec.Command(goCmd, "build", "-buildmode=c-shared", "-trimpath", "-o", out, ".")
	cmd.Dir = "guest"
	cmd.Env = append(os.Environ(), "GOOS=wasip1", "GOARCH=wasm", "CGO_ENABLED=0")
	if msg, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("building the guest: %v\n%s", err, msg)
	}
	return out
}

func loadGuest(t *testing.T) (*runtime.Runtime, *runtime.Module) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	path := buildGuest(t)
	rt, err := runtime.New()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { rt.Close(context.Background()) })
	mod, err := rt.LoadModuleFile(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	return rt, mod
}

// TestGuest is what a Go guest's author writes: every test_* export of
// the guest runs as a subtest (TestGuest/test_title, TestGuest/test_output).
func TestGuest(t *testing.T) {
	_, mod := loadGuest(t)
	if got := strings.Join(guesttest.Tests(mod), " "); got != "test_output test_title" {
		t.Fatalf("test exports %q, want test_output and test_title", got)
	}
	guesttest.Run(t, mod, guesttest.WithTimeout(time.Minute))
}

// TestPanicFailsWithItsMessage checks what the README promises a Go
// guest's author: a panic ends the process abnormally, which guesttest
// reports as a failure, and its message is in the stderr guesttest shows.
func TestPanicFailsWithItsMessage(t *testing.T) {
	rt, mod := loadGuest(t)
	var stderr bytes.Buffer
	env, err := rt.NewEnvironment(environment.Config{WASI: environment.WASI{Stderr: &stderr}})
	if err != nil {
		t.Fatal(err)
	}
	defer env.Close(context.Background())
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	reason, err := env.Run(ctx, mod, "panics")
	if err != nil {
		t.Fatal(err)
	}
	// A panic in an export of a c-shared Go guest ends in a trap
	// (runtime.abort); one in a command's main exits with code 2.
	var trap *runtime.TrapError
	if reason.Normal() || !errors.As(reason, &trap) {
		t.Errorf("a panicking export ended %v, want a trap", reason)
	}
	if !strings.Contains(stderr.String(), "panic: the guest gave up") {
		t.Errorf("stderr %q lacks the panic message", stderr.String())
	}
}
