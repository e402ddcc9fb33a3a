package runtime

import (
	"errors"
	"log/slog"
	"strings"
	"testing"
)

// goLikeWAT carries the custom section the Go toolchain writes, so ward
// treats it as a Go guest; it writes to stderr as the Go runtime does
// when it panics. spam writes 4 KiB blocks, the last ending "THE END\n".
func goLikeWAT(goSection bool) string {
	section := ""
	if goSection {
		section = `(@custom "go:buildid" "test")`
	}
	return `(module ` + section + `
  (import "wasi_snapshot_preview1" "fd_write" (func $write (param i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  (data (i32.const 1024) "panic: boom\n\ngoroutine 1 [running]:\nmain.main()\n")
  (func $out (param $ptr i32) (param $len i32)
    (i32.store (i32.const 0) (local.get $ptr))
    (i32.store (i32.const 4) (local.get $len))
    (drop (call $write (i32.const 2) (i32.const 0) (i32.const 1) (i32.const 16))))
  (func (export "panics") (call $out (i32.const 1024) (i32.const 48)) unreachable)
  (func (export "spam") (param $blocks i32)
    (memory.fill (i32.const 4096) (i32.const 120) (i32.const 4096))
    (loop $l
      (call $out (i32.const 4096) (i32.const 4096))
      (local.set $blocks (i32.sub (local.get $blocks) (i32.const 1)))
      (br_if $l (i32.gt_s (local.get $blocks) (i32.const 0))))
    (i64.store (i32.const 8184) (i64.const 0x0a444e4520454854)) ;; "THE END\n"
    (call $out (i32.const 8184) (i32.const 8))
    unreachable))`
}

// TestGoGuestStderrInReason checks that what a Go guest writes to stderr
// before it dies, where the Go runtime puts a panic, reaches its reason
// and its log line with no stderr Writer set, and that other guests keep
// writing to the environment's stream only.
func TestGoGuestStderrInReason(t *testing.T) {
	var log syncBuffer
	r := newRuntime(t, WithLogger(newSlog(slog.NewTextHandler(&log, nil))))
	goGuest := load(t, r, "goish", []byte(goLikeWAT(true)))
	other := load(t, r, "wat", []byte(goLikeWAT(false)))

	var trap *TrapError
	reason := wait(t, spawn(t, r.Environment(), goGuest, "panics"))
	if !errors.As(reason, &trap) || !strings.HasPrefix(trap.Stderr, "panic: boom\n") {
		t.Fatalf("reason %v, stderr %q: want a trap with the panic", reason, trapStderr(reason))
	}
	if !strings.Contains(reason.Error(), "panic: boom") {
		t.Fatalf("the reason says %q, not the panic", reason.Error())
	}
	waitFor(t, testTimeout, "the log line", func() bool { return strings.Contains(log.String(), "goroutine 1 [running]") })

	if reason := wait(t, spawn(t, r.Environment(), other, "panics")); trapStderr(reason) != "" {
		t.Fatalf("a guest not built by Go got a stderr tail: %q", trapStderr(reason))
	}
}

// TestGoGuestStderrFlood checks that a Go guest writing far more to stderr
// than the tail keeps neither blocks nor makes the host hold it, that the
// tail is the end of what it wrote and none of it reaches the next
// process to get the pipe, that one pipe serves processes one after
// another, and that Close closes it.
func TestGoGuestStderrFlood(t *testing.T) {
	r := newRuntime(t)
	m := load(t, r, "goish", []byte(goLikeWAT(true)))
	// The first WASI process starts what stays (Go's netpoller, wasmtime's
	// WASI runtime), and leaves its pipe kept: count after it.
	if s := trapStderr(wait(t, spawn(t, r.Environment(), m, "panics"))); !strings.HasPrefix(s, "panic: boom\n") {
		t.Fatalf("stderr %q, want the panic", s)
	}
	fds := countFDs(t)
	for range 3 {
		reason := wait(t, spawn(t, r.Environment(), m, "spam", I32(1024))) // 4 MiB
		s := trapStderr(reason)
		if len(s) != stderrTailSize || !strings.HasSuffix(s, "xxxxTHE END\n") {
			t.Fatalf("tail of %d bytes ending %q, want %d ending with THE END", len(s), s[max(len(s)-16, 0):], stderrTailSize)
		}
	}
	// The next process gets the same pipe, and only its own bytes.
	reason := wait(t, spawn(t, r.Environment(), m, "panics"))
	if s := trapStderr(reason); !strings.HasPrefix(s, "panic: boom\n") {
		t.Fatalf("the process after the floods has stderr %q, want its own panic first", s[:min(len(s), 64)])
	}
	waitFor(t, testTimeout, "the stores' descriptors to close, the one pipe kept", func() bool { return countFDs(t) <= fds })
	r.tailPipes.mu.Lock()
	kept := len(r.tailPipes.idle)
	r.tailPipes.mu.Unlock()
	if kept != 1 {
		t.Fatalf("%d pipes kept after processes one at a time, want 1", kept)
	}
	if used := r.Environment().mem.Used(); used != 0 {
		t.Fatalf("the root environment still holds %d bytes after its processes ended", used)
	}
	if err := r.Close(testCtx(t)); err != nil {
		t.Fatal(err)
	}
	waitFor(t, testTimeout, "Close to close the kept pipe", func() bool { return countFDs(t) <= fds-2 })
}

func trapStderr(r Reason) string {
	var t *TrapError
	if errors.As(r, &t) {
		return t.Stderr
	}
	return ""
}
