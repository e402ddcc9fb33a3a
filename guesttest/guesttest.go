package guesttest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wardrt/ward/environment"
	"github.com/wardrt/ward/runtime"
)

// TestPrefix is the start of the name of every export Run treats as a test.
const TestPrefix = "test_"

// ErrTimeout is the reason a test fails when its process outlived the
// per-test timeout (WithTimeout) and was killed; its text starts the
// failure message.
var ErrTimeout = errors.New("ward: guest test timed out")

// Option changes how Run runs a module's tests.
type Option func(*options)

type options struct {
	timeout time.Duration
	config  environment.Config
	parent  *runtime.Environment
	filter  *regexp.Regexp
}

// WithTimeout kills a test's process when it runs longer than d and fails
// the test with ErrTimeout. Without it, a test runs until the Go test's own
// deadline (go test -timeout) comes near.
func WithTimeout(d time.Duration) Option {
	return func(o *options) { o.timeout = d }
}

// WithConfig sets the limits of every test's environment (memory, fuel,
// namespaces, WASI arguments and directories), narrowed from the parent
// environment like any child's. Its WASI Stdout and Stderr are replaced:
// Run captures the guest's output to show it with the result.
func WithConfig(c environment.Config) Option {
	return func(o *options) { o.config = c }
}

// WithEnvironment makes each test's environment a child of parent rather
// than of the root environment of the module's runtime. parent must belong
// to the runtime that loaded the module.
func WithEnvironment(parent *runtime.Environment) Option {
	return func(o *options) { o.parent = parent }
}

// WithFilter runs only the test exports whose name matches the regular
// expression re, as go test -run does for Go tests. go test -run's own
// subtest pattern (TestGuest/test_add) applies as well.
func WithFilter(re *regexp.Regexp) Option {
	return func(o *options) { o.filter = re }
}

// Tests returns the names of m's test exports, sorted: the exports Run
// would run, before any filter.
func Tests(m *runtime.Module) []string {
	var names []string
	for _, name := range m.Exports() {
		if strings.HasPrefix(name, TestPrefix) {
			names = append(names, name)
		}
	}
	slices.Sort(names)
	return names
}

// Run runs every test export of m (see the package documentation) as a
// subtest of t, in order of name, each in a fresh process in a fresh child
// environment. A module with no test export fails t, since a typo in the
// prefix would otherwise pass silently.
func Run(t *testing.T, m *runtime.Module, opts ...Option) {
	t.Helper()
	var o options
	for _, opt := range opts {
		opt(&o)
	}
	parent := o.parent
	if parent == nil {
		parent = m.Runtime().Environment()
	}
	names := Tests(m)
	if len(names) == 0 {
		t.Errorf("module %q has no test exports (exported functions named %s*)", m.Name(), TestPrefix)
		return
	}
	for _, name := range names {
		if o.filter != nil && !o.filter.MatchString(name) {
			continue
		}
		t.Run(name, func(t *testing.T) { runOne(t, parent, m, name, &o) })
	}
}

// runOne runs one test export and reports its end.
func runOne(t *testing.T, parent *runtime.Environment, m *runtime.Module, name string, o *options) {
	var stdout, stderr syncBuffer
	c := o.config
	c.WASI.Stdout = &stdout
	c.WASI.Stderr = &stderr
	env, err := parent.NewChild(c)
	if err != nil {
		t.Fatalf("making the test's environment: %v", err)
	}
	// Close kills whatever the test left running (processes it spawned)
	// and frees the environment before the next test starts.
	defer func() {
		if err := env.Close(t.Context()); err != nil {
			t.Errorf("closing the test's environment: %v", err)
		}
	}()

	ctx, cancel := testContext(t, o.timeout)
	defer cancel()
	p, err := env.Spawn(ctx, m, name)
	if err != nil {
		t.Fatalf("%s cannot run as a test: %v", name, err)
	}
	reason, waitErr := p.Wait(ctx)
	if waitErr != nil {
		// The deadline came first: kill the process and wait for it to
		// end, so that its output is complete and nothing outlives the
		// test. Killing ends a process within about an epoch.
		p.Kill()
		reason, _ = p.Wait(context.Background())
		reason = timeoutReason{limit: o.timeout, reason: reason}
	}
	report(t, reason, stdout.String(), stderr.String())
}

// testContext returns the context a test's process runs under: the
// per-test timeout, and in any case a little before the Go test's own
// deadline, so the runner reports a hung guest instead of go test
// panicking with every goroutine's stack.
func testContext(t *testing.T, timeout time.Duration) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithCancel(t.Context())
	if timeout > 0 {
		ctx, cancel = context.WithTimeout(t.Context(), timeout)
	}
	if dl, ok := t.Deadline(); ok {
		inner, innerCancel := context.WithDeadline(ctx, dl.Add(-time.Second))
		return inner, func() { innerCancel(); cancel() }
	}
	return ctx, cancel
}

// report fails t when reason is abnormal, with the guest's output, and
// otherwise logs the output for go test -v.
func report(t *testing.T, reason runtime.Reason, stdout, stderr string) {
	var b strings.Builder
	if reason != nil && !reason.Normal() {
		fmt.Fprintf(&b, "%v", reason)
		if trap := trapOf(reason); trap != nil && len(trap.Backtrace) > 0 {
			b.WriteString("\nbacktrace:")
			for _, f := range trap.Backtrace {
				fmt.Fprintf(&b, "\n    %v", f)
			}
		}
	}
	failed := b.Len() > 0
	section(&b, "stdout", stdout)
	section(&b, "stderr", stderr)
	switch {
	case failed:
		t.Error(b.String())
	case b.Len() > 0:
		t.Log(strings.TrimPrefix(b.String(), "\n"))
	}
}

func section(b *strings.Builder, name, text string) {
	if text == "" {
		return
	}
	fmt.Fprintf(b, "\n--- guest %s ---\n%s", name, strings.TrimRight(text, "\n"))
}

// trapOf returns the trap behind reason, for its backtrace: a trap, or
// the trap at which fuel ran out.
func trapOf(reason runtime.Reason) *runtime.TrapError {
	var trap *runtime.TrapError
	if errors.As(reason, &trap) {
		return trap
	}
	var fuel *runtime.FuelError
	if errors.As(reason, &fuel) {
		return fuel.Trap
	}
	return nil
}

// timeoutReason is the end of a test killed at its deadline.
type timeoutReason struct {
	limit  time.Duration
	reason runtime.Reason
}

func (r timeoutReason) Error() string {
	if r.limit > 0 {
		return fmt.Sprintf("%v after %v; the process was killed (%v)", ErrTimeout, r.limit, r.reason)
	}
	return fmt.Sprintf("%v: the go test deadline is near; the process was killed (%v)", ErrTimeout, r.reason)
}

func (r timeoutReason) Normal() bool  { return false }
func (r timeoutReason) Unwrap() error { return ErrTimeout }

// syncBuffer is a bytes.Buffer safe for the runtime's output goroutine
// and the test's to share.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
