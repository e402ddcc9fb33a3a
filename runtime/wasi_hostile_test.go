package runtime

import (
	"context"
	"errors"
	"os"
	goruntime "runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/wardrt/ward/environment"
	"github.com/wardrt/ward/internal/wasm"
	"github.com/wardrt/ward/testdata"
)

// Hostile guests against the WASI functions ward shadows
// (runtime/wasi_shadow.go) and the per-process memory rule.

// waitGuard waits for p with a hang guard of d.
func waitGuard(t *testing.T, p *Process, d time.Duration) Reason {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	reason, err := p.Wait(ctx)
	if err != nil {
		t.Fatalf("%v did not end within %v", p, d)
	}
	return reason
}

func wantTrap(t *testing.T, what string, reason Reason) {
	t.Helper()
	var te *TrapError
	if !errors.As(reason, &te) {
		t.Fatalf("%s: reason %v (%T), want a trap", what, reason, reason)
	}
}

// A subscription count far beyond guest memory made wasmtime allocate
// 64 GiB and abort the whole host. The guest now gets the trap wasmtime
// gives for subscriptions outside its memory.
func TestWASIPollOneoffHugeCount(t *testing.T) {
	if !inChild(t) {
		passInChild(t, hostileTimeout)
		return
	}
	r := newRuntime(t)
	m := load(t, r, "hostile_wasi", testdata.HostileWASI)
	for _, n := range []int32{-1, 0x7FFFFFFF, 0x10000} {
		wantTrap(t, "poll_oneoff(n="+strconv.Itoa(int(n))+")", wait(t, spawn(t, r.Environment(), m, "poll", I32(0), I32(0), I32(n), I32(0))))
	}
	// A bad events pointer traps too, after the (immediate) wait.
	wantTrap(t, "events out of memory", wait(t, spawn(t, r.Environment(), m, "poll", I32(0), I32(-64), I32(1), I32(0))))
	if code := exitCode(t, wait(t, spawn(t, r.Environment(), m, "poll", I32(0), I32(0), I32(0), I32(0)))); code != wasiInval {
		t.Fatalf("poll_oneoff(n=0) = errno %d, want EINVAL (%d)", code, wasiInval)
	}
}

// A guest sleeping in poll_oneoff slept on the OS thread holding a run
// slot: Kill waited for the sleep, and GOMAXPROCS sleepers stalled every
// environment. It now parks like sleep_ms.
func TestWASIPollOneoffSleepIsKillable(t *testing.T) {
	r := newRuntime(t)
	m := load(t, r, "hostile_wasi", testdata.HostileWASI)
	n := goruntime.GOMAXPROCS(0) + 1
	sleepers, err := r.NewEnvironment(environment.Config{})
	if err != nil {
		t.Fatal(err)
	}
	var ps []*Process
	for range n {
		ps = append(ps, spawn(t, sleepers, m, "sleep_forever"))
	}
	other, err := r.NewEnvironment(environment.Config{})
	if err != nil {
		t.Fatal(err)
	}
	triv := load(t, r, "trivial", testdata.Trivial)
	if reason := waitGuard(t, spawn(t, other, triv, "run"), 20*time.Second); reason != Normal {
		t.Fatalf("a trivial process beside %d sleepers: %v", n, reason)
	}
	ps[0].Kill()
	if reason := waitGuard(t, ps[0], 20*time.Second); reason != Killed {
		t.Fatalf("killed sleeper ended %v, want Killed", reason)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := r.Close(ctx); err != nil {
		t.Fatalf("Close with guests sleeping forever in poll_oneoff: %v", err)
	}
	for _, p := range ps[1:] {
		if reason := waitGuard(t, p, time.Second); reason != Killed {
			t.Fatalf("sleeper ended %v at Close, want Killed", reason)
		}
	}
}

// Well-behaved polls get what wasmtime's poll_oneoff gives: one clock
// event with the subscription's userdata, errno and nbytes 0, and the
// count; stdio ready at once for what it supports, EBADF otherwise; EINVAL
// for no subscriptions and clocks it does not support. (They pass on
// wasmtime's own poll_oneoff too.)
func TestWASIPollOneoffClockConformance(t *testing.T) {
	r := newRuntime(t)
	m := load(t, r, "hostile_wasi", testdata.HostileWASI)
	env := r.Environment()
	const ms = int64(time.Millisecond)
	for _, c := range []struct {
		name   string
		entry  string
		params []Value
		want   int
	}{
		{"relative monotonic", "poll_clock", []Value{I32(1), I64(ms), I32(0), I64(0x1234)}, 0},
		{"relative realtime", "poll_clock", []Value{I32(0), I64(ms), I32(0), I64(-5)}, 0},
		{"zero timeout", "poll_clock", []Value{I32(1), I64(0), I32(0), I64(6)}, 0},
		{"absolute realtime in the past", "poll_clock", []Value{I32(0), I64(1), I32(1), I64(7)}, 0},
		{"absolute monotonic ahead", "poll_abs", []Value{I32(1), I64(2 * ms)}, 0},
		{"absolute monotonic now", "poll_abs", []Value{I32(1), I64(0)}, 0},
		{"absolute realtime ahead", "poll_abs", []Value{I32(0), I64(2 * ms)}, 0},
		{"the due one of two", "poll_two", nil, 0},
		{"stdin readable", "poll_fd", []Value{I32(1), I32(0)}, 0},
		{"stdout writable", "poll_fd", []Value{I32(2), I32(1)}, 0},
		{"stderr writable", "poll_fd", []Value{I32(2), I32(2)}, 0},
		{"stdout read", "poll_fd", []Value{I32(1), I32(1)}, wasiBadf},
		{"stdin write", "poll_fd", []Value{I32(2), I32(0)}, wasiBadf},
		{"no such fd", "poll_fd", []Value{I32(1), I32(7)}, wasiBadf},
		{"no subscriptions", "poll", []Value{I32(1024), I32(2048), I32(0), I32(4000)}, wasiInval},
		{"process CPU clock", "poll_clock", []Value{I32(2), I64(ms), I32(0), I64(1)}, wasiInval},
		{"unknown clock", "poll_clock", []Value{I32(9), I64(ms), I32(0), I64(1)}, wasiInval},
		{"unknown flag", "poll_clock", []Value{I32(1), I64(ms), I32(2), I64(1)}, wasiInval},
	} {
		t.Run(c.name, func(t *testing.T) {
			if got := exitCode(t, waitGuard(t, spawn(t, env, m, c.entry, c.params...), 20*time.Second)); got != c.want {
				t.Fatalf("%s%v exited %d, want %d", c.entry, c.params, got, c.want)
			}
		})
	}
}

// random_get filled a host buffer of the guest's length before checking
// it (+1 GiB RSS for 1 GiB, whatever MaxMemory). It now checks first and
// fills guest memory in place, in chunks Kill can cut.
func TestWASIRandomGetHuge(t *testing.T) {
	r := newRuntime(t)
	m := load(t, r, "hostile_wasi", testdata.HostileWASI)
	env := r.Environment()
	before := rssKiB(t)
	for _, n := range []int32{1 << 28, -1} {
		wantTrap(t, "random_get beyond memory", wait(t, spawn(t, env, m, "random", I32(0), I32(n))))
		grew := rssKiB(t) - before
		if grew > 32<<10 {
			t.Fatalf("random_get(0, %d) on a 64 KiB memory: RSS grew %d KiB", uint32(n), grew)
		}
		t.Logf("random_get(0, %d) on a 64 KiB memory: RSS grew %d KiB", uint32(n), grew)
	}
	if code := exitCode(t, wait(t, spawn(t, env, m, "random_fill", I32(4096)))); code != 1 {
		t.Fatalf("random_fill(4096) exited %d, want 1 (filled, errno 0)", code)
	}
	if code := exitCode(t, wait(t, spawn(t, env, m, "random", I32(65536), I32(0)))); code != 0 {
		t.Fatalf("random_get of 0 bytes at the end of memory: errno %d, want 0", code)
	}
	big, err := r.NewEnvironment(environment.Config{MaxMemory: 128 << 20})
	if err != nil {
		t.Fatal(err)
	}
	p := spawn(t, big, m, "random_loop", I32(64<<20))
	time.Sleep(100 * time.Millisecond) // let it get into a fill; not an assertion
	p.Kill()
	if reason := waitGuard(t, p, 20*time.Second); reason != Killed {
		t.Fatalf("random_get loop: %v, want Killed", reason)
	}
}

// MaxMemory counts all of a process's memories and tables: a module with
// four memories or sixteen tables is refused, and tables stay within
// wasm.TableBytes beyond the limit.
func TestMaxMemoryCountsWholeInstance(t *testing.T) {
	r := newRuntime(t)
	env, err := r.NewEnvironment(environment.Config{MaxMemory: 1 << 20})
	if err != nil {
		t.Fatal(err)
	}
	before := rssKiB(t)
	for _, c := range []struct {
		name, entry string
		wasm        []byte
	}{{"multimem", "run", testdata.MultiMem}, {"manytables", "grow", testdata.ManyTables}} {
		reason := wait(t, spawn(t, env, load(t, r, c.name, c.wasm), c.entry))
		var ie *InstantiateError
		if !errors.As(reason, &ie) || !errors.Is(reason, ErrMemoryLimit) {
			t.Fatalf("%s under a 1 MiB MaxMemory: %v (%T), want an InstantiateError matching ErrMemoryLimit", c.name, reason, reason)
		}
	}
	if reason := wait(t, spawn(t, env, load(t, r, "twotables", testdata.TwoTables), "grow_max")); reason != Normal {
		t.Fatalf("two tables at the per-table bound: %v", reason)
	}
	grew := rssKiB(t) - before
	if grew > 16<<10 {
		t.Fatalf("RSS grew %d KiB under a 1 MiB MaxMemory", grew)
	}
	t.Logf("RSS grew %d KiB under a 1 MiB MaxMemory", grew)
}

// blockingWriter blocks every Write until unblock is closed.
type blockingWriter struct{ unblock chan struct{} }

func (w blockingWriter) Write(p []byte) (int, error) {
	<-w.unblock
	return len(p), nil
}

// A WASI stdout Writer that blocks made wasmtime's write block on the
// pipe, on the OS thread holding a run slot, where Kill could not end it.
// The pipe is now drained whatever the Writer does.
func TestWASIBlockingStdoutWriter(t *testing.T) {
	r := newRuntime(t)
	w := blockingWriter{make(chan struct{})}
	t.Cleanup(func() { close(w.unblock) }) // before the runtime's cleanup: LIFO
	env, err := r.NewEnvironment(environment.Config{WASI: environment.WASI{Stdout: w}})
	if err != nil {
		t.Fatal(err)
	}
	m := load(t, r, "hostile_wasi", testdata.HostileWASI)
	var writers []*Process
	for range goruntime.GOMAXPROCS(0) + 1 {
		writers = append(writers, spawn(t, env, m, "write_forever"))
	}
	// hello ends, then waits for its output to reach w or be dropped.
	hello := spawn(t, env, m, "hello")
	other, err := r.NewEnvironment(environment.Config{})
	if err != nil {
		t.Fatal(err)
	}
	if reason := waitGuard(t, spawn(t, other, load(t, r, "trivial", testdata.Trivial), "run"), 20*time.Second); reason != Normal {
		t.Fatalf("a trivial process beside blocked writers: %v", reason)
	}
	writers[0].Kill()
	if reason := waitGuard(t, writers[0], 20*time.Second); reason != Killed {
		t.Fatalf("writer: %v, want Killed", reason)
	}
	waitFor(t, 20*time.Second, "output to be dropped", func() bool { n, _ := env.WASIOutputDropped(); return n > 0 })
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := r.Close(ctx); err != nil {
		t.Fatalf("Close with a blocked stdout Writer: %v", err)
	}
	if reason := waitGuard(t, hello, time.Second); reason != Killed && reason != Normal {
		t.Fatalf("hello beside a blocked Writer: %v", reason)
	}
}

func countFDs(t *testing.T) int {
	t.Helper()
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Skipf("no /proc/self/fd: %v", err)
	}
	return len(ents)
}

// Every environment given a WASI writer kept two pipes and two goroutines
// until Runtime.Close: about 5,000 such environments ran out of
// descriptors. A pipe now lives while processes use it.
func TestWASIOutputEnvironmentsDoNotLeak(t *testing.T) {
	r := newRuntime(t)
	m := load(t, r, "hostile_wasi", testdata.HostileWASI)
	run := func() {
		var out, errOut syncBuffer
		env, err := r.NewEnvironment(environment.Config{WASI: environment.WASI{Stdout: &out, Stderr: &errOut}})
		if err != nil {
			t.Fatal(err)
		}
		if reason := wait(t, spawn(t, env, m, "hello")); reason != Normal {
			t.Fatalf("hello: %v", reason)
		}
		if out.String() != "hello\n" {
			t.Fatalf("stdout %q, want %q", out.String(), "hello\n")
		}
	}
	run() // the first spawn's one-time allocations
	fds, gs := countFDs(t), goruntime.NumGoroutine()
	for range 10000 {
		run()
	}
	waitFor(t, 10*time.Second, "copiers to end", func() bool { return goruntime.NumGoroutine() <= gs+4 })
	if n := countFDs(t); n > fds+8 {
		t.Fatalf("after 10,000 environments with their own writers: %d fds, was %d", n, fds)
	}
}

// fd_renumber could make wasmtime v25 panic the host at the next path_open
// (CVE-2025-53901); ward refuses it.
func TestWASIFdRenumberRefused(t *testing.T) {
	r := newRuntime(t)
	m := load(t, r, "hostile_wasi", testdata.HostileWASI)
	for _, args := range [][2]int32{{1, 1}, {2, 1}, {3, 1}, {0, 5}} {
		if code := exitCode(t, wait(t, spawn(t, r.Environment(), m, "renumber", I32(args[0]), I32(args[1])))); code != wasiNotsup {
			t.Fatalf("fd_renumber(%d, %d) = %d, want ENOTSUP (%d)", args[0], args[1], code, wasiNotsup)
		}
	}
}

func TestWASIShadowsServed(t *testing.T) {
	for i, s := range wasm.WASIShadows {
		if wasiHandlers[i] == nil {
			t.Errorf("WASI shadow %s has no handler in wasiByID", s.Name)
		}
	}
	if len(wasiByID) != len(wasm.WASIShadows) {
		t.Errorf("wasiByID has %d handlers for %d shadows", len(wasiByID), len(wasm.WASIShadows))
	}
}

// Processes of one environment start and end while others write: the
// stream's pipe is made and closed as its users come and go, and no line
// is lost.
func TestWASIOutputPipeComesAndGoes(t *testing.T) {
	r := newRuntime(t)
	m := load(t, r, "hostile_wasi", testdata.HostileWASI)
	var out syncBuffer
	env, err := r.NewEnvironment(environment.Config{WASI: environment.WASI{Stdout: &out}})
	if err != nil {
		t.Fatal(err)
	}
	const rounds, width = 50, 8
	for range rounds {
		var ps []*Process
		for range width {
			ps = append(ps, spawn(t, env, m, "hello"))
		}
		for _, p := range ps {
			if reason := wait(t, p); reason != Normal {
				t.Fatalf("hello: %v", reason)
			}
		}
	}
	if got, want := out.String(), strings.Repeat("hello\n", rounds*width); got != want {
		t.Fatalf("stdout has %d lines, want %d", strings.Count(got, "\n"), rounds*width)
	}
}
