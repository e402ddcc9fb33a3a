package runtime

import (
	"errors"
	"testing"

	"github.com/wardrt/ward/environment"
	"github.com/wardrt/ward/testdata"
)

func TestWASIOutputAndExit(t *testing.T) {
	r := newRuntime(t)
	var stdout, stderr syncBuffer
	env, err := r.NewEnvironment(environment.Config{WASI: environment.WASI{Stdout: &stdout, Stderr: &stderr, Args: []string{"hello"}}})
	if err != nil {
		t.Fatal(err)
	}
	m := load(t, r, "wasi_hello", testdata.WASIHello)
	for range 3 {
		if reason := wait(t, spawn(t, env, m, "_start")); reason != Normal {
			t.Fatalf("_start: %v", reason)
		}
	}
	// Output is flushed before Wait returns.
	if got, want := stdout.String(), "hello from wasi\nhello from wasi\nhello from wasi\n"; got != want {
		t.Fatalf("stdout %q, want %q", got, want)
	}
	if reason := wait(t, spawn(t, env, m, "write_stderr")); reason != Normal || stderr.String() != "oops\n" {
		t.Fatalf("write_stderr: %v, stderr %q", reason, stderr.String())
	}
	var ee *ExitError
	if reason := wait(t, spawn(t, env, m, "exit_code")); !errors.As(reason, &ee) || ee.Code != 7 {
		t.Fatalf("proc_exit(7): %v", reason)
	}
	// Without writers, output is discarded and the guest still runs.
	if reason := wait(t, spawn(t, r.Environment(), m, "_start")); reason != Normal {
		t.Fatalf("_start without stdout: %v", reason)
	}
}
