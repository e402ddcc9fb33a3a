package guesttest_test

import (
	"context"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/wardrt/ward/environment"
	"github.com/wardrt/ward/guesttest"
	"github.com/wardrt/ward/runtime"
)

// guestWAT has one test export for each way a guest test can end, and one
// export without the prefix that must never run.
const guestWAT = `(module $guest
  (import "wasi_snapshot_preview1" "fd_write"
    (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "proc_exit" (func $proc_exit (param i32)))
  (memory (export "memory") 1)
  (data (i32.const 16) "hello from the guest\n")
  (data (i32.const 48) "about to trap\n")
  (func $write (param $fd i32) (param $ptr i32) (param $len i32)
    (i32.store (i32.const 0) (local.get $ptr))
    (i32.store (i32.const 4) (local.get $len))
    (drop (call $fd_write (local.get $fd) (i32.const 0) (i32.const 1) (i32.const 8))))
  (func $deep_fault unreachable)
  (func (export "test_pass"))
  (func (export "test_print")
    (call $write (i32.const 1) (i32.const 16) (i32.const 21)))
  (func (export "test_trap")
    (call $write (i32.const 2) (i32.const 48) (i32.const 14))
    (call $deep_fault))
  (func (export "test_exit") (call $proc_exit (i32.const 3)))
  (func (export "test_loop") (loop $l (br $l)))
  (func (export "test_params") (param i32))
  (func (export "helper_trap") unreachable))`

func loadGuest(t *testing.T) *runtime.Module {
	t.Helper()
	rt, err := runtime.New()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { rt.Close(context.Background()) })
	mod, err := rt.LoadModule(context.Background(), "guest", []byte(guestWAT))
	if err != nil {
		t.Fatal(err)
	}
	return mod
}

// childSuite is set in the environment of a re-run of this test binary:
// the guest suites that must fail run there, so that their failure is
// checked from outside instead of failing this package's tests.
const childSuite = "GUESTTEST_CHILD_SUITE"

// TestChildSuite runs a guest suite chosen by the parent test; it does
// nothing in an ordinary run.
func TestChildSuite(t *testing.T) {
	switch os.Getenv(childSuite) {
	case "all":
		guesttest.Run(t, loadGuest(t), guesttest.WithTimeout(300*time.Millisecond))
	case "fuel":
		guesttest.Run(t, loadGuest(t),
			guesttest.WithConfig(environment.Config{MaxFuel: 100_000}), guesttest.WithTimeout(30*time.Second),
			guesttest.WithFilter(regexp.MustCompile(`^test_loop$`)))
	case "parent":
		mod := loadGuest(t)
		parent, err := mod.Runtime().NewEnvironment(environment.Config{MaxFuel: 100_000})
		if err != nil {
			t.Fatal(err)
		}
		guesttest.Run(t, mod, guesttest.WithEnvironment(parent), guesttest.WithTimeout(30*time.Second),
			guesttest.WithFilter(regexp.MustCompile(`^test_(loop|pass)$`)))
	case "none":
		rt, err := runtime.New()
		if err != nil {
			t.Fatal(err)
		}
		defer rt.Close(context.Background())
		mod, err := rt.LoadModule(context.Background(), "empty", []byte(`(module (func (export "run")))`))
		if err != nil {
			t.Fatal(err)
		}
		guesttest.Run(t, mod)
	}
}

// runChild re-runs this test binary on one guest suite and returns its
// output and whether it passed.
func runChild(t *testing.T, suite string, verbose bool) (string, bool) {
	t.Helper()
	args := []string{"-test.run=^TestChildSuite$", "-test.count=1", "-test.timeout=2m"}
	if verbose {
		args = append(args, "-test.v")
	}
	cmd := exec.Command(os.Args[0], args...)
	cmd.Env = append(os.Environ(), childSuite+"="+suite)
	out, err := cmd.CombinedOutput()
	if err != nil {
		if _, ok := err.(*exec.ExitError); !ok {
			t.Fatalf("running the child test binary: %v", err)
		}
	}
	return string(out), err == nil
}

// subtestResult returns "PASS" or "FAIL" for a subtest in go test -v's
// output, and the text the subtest printed.
func subtestResult(t *testing.T, out, name string) (string, string) {
	t.Helper()
	m := regexp.MustCompile(`--- (PASS|FAIL): TestChildSuite/` + name + ` \(`).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("no result for %s in:\n%s", name, out)
	}
	text := ""
	if _, rest, ok := strings.Cut(out, "=== RUN   TestChildSuite/"+name+"\n"); ok {
		if i := strings.Index(rest, "\n=== "); i >= 0 {
			rest = rest[:i]
		}
		if i := strings.Index(rest, "\n--- "); i >= 0 {
			rest = rest[:i]
		}
		text = rest
	}
	return m[1], text
}

func TestRunReportsEachEnd(t *testing.T) {
	out, ok := runChild(t, "all", true)
	if ok {
		t.Fatalf("the suite passed; want it to fail:\n%s", out)
	}
	for _, c := range []struct {
		name, result string
		want         []string
	}{
		{"test_pass", "PASS", nil},
		{"test_print", "PASS", nil},
		{"test_trap", "FAIL", []string{"trapped", "unreachable", "backtrace:", "deep_fault", "--- guest stderr ---\n", "about to trap"}},
		{"test_exit", "FAIL", []string{"exited with code 3"}},
		{"test_params", "FAIL", []string{"test_params cannot run as a test", "takes 1 params"}},
		{"test_loop", "FAIL", []string{"ward: guest test timed out after 300ms", "killed"}},
	} {
		res, text := subtestResult(t, out, c.name)
		if res != c.result {
			t.Errorf("%s: %s, want %s:\n%s", c.name, res, c.result, out)
		}
		for _, w := range c.want {
			if !strings.Contains(text, w) {
				t.Errorf("%s: output lacks %q:\n%s", c.name, w, text)
			}
		}
	}
	if strings.Contains(out, "helper_trap") {
		t.Errorf("an export without the test_ prefix ran:\n%s", out)
	}
}

// A passing test's output is shown with -v only; a failing one's always.
func TestRunShowsOutput(t *testing.T) {
	out, _ := runChild(t, "all", true)
	if _, text := subtestResult(t, out, "test_print"); !strings.Contains(text, "--- guest stdout ---") || !strings.Contains(text, "hello from the guest") {
		t.Errorf("test_print's stdout is not shown under -v:\n%s", out)
	}
	out, _ = runChild(t, "all", false)
	if strings.Contains(out, "hello from the guest") {
		t.Errorf("a passing test's output was shown without -v:\n%s", out)
	}
	if !strings.Contains(out, "about to trap") {
		t.Errorf("a failing test's output was not shown without -v:\n%s", out)
	}
}

func TestRunFuelLimitAndFilter(t *testing.T) {
	out, ok := runChild(t, "fuel", true)
	if ok {
		t.Fatalf("the suite passed; want test_loop to run out of fuel:\n%s", out)
	}
	res, text := subtestResult(t, out, "test_loop")
	if res != "FAIL" || !strings.Contains(text, "ran out of fuel (limit 100000)") {
		t.Errorf("test_loop: %s, want FAIL for fuel:\n%s", res, out)
	}
	if strings.Contains(out, "TestChildSuite/test_pass") {
		t.Errorf("the filter let test_pass run:\n%s", out)
	}
}

// The tests' environments are children of WithEnvironment's, so they get
// its limits.
func TestRunWithEnvironment(t *testing.T) {
	out, ok := runChild(t, "parent", true)
	if ok {
		t.Fatalf("the suite passed; want test_loop to run out of the parent's fuel:\n%s", out)
	}
	if res, text := subtestResult(t, out, "test_loop"); res != "FAIL" || !strings.Contains(text, "ran out of fuel (limit 100000)") {
		t.Errorf("test_loop: %s, want FAIL for the parent's fuel limit:\n%s", res, out)
	}
	if res, _ := subtestResult(t, out, "test_pass"); res != "PASS" {
		t.Errorf("test_pass: %s, want PASS:\n%s", res, out)
	}
}

func TestRunNoTestExports(t *testing.T) {
	out, ok := runChild(t, "none", false)
	if ok || !strings.Contains(out, "no test exports") {
		t.Errorf("a module without test exports: passed=%v, want a failure naming it:\n%s", ok, out)
	}
}

func TestRunPassingSuite(t *testing.T) {
	guesttest.Run(t, loadGuest(t), guesttest.WithFilter(regexp.MustCompile(`^test_(pass|print)$`)))
}

func TestTests(t *testing.T) {
	got := strings.Join(guesttest.Tests(loadGuest(t)), " ")
	if want := "test_exit test_loop test_params test_pass test_print test_trap"; got != want {
		t.Errorf("Tests = %q, want %q", got, want)
	}
}
