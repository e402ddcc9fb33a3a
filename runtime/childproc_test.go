package runtime

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Hostile-guest tests whose failure would be a host crash (SIGSEGV or
// SIGABRT in C, a Go fatal error) or a hang run their dangerous part in a
// child: a re-run of this test binary limited to the one test. A crash then
// fails the test with the child's output instead of taking the whole test
// run down with it, and a hang is cut off by a timeout.
//
// The pattern, in a test:
//
//	func TestHostileX(t *testing.T) {
//		if !inChild(t) {
//			passInChild(t, 30*time.Second)
//			return
//		}
//		... the dangerous part, asserting as usual ...
//	}

// childEnvVar names the test the child process is to run the dangerous
// part of; the parent sets it to t.Name().
const childEnvVar = "WARD_TEST_CHILD"

// inChild reports whether this process is the child that passInChild or
// runInChild started for t.
func inChild(t *testing.T) bool { return os.Getenv(childEnvVar) == t.Name() }

// childResult is how a child test process ended.
type childResult struct {
	Output   string
	ExitCode int            // -1 when it died of a signal or was killed
	Signal   syscall.Signal // the signal it died of, 0 if none
	TimedOut bool           // the parent killed it at its timeout
	Passed   bool           // the test reported PASS
	Skipped  bool           // the test reported SKIP
}

// failure describes what went wrong, or "" when the child's test passed.
func (c childResult) failure() string {
	switch {
	case c.TimedOut:
		return "the child hung and was killed at its timeout"
	case c.Signal != 0:
		return fmt.Sprintf("the child crashed: killed by %v", c.Signal)
	case c.ExitCode != 0 && crashed(c.Output):
		return fmt.Sprintf("the child crashed (exit status %d)", c.ExitCode)
	case c.ExitCode != 0:
		return fmt.Sprintf("the child's test failed (exit status %d)", c.ExitCode)
	case !c.Passed && !c.Skipped:
		// A pattern that matched nothing exits 0 too: never count that
		// as a pass.
		return "the child exited 0 without running the test"
	}
	return ""
}

// crashed reports whether output shows the Go runtime dying rather than a
// test failing: a fatal signal, a fatal error or an unrecovered panic.
func crashed(output string) bool {
	for _, s := range []string{"SIGSEGV", "SIGABRT", "SIGBUS", "SIGILL", "fatal error:", "panic:", "signal arrived during cgo execution"} {
		if strings.Contains(output, s) {
			return true
		}
	}
	return false
}

// childPattern is a -test.run pattern matching exactly the test (or
// subtest) called name.
func childPattern(name string) string {
	parts := strings.Split(name, "/")
	for i, p := range parts {
		parts[i] = "^" + regexp.QuoteMeta(p) + "$"
	}
	return strings.Join(parts, "/")
}

// runInChild runs t in a child process with childEnvVar set, so that there
// inChild(t) is true, and returns how it ended. The child gets timeout as
// its own -test.timeout, so a hang shows its goroutines in the output, and
// is killed a few seconds after that if it is still there.
func runInChild(t *testing.T, timeout time.Duration) childResult {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout+5*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, os.Args[0],
		"-test.run="+childPattern(t.Name()), "-test.v", "-test.count=1",
		"-test.timeout="+timeout.String())
	// GOTRACEBACK=crash makes a Go fatal error, and a signal in C, end
	// the child by that signal, so the parent sees which one.
	cmd.Env = append(os.Environ(), childEnvVar+"="+t.Name(), "GOTRACEBACK=crash")
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	cmd.WaitDelay = 5 * time.Second
	err := cmd.Run()
	res := childResult{Output: out.String()}
	res.Passed = strings.Contains(res.Output, "--- PASS: "+t.Name()+" ")
	res.Skipped = strings.Contains(res.Output, "--- SKIP: "+t.Name()+" ")
	res.TimedOut = ctx.Err() != nil || strings.Contains(res.Output, "panic: test timed out")
	var ee *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &ee):
		res.ExitCode = ee.ExitCode()
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			res.Signal = ws.Signal()
		}
	default:
		t.Fatalf("running the child: %v", err)
	}
	return res
}

// passInChild runs t in a child process and fails t, with the child's
// output, unless the child's test passed. A skip in the child skips t.
func passInChild(t *testing.T, timeout time.Duration) {
	t.Helper()
	res := runInChild(t, timeout)
	if msg := res.failure(); msg != "" {
		t.Fatalf("%s; its output:\n%s", msg, res.Output)
	}
	if res.Skipped {
		t.Skipf("skipped in the child:\n%s", res.Output)
	}
	if testing.Verbose() {
		t.Logf("child output:\n%s", res.Output)
	}
}

// The harness itself must tell a crash, a failure, a hang and a pass apart,
// or every test using it could pass for the wrong reason.
func TestChildHarnessReportsCrashesAndHangs(t *testing.T) {
	cases := []struct {
		name  string
		child func(t *testing.T)
		check func(childResult) bool
	}{
		{"pass", func(t *testing.T) {}, func(c childResult) bool { return c.Passed && c.failure() == "" }},
		{"fail", func(t *testing.T) { t.Fatal("on purpose") }, func(c childResult) bool {
			return !c.Passed && c.ExitCode == 1 && strings.Contains(c.failure(), "test failed")
		}},
		{"abort", func(t *testing.T) { _ = syscall.Kill(os.Getpid(), syscall.SIGABRT); time.Sleep(time.Minute) }, func(c childResult) bool {
			return c.Signal == syscall.SIGABRT && strings.Contains(c.failure(), "crashed")
		}},
		{"segv", func(t *testing.T) { _ = syscall.Kill(os.Getpid(), syscall.SIGSEGV); time.Sleep(time.Minute) }, func(c childResult) bool {
			return c.Signal != 0 && strings.Contains(c.failure(), "crashed")
		}},
		{"exit", func(t *testing.T) { os.Exit(3) }, func(c childResult) bool {
			return c.ExitCode == 3 && c.failure() != ""
		}},
		{"hang", func(t *testing.T) { select {} }, func(c childResult) bool {
			return c.TimedOut && strings.Contains(c.failure(), "hung")
		}},
		{"skip", func(t *testing.T) { t.Skip("on purpose") }, func(c childResult) bool { return c.Skipped && c.failure() == "" }},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if inChild(t) {
				c.child(t)
				return
			}
			// The hang guard of the hang case is the only wait here.
			res := runInChild(t, 3*time.Second)
			if !c.check(res) {
				t.Fatalf("%+v\nfailure: %q", res, res.failure())
			}
		})
	}
}
