package guesttests

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
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

func loadGuest(t *testing.T, opts ...runtime.Option) (*runtime.Runtime, *runtime.Module) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	path := buildGuest(t)
	rt, err := runtime.New(opts...)
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
// reports as a failure, and its message is in the process's TrapError
// and its log line whether or not the embedder set a stderr Writer, and
// in that Writer when it did.
func TestPanicFailsWithItsMessage(t *testing.T) {
	var log syncBuffer
	rt, mod := loadGuest(t, runtime.WithLogger(slog.New(slog.NewTextHandler(&log, nil))))
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	const want = "panic: the guest gave up"
	run := func(env *runtime.Environment) {
		t.Helper()
		reason, err := env.Run(ctx, mod, "panics")
		if err != nil {
			t.Fatal(err)
		}
		// A panic in an export of a c-shared Go guest ends in a trap
		// (runtime.abort); one in a command's main exits with code 2.
		var trap *runtime.TrapError
		if reason.Normal() || !errors.As(reason, &trap) {
			t.Fatalf("a panicking export ended %v, want a trap", reason)
		}
		if !strings.Contains(trap.Stderr, want) || !strings.Contains(trap.Stderr, "goroutine") {
			t.Errorf("TrapError.Stderr %q lacks the panic message and trace", trap.Stderr)
		}
		if !strings.Contains(reason.Error(), want) {
			t.Errorf("the reason says %q, not the panic", reason.Error())
		}
	}

	t.Run("no Writer", func(t *testing.T) {
		run(rt.Environment())
		if !strings.Contains(log.String(), want) {
			t.Errorf("the log lacks the panic message:\n%s", log.String())
		}
	})
	t.Run("a Writer", func(t *testing.T) {
		var stderr syncBuffer
		env, err := rt.NewEnvironment(environment.Config{WASI: environment.WASI{Stderr: &stderr}})
		if err != nil {
			t.Fatal(err)
		}
		defer env.Close(context.Background())
		run(env)
		if !strings.Contains(stderr.String(), want) {
			t.Errorf("stderr %q lacks the panic message", stderr.String())
		}
	})
}

// syncBuffer is a bytes.Buffer that the runtime's goroutines may write
// while the test reads.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
