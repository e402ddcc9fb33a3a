package runtime

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"os"
	goruntime "runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wardrt/ward/environment"
	"github.com/wardrt/ward/internal/wasm"
)

// newRuntime returns a runtime that the test's cleanup closes, checking
// that Close leaves no process store and no goroutine behind.
func newRuntime(t *testing.T, opts ...Option) *Runtime {
	t.Helper()
	before := goruntime.NumGoroutine()
	storesBefore := wasm.LiveProcs()
	opts = append([]Option{WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil)))}, opts...)
	r, err := New(opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := r.Close(ctx); err != nil {
			t.Fatalf("Close: %v", err)
		}
		if n := r.NumProcesses(); n != 0 {
			t.Errorf("after Close: %d processes in the table", n)
		}
		// Other tests of the package may run in parallel; only this
		// runtime's stores matter, and they are all freed by now.
		if !t.Failed() && !parallelTests {
			if n := wasm.LiveProcs(); n != storesBefore {
				t.Errorf("after Close: %d process stores alive, want %d", n, storesBefore)
			}
			waitFor(t, 5*time.Second, "goroutines to end", func() bool { return goruntime.NumGoroutine() <= before })
		}
	})
	return r
}

// parallelTests is false: the package's tests run one at a time, so the
// global counts above belong to one runtime.
const parallelTests = false

const testTimeout = 10 * time.Second

func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func load(t *testing.T, r *Runtime, name string, wasmBytes []byte) *Module {
	t.Helper()
	m, err := r.LoadModule(testCtx(t), name, wasmBytes)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func spawn(t *testing.T, env *Environment, m *Module, entry string, params ...Value) *Process {
	t.Helper()
	p, err := env.Spawn(testCtx(t), m, entry, params...)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func wait(t *testing.T, p *Process) Reason {
	t.Helper()
	reason, err := p.Wait(testCtx(t))
	if err != nil {
		t.Fatalf("%v did not end: %v", p, err)
	}
	return reason
}

// waitFor polls cond; the deadline only catches hangs, it measures nothing.
func waitFor(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

// syncBuffer is a bytes.Buffer safe for the concurrent writes of WASI
// output and the reads of a test.
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

func newSlog(h slog.Handler) *slog.Logger { return slog.New(h) }

// exitCode is the code a guest passed to exit, or -1 if it ended
// otherwise (0 when it returned normally).
func exitCode(t *testing.T, reason Reason) int {
	t.Helper()
	var ee *ExitError
	switch {
	case reason == Normal:
		return 0
	case errors.As(reason, &ee):
		return int(ee.Code)
	}
	t.Fatalf("guest ended with %v, not an exit", reason)
	return -1
}

// procStatus reads a numeric field of /proc/self/status ("VmRSS",
// "Threads"), skipping the test where there is none.
func procStatus(t *testing.T, field string) int64 {
	t.Helper()
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		t.Skipf("no /proc/self/status: %v", err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, field+":"); ok {
			n, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			if err != nil {
				t.Fatalf("/proc/self/status %s: %v", field, err)
			}
			return n
		}
	}
	t.Skipf("no %s in /proc/self/status", field)
	return 0
}

// rssKiB reads this process's resident set size.
func rssKiB(t *testing.T) int64 { return procStatus(t, "VmRSS") }

// threads reads the OS thread count of this program.
func threads(t *testing.T) int { return int(procStatus(t, "Threads")) }

// grantAll gives the root environment every permission, which a root
// withholds by default beyond Spawn: for tests of what guests do with
// them.
func grantAll() Option {
	return WithRootEnvironment(environment.Config{Permissions: environment.Permissions{
		CompileModules: environment.Allow, CreateEnvironments: environment.Allow,
	}})
}
