package runtime

// Scale tests: how many processes can be parked in a host call at once, and
// what each one costs in memory, OS threads and memory mappings. They are
// expensive, so they run only when asked. The -ward flags belong to the test
// binary: they go after the package (go test stops at an unknown flag
// before it):
//
//	go test -run TestScaleParked -v -timeout 20m ./runtime -ward.scale=100000
//	go test -run TestScaleUntilFailure/maxstacks -v -timeout 60m ./runtime -ward.scalemax=2000000
//	go test -run '^$' -bench BenchmarkParkedSpawn -benchtime 20000x ./runtime
//
// Run the subtests of TestScaleUntilFailure one at a time for clean
// figures: memory freed by one stays with the process (malloc keeps it)
// and lowers the next one's apparent cost.
//
// Everything here is prefixed "scale" so it cannot collide with the
// package's other test helpers.

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	goruntime "runtime"
	"runtime/debug"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
	"unsafe"

	"github.com/wardrt/ward/environment"
	"github.com/wardrt/ward/internal/wasm"
)

var (
	scaleN = flag.Int("ward.scale", 0,
		"TestScaleParked: park this many processes at once and measure their cost (0 skips; targets are asserted at >= 100000)")
	scaleMax = flag.Int("ward.scalemax", 0,
		"TestScaleUntilFailure: spawn parked processes until something refuses, or this many (0 skips)")
	scaleWasm = flag.String("ward.scalewasm", "",
		"a .wasm or .wat file exporting sleep_forever to park instead of the inline module (e.g. ../testdata/procs.wasm)")
	scaleHeapProfile = flag.String("ward.scaleheapprofile", "",
		"TestScaleParked: write a Go heap profile here while every process is parked (go tool pprof -sample_index=inuse_space)")
)

// scaleWAT is procs.wat's sleep_forever on its own: the guest parks in the
// Go host call ward_process.sleep_ms and never wakes in a test's lifetime.
// Inline rather than testdata.Procs so the file builds on its own. It has
// no data segment, so its linear memory is never touched; procs.wasm's
// data segments touch one page each, which costs about 5 KiB more per
// process (-ward.scalewasm=../testdata/procs.wasm measures that).
const scaleWAT = `(module
  (import "ward_process" "sleep_ms" (func $s (param i64)))
  (memory (export "memory") 1)
  (func (export "sleep_forever") (loop $l (call $s (i64.const 1000000)) (br $l))))`

// Targets of the issue, asserted by TestScaleParked at N >= scaleTargetN.
const (
	scaleTargetN          = 100000
	scaleMaxThreads       = 20 // OS threads of the whole test process, parked
	scaleMaxKiBPerProcess = 16 // RSS over the baseline, divided by N
	// What "nothing leaked" allows once everything is closed.
	scaleLeakThreads = 10
	scaleLeakMaps    = 200
	// Go keeps the heap arenas (64 MiB) and persistent chunks (256 KiB)
	// its peak needed and never unmaps them, so what stays grows with the
	// peak: after a million parked processes, +506 maps, 95 of them
	// arenas and 199 chunks. One more allowed per scaleGoMapsPer processes.
	scaleGoMapsPer = 2000
	// TestScaleUntilFailure stops before the machine (24 GiB) does.
	scaleRSSLimitKiB = 16 << 20
)

// scaleSnap is the process-wide resource use at one moment.
type scaleSnap struct {
	Threads int
	RSSKiB  int // VmRSS
	AnonKiB int // RssAnon
	PTEKiB  int // VmPTE: page tables, which VmRSS does not count
	Maps    int // lines of /proc/self/maps, i.e. VMAs
	Go      goruntime.MemStats
}

// scaleMapKinds counts the mappings of /proc/self/maps by kind: size,
// permissions and path. Compared before and after, it shows what a leak of
// mappings is made of.
func scaleMapKinds(tb testing.TB) map[string]int {
	tb.Helper()
	b, err := os.ReadFile("/proc/self/maps")
	if err != nil {
		tb.Fatalf("reading /proc/self/maps: %v", err)
	}
	kinds := map[string]int{}
	for line := range strings.SplitSeq(strings.TrimSpace(string(b)), "\n") {
		f := strings.Fields(line)
		if len(f) < 5 {
			continue
		}
		lo, hi, _ := strings.Cut(f[0], "-")
		a, _ := strconv.ParseUint(lo, 16, 64)
		z, _ := strconv.ParseUint(hi, 16, 64)
		path := "[anon]"
		if len(f) >= 6 {
			path = f[5]
		}
		kinds[fmt.Sprintf("%s %s %d KiB", path, f[1], (z-a)>>10)]++
	}
	return kinds
}

// scaleMapsDiff describes the kinds of mappings that grew in number.
func scaleMapsDiff(before, after map[string]int) string {
	type grown struct {
		kind string
		n    int
	}
	var g []grown
	for k, n := range after {
		if d := n - before[k]; d > 0 {
			g = append(g, grown{k, d})
		}
	}
	slices.SortFunc(g, func(a, b grown) int { return b.n - a.n })
	var out []string
	for i, x := range g {
		if i == 12 {
			out = append(out, fmt.Sprintf("and %d more kinds", len(g)-i))
			break
		}
		out = append(out, fmt.Sprintf("+%d x %s", x.n, x.kind))
	}
	return strings.Join(out, "; ")
}

// scaleMeasure collects garbage and returns freed memory to the OS first,
// so that RSS reflects what is live, not what the GC has yet to find.
func scaleMeasure(tb testing.TB) scaleSnap {
	tb.Helper()
	goruntime.GC()
	debug.FreeOSMemory()
	return scaleQuick(tb)
}

// scaleQuick reads /proc without collecting garbage first.
func scaleQuick(tb testing.TB) scaleSnap {
	tb.Helper()
	var s scaleSnap
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		tb.Fatalf("reading /proc/self/status: %v", err)
	}
	for line := range strings.SplitSeq(string(b), "\n") {
		k, v, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		f := strings.Fields(v)
		if len(f) == 0 {
			continue
		}
		n, _ := strconv.Atoi(f[0])
		switch k {
		case "Threads":
			s.Threads = n
		case "VmRSS":
			s.RSSKiB = n
		case "RssAnon":
			s.AnonKiB = n
		case "VmPTE":
			s.PTEKiB = n
		}
	}
	s.Maps = scaleCountMaps(tb)
	goruntime.ReadMemStats(&s.Go)
	return s
}

// scaleThreads reads only the Threads line of /proc/self/status.
func scaleThreads() int {
	b, _ := os.ReadFile("/proc/self/status")
	_, v, _ := strings.Cut(string(b), "\nThreads:")
	f := strings.Fields(v)
	if len(f) == 0 {
		return 0
	}
	n, _ := strconv.Atoi(f[0])
	return n
}

func scaleCountMaps(tb testing.TB) int {
	tb.Helper()
	f, err := os.Open("/proc/self/maps")
	if err != nil {
		tb.Fatalf("reading /proc/self/maps: %v", err)
	}
	defer f.Close()
	n := 0
	buf := make([]byte, 1<<16)
	for {
		k, err := f.Read(buf)
		n += bytes.Count(buf[:k], []byte{'\n'})
		if err == io.EOF {
			return n
		}
		if err != nil {
			tb.Fatalf("reading /proc/self/maps: %v", err)
		}
	}
}

// scaleFiberRSSKiB sums the resident memory of the fiber stack pool's
// chunks: mappings whose size is a multiple of chunkBytes (the pool maps
// 1024 stacks at a time, see shim.c, and the kernel merges adjacent
// chunks into one mapping). Diagnostics only; 0 if none are found.
func scaleFiberRSSKiB(chunkBytes uint64) (kib, chunks int) {
	f, err := os.Open("/proc/self/smaps")
	if err != nil {
		return 0, 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<16), 1<<20)
	in := false
	for sc.Scan() {
		line := sc.Text()
		if len(line) > 0 && (line[0] >= '0' && line[0] <= '9' || line[0] >= 'a' && line[0] <= 'f') {
			rng, _, _ := strings.Cut(line, " ")
			lo, hi, ok := strings.Cut(rng, "-")
			if !ok {
				in = false
				continue
			}
			a, err1 := strconv.ParseUint(lo, 16, 64)
			b, err2 := strconv.ParseUint(hi, 16, 64)
			in = err1 == nil && err2 == nil && b > a && (b-a)%chunkBytes == 0
			if in {
				chunks++
			}
			continue
		}
		if in && strings.HasPrefix(line, "Rss:") {
			n, _ := strconv.Atoi(strings.Fields(line)[1])
			kib += n
		}
	}
	return kib, chunks
}

// scaleSmapsRollup returns /proc/self/smaps_rollup's size lines.
func scaleSmapsRollup() string {
	b, err := os.ReadFile("/proc/self/smaps_rollup")
	if err != nil {
		return err.Error()
	}
	var out []string
	for line := range strings.SplitSeq(string(b), "\n") {
		for _, k := range []string{"Rss:", "Pss_Anon:", "Pss_File:", "Anonymous:", "Private_Dirty:", "Shared_Clean:"} {
			if strings.HasPrefix(line, k) {
				out = append(out, strings.Join(strings.Fields(line), " "))
			}
		}
	}
	return strings.Join(out, ", ")
}

func scaleNewRuntime(tb testing.TB, opts ...Option) *Runtime {
	tb.Helper()
	opts = append([]Option{WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil)))}, opts...)
	r, err := New(opts...)
	if err != nil {
		tb.Fatal(err)
	}
	return r
}

// scaleRoot sets a root environment that lets n processes live at once:
// the default process limit (environment.DefaultMaxProcesses) is a safe
// bound for a small machine, well below what these tests park.
func scaleRoot(n int) Option {
	return WithRootEnvironment(environment.Config{MaxProcesses: max(n+1024, environment.DefaultMaxProcesses), MaxTotalMemory: 1 << 40})
}

func scaleLoad(tb testing.TB, r *Runtime) *Module {
	tb.Helper()
	code := []byte(scaleWAT)
	if *scaleWasm != "" {
		b, err := os.ReadFile(*scaleWasm)
		if err != nil {
			tb.Fatal(err)
		}
		code = b
	}
	m, err := r.LoadModule(context.Background(), "procs", code)
	if err != nil {
		tb.Fatal(err)
	}
	return m
}

// scaleWaitParked waits until want processes hold a fiber stack, i.e. are
// parked in sleep_ms. It fails as soon as a process has ended (the table
// has fewer than want), naming the first reason found among procs.
func scaleWaitParked(tb testing.TB, r *Runtime, procs []*Process, want int, d time.Duration) {
	tb.Helper()
	deadline := time.Now().Add(d)
	for {
		st := r.Stats()
		if st.StacksInUse == want {
			return
		}
		if st.Processes < want {
			tb.Fatalf("waiting for %d parked processes: only %d alive; %s", want, st.Processes, scaleFirstEnded(procs))
		}
		if time.Now().After(deadline) {
			tb.Fatalf("after %v: %d of %d processes parked (%d alive)", d, st.StacksInUse, want, st.Processes)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func scaleFirstEnded(procs []*Process) string {
	for _, p := range procs {
		if r := p.Reason(); r != nil {
			return fmt.Sprintf("%v ended: %v", p, r)
		}
	}
	return "no ended process found"
}

// scaleKillAll kills every process, then waits for each to end Killed. It
// returns the most OS threads seen meanwhile.
func scaleKillAll(tb testing.TB, procs []*Process, d time.Duration) (peakThreads int) {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	// Sample the OS threads while the processes end: a peak here, not
	// while they were parked, points at the kill and teardown path.
	peak := make(chan int, 1)
	sampling, stop := context.WithCancel(ctx)
	go func() {
		m := scaleThreads()
		for sampling.Err() == nil {
			m = max(m, scaleThreads())
			select {
			case <-sampling.Done():
			case <-time.After(2 * time.Millisecond):
			}
		}
		peak <- m
	}()
	defer func() {
		stop()
		peakThreads = <-peak
	}()
	for _, p := range procs {
		p.Kill()
	}
	bad := 0
	for _, p := range procs {
		reason, err := p.Wait(ctx)
		if err != nil {
			tb.Fatalf("%v did not end after Kill: %v", p, err)
		}
		if reason != Killed {
			if bad++; bad <= 5 {
				tb.Errorf("%v ended %v, want Killed", p, reason)
			}
		}
	}
	return 0 // set by the deferred function
}

func scaleClose(tb testing.TB, r *Runtime) {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	if err := r.Close(ctx); err != nil {
		tb.Fatalf("Close: %v", err)
	}
}

// scaleReport logs what n parked processes cost over base, and what the
// cost is made of, as far as /proc and the Go runtime can tell.
func scaleReport(tb testing.TB, r *Runtime, base, now scaleSnap, n int) (kibPerProc float64) {
	tb.Helper()
	per := func(a, b uint64) float64 { return (float64(a) - float64(b)) / 1024 / float64(n) }
	kibPerProc = float64(now.RSSKiB-base.RSSKiB) / float64(n)
	tb.Logf("%d parked: RSS %d -> %d MiB (%.2f KiB/proc, anon %.2f KiB/proc; page tables %.2f KiB/proc more, not in RSS), threads %d -> %d, maps %d -> %d (%.3f/proc)",
		n, base.RSSKiB>>10, now.RSSKiB>>10, kibPerProc, float64(now.AnonKiB-base.AnonKiB)/float64(n),
		float64(now.PTEKiB-base.PTEKiB)/float64(n),
		base.Threads, now.Threads, base.Maps, now.Maps, float64(now.Maps-base.Maps)/float64(n))
	goTotal := func(m *goruntime.MemStats) uint64 {
		return m.HeapInuse + m.StackInuse + m.MSpanInuse + m.MCacheInuse + m.GCSys + m.OtherSys + m.BuckHashSys
	}
	goPer := per(goTotal(&now.Go), goTotal(&base.Go))
	fiberKiB, chunks := scaleFiberRSSKiB(uint64(r.opts.stackSize) * 1024)
	fiberPer := float64(fiberKiB) / float64(n)
	tb.Logf("per process: Go heap %.2f KiB (HeapInuse), goroutine stacks %.2f KiB (StackInuse), Go metadata %.2f KiB; "+
		"fiber stacks resident %.2f KiB (%d stack pool mappings, %d MiB); rest (C heap: wasmtime store, instance, memory) ~%.2f KiB",
		per(now.Go.HeapInuse, base.Go.HeapInuse), per(now.Go.StackInuse, base.Go.StackInuse),
		goPer-per(now.Go.HeapInuse, base.Go.HeapInuse)-per(now.Go.StackInuse, base.Go.StackInuse),
		fiberPer, chunks, fiberKiB>>10, kibPerProc-goPer-fiberPer)
	tb.Logf("goroutines %d, Go heap objects %d (%.1f/proc), smaps_rollup: %s",
		goruntime.NumGoroutine(), now.Go.HeapObjects, (float64(now.Go.HeapObjects)-float64(base.Go.HeapObjects))/float64(n),
		scaleSmapsRollup())
	out, _ := wasm.StacksReleased()
	tb.Logf("fiber stacks released while their process sleeps (their frames on the C heap): %d", out)
	st := r.Stats()
	tb.Logf("runtime stats: %+v", st)
	return kibPerProc
}

// TestScaleParked parks -ward.scale processes at once and measures them.
func TestScaleParked(t *testing.T) {
	n := *scaleN
	if n <= 0 {
		t.Skip("set -ward.scale=N to park N processes")
	}
	if testing.Short() {
		t.Skip("skipped under -short")
	}
	r := scaleNewRuntime(t, WithMaxStacks(max(n+1024, 1<<20)), scaleRoot(n))
	closed := false
	defer func() {
		if !closed {
			r.Close(context.Background())
		}
	}()
	m := scaleLoad(t, r)
	env := r.Environment()
	ctx := context.Background()
	base := scaleMeasure(t)
	baseKinds := scaleMapKinds(t)

	start := time.Now()
	procs := make([]*Process, 0, n)
	for i := range n {
		p, err := env.Spawn(ctx, m, "sleep_forever")
		if err != nil {
			scaleKillAll(t, procs, 10*time.Minute)
			t.Fatalf("spawn %d: %v", i, err)
		}
		procs = append(procs, p)
	}
	spawned := time.Since(start)
	scaleWaitParked(t, r, procs, n, 2*time.Minute+time.Duration(n)*200*time.Microsecond)
	t.Logf("spawned %d in %v, all parked after %v", n, spawned.Round(time.Millisecond), time.Since(start).Round(time.Millisecond))

	now := scaleMeasure(t)
	kibPerProc := scaleReport(t, r, base, now, n)
	if *scaleHeapProfile != "" {
		f, err := os.Create(*scaleHeapProfile)
		if err == nil {
			err = pprof.Lookup("heap").WriteTo(f, 0)
			f.Close()
		}
		if err != nil {
			t.Errorf("heap profile: %v", err)
		}
	}
	if n >= scaleTargetN {
		if now.Threads > scaleMaxThreads {
			t.Errorf("%d OS threads with %d processes parked, target <= %d", now.Threads, n, scaleMaxThreads)
		}
		if kibPerProc > scaleMaxKiBPerProcess {
			t.Errorf("%.2f KiB RSS per parked process, target <= %d", kibPerProc, scaleMaxKiBPerProcess)
		}
	} else {
		t.Logf("targets (<= %d threads, <= %d KiB/proc) are asserted at N >= %d only", scaleMaxThreads, scaleMaxKiBPerProcess, scaleTargetN)
	}

	start = time.Now()
	peak := scaleKillAll(t, procs, 10*time.Minute)
	t.Logf("killed and waited for %d in %v; peak OS threads meanwhile %d", n, time.Since(start).Round(time.Millisecond), peak)
	procs = nil
	scaleClose(t, r)
	closed = true
	scaleCheckClosed(t, base, baseKinds, n)
}

// scaleCheckClosed asserts that once every process has ended and the
// runtime is closed, threads and mappings are back near the baseline. Go
// never ends an OS thread it has started, so threads started while the
// processes ended stay for the life of the program.
func scaleCheckClosed(t *testing.T, base scaleSnap, baseKinds map[string]int, peak int) {
	t.Helper()
	after := scaleMeasure(t)
	t.Logf("after Close: RSS %d MiB, threads %d, maps %d (baseline %d MiB, %d, %d); smaps_rollup: %s",
		after.RSSKiB>>10, after.Threads, after.Maps, base.RSSKiB>>10, base.Threads, base.Maps, scaleSmapsRollup())
	// What stays resident: Go's share (heap, stacks, and its metadata,
	// which grows with the goroutines ever alive: Go keeps every dead g)
	// and the rest, which is the C heap kept by malloc.
	g := &after.Go
	goRes := g.HeapInuse + g.StackInuse + g.MSpanInuse + g.MCacheInuse + g.GCSys + g.OtherSys + g.BuckHashSys
	t.Logf("after Close: Go HeapInuse %d MiB, StackInuse %d MiB, metadata %d MiB, HeapReleased %d MiB; RSS not Go's ~%d MiB",
		g.HeapInuse>>20, g.StackInuse>>20, (g.MSpanInuse+g.MCacheInuse+g.GCSys+g.OtherSys+g.BuckHashSys)>>20,
		g.HeapReleased>>20, int64(after.RSSKiB>>10)-int64(goRes>>20))
	if after.Threads > base.Threads+scaleLeakThreads {
		t.Errorf("after Close: %d OS threads, baseline %d (allowed +%d): threads started while the processes ran or ended remain",
			after.Threads, base.Threads, scaleLeakThreads)
	}
	if allowed := scaleLeakMaps + peak/scaleGoMapsPer; after.Maps > base.Maps+allowed {
		t.Errorf("after Close: %d maps, baseline %d (allowed +%d): mappings remain: %s",
			after.Maps, base.Maps, allowed, scaleMapsDiff(baseKinds, scaleMapKinds(t)))
	} else if after.Maps > base.Maps {
		t.Logf("maps over baseline: %s", scaleMapsDiff(baseKinds, scaleMapKinds(t)))
	}
}

// TestScaleUntilFailure spawns parked processes until something gives:
// Spawn errs, a process ends before it is killed (an *InstantiateError
// saying the fiber stack pool or memory is exhausted is the expected way),
// RSS passes scaleRSSLimitKiB, or -ward.scalemax is reached. The point is
// that the limit is an error, not a crash. Subtests:
//
//	maxstacks: WithMaxStacks(scalemax+1024), so memory is the limit
//	default:   the default stack pool (1<<20 stacks)
//	pool:      WithMaxStacks(4096), to show the pool running out
//	proclimit: a root environment of 4096 processes, to show Spawn refusing
func TestScaleUntilFailure(t *testing.T) {
	limit := *scaleMax
	if limit <= 0 {
		t.Skip("set -ward.scalemax=N to spawn until failure, at most N")
	}
	if testing.Short() {
		t.Skip("skipped under -short")
	}
	// Every subtest but proclimit lifts the process limit out of the way
	// (DefaultMaxProcesses is far below what these park), so something
	// else gives first.
	t.Run("maxstacks", func(t *testing.T) { scaleUntilFailure(t, limit, WithMaxStacks(limit+1024), scaleRoot(limit)) })
	t.Run("default", func(t *testing.T) { scaleUntilFailure(t, limit, scaleRoot(limit)) })
	t.Run("pool", func(t *testing.T) {
		const stacks = 4096
		got := scaleUntilFailure(t, min(limit, 2*stacks), WithMaxStacks(stacks), scaleRoot(2*stacks))
		if got.reason == nil || !strings.Contains(got.reason.Error(), "fiber stack pool exhausted") {
			t.Errorf("with %d stacks: stopped at %d by %q, want a process ending with the stack pool exhausted", stacks, got.parked, got.why)
		}
		var ie *InstantiateError
		if got.reason != nil && !errors.As(got.reason, &ie) {
			t.Errorf("pool exhausted: reason is %T, want *InstantiateError", got.reason)
		}
	})
	t.Run("proclimit", func(t *testing.T) {
		const procs = 4096
		got := scaleUntilFailure(t, min(limit, 2*procs), WithRootEnvironment(environment.Config{MaxProcesses: procs, MaxTotalMemory: 1 << 40}))
		if !errors.Is(got.err, ErrProcessLimit) || got.parked != procs {
			t.Errorf("with MaxProcesses %d: stopped at %d by %q, want Spawn to fail with ErrProcessLimit at %d", procs, got.parked, got.why, procs)
		}
	})
}

type scaleOutcome struct {
	parked int    // processes parked when it stopped
	why    string // what stopped it
	reason Reason // the abnormal reason that stopped it, if any
	err    error  // the Spawn error that stopped it, if any
}

func scaleUntilFailure(t *testing.T, limit int, opts ...Option) scaleOutcome {
	r := scaleNewRuntime(t, opts...)
	closed := false
	defer func() {
		if !closed {
			r.Close(context.Background())
		}
	}()
	m := scaleLoad(t, r)
	env := r.Environment()
	ctx := context.Background()
	base := scaleMeasure(t)
	baseKinds := scaleMapKinds(t)
	t.Logf("baseline: RSS %d MiB, threads %d, maps %d", base.RSSKiB>>10, base.Threads, base.Maps)

	const batch = 1024
	var (
		procs []*Process
		out   scaleOutcome
		at    scaleSnap
	)
	start := time.Now()
	lastLog := start
spawning:
	for len(procs) < limit {
		first := len(procs)
		for range min(batch, limit-len(procs)) {
			p, err := env.Spawn(ctx, m, "sleep_forever")
			if err != nil {
				out.err = err
				out.why = fmt.Sprintf("Spawn failed after %d: %v", len(procs), err)
				break spawning
			}
			procs = append(procs, p)
		}
		// Wait until the batch is parked, or part of it has ended.
		deadline := time.Now().Add(2 * time.Minute)
		for {
			st := r.Stats()
			if st.StacksInUse == len(procs) {
				break
			}
			if st.Processes < len(procs) {
				for _, p := range procs[first:] {
					if reason := p.Reason(); reason != nil {
						out.reason = reason
						out.why = fmt.Sprintf("%v ended before it was killed: %v", p, reason)
						break spawning
					}
				}
				for _, p := range procs[:first] {
					if reason := p.Reason(); reason != nil {
						out.reason = reason
						out.why = fmt.Sprintf("%v, parked earlier, ended before it was killed: %v", p, reason)
						break spawning
					}
				}
			}
			if time.Now().After(deadline) {
				out.why = fmt.Sprintf("timed out: %d of %d parked", st.StacksInUse, len(procs))
				break spawning
			}
			time.Sleep(10 * time.Millisecond)
		}
		at = scaleQuick(t)
		if at.RSSKiB > scaleRSSLimitKiB {
			out.why = fmt.Sprintf("RSS %d MiB passed the test's limit of %d MiB: stopped before the machine runs out", at.RSSKiB>>10, scaleRSSLimitKiB>>10)
			break
		}
		if time.Since(lastLog) > 10*time.Second {
			lastLog = time.Now()
			t.Logf("%d parked after %v: RSS %d MiB (%.2f KiB/proc, before GC), threads %d, maps %d",
				len(procs), time.Since(start).Round(time.Second), at.RSSKiB>>10,
				float64(at.RSSKiB-base.RSSKiB)/float64(len(procs)), at.Threads, at.Maps)
		}
	}
	if out.why == "" {
		out.why = fmt.Sprintf("reached -ward.scalemax=%d", limit)
	}
	out.parked = r.Stats().StacksInUse
	t.Logf("stopped after %v with %d spawned, %d parked: %s", time.Since(start).Round(time.Second), len(procs), out.parked, out.why)
	if out.reason != nil {
		var ie *InstantiateError
		t.Logf("reason type %T (InstantiateError: %v)", out.reason, errors.As(out.reason, &ie))
	}
	at = scaleQuick(t)
	t.Logf("at the limit (before GC): RSS %d MiB, threads %d, maps %d", at.RSSKiB>>10, at.Threads, at.Maps)
	if out.parked > 0 {
		scaleReport(t, r, base, scaleMeasure(t), out.parked)
	}

	// Those that already ended (refused at the limit) are not killed.
	alive := procs[:0]
	ended := 0
	for _, p := range procs {
		if p.Reason() == nil {
			alive = append(alive, p)
		} else {
			ended++
		}
	}
	t.Logf("%d processes had ended before the kill", ended)
	procs = alive
	start = time.Now()
	peak := scaleKillAll(t, procs, 20*time.Minute)
	procs = nil
	scaleClose(t, r)
	closed = true
	t.Logf("killed and closed in %v; peak OS threads meanwhile %d", time.Since(start).Round(time.Millisecond), peak)
	scaleCheckClosed(t, base, baseKinds, out.parked)
	return out
}

// BenchmarkParkedSpawn spawns b.N processes that park in sleep_ms and keeps
// them all parked at once: ns/op is spawn-to-parked time, KiB/proc the RSS
// each adds, threads the OS threads of the process with all of them parked.
func BenchmarkParkedSpawn(b *testing.B) {
	r := scaleNewRuntime(b, WithMaxStacks(max(b.N+1024, 1<<20)), scaleRoot(b.N))
	defer scaleClose(b, r)
	m := scaleLoad(b, r)
	env := r.Environment()
	ctx := context.Background()
	procs := make([]*Process, 0, b.N)
	base := scaleMeasure(b)
	b.ResetTimer()
	for range b.N {
		p, err := env.Spawn(ctx, m, "sleep_forever")
		if err != nil {
			b.Fatal(err)
		}
		procs = append(procs, p)
	}
	scaleWaitParked(b, r, procs, b.N, 2*time.Minute+time.Duration(b.N)*200*time.Microsecond)
	b.StopTimer()
	now := scaleMeasure(b)
	b.ReportMetric(float64(now.RSSKiB-base.RSSKiB)/float64(b.N), "KiB/proc")
	b.ReportMetric(float64(now.PTEKiB-base.PTEKiB)/float64(b.N), "PTE-KiB/proc")
	b.ReportMetric(float64(now.Threads), "threads")
	scaleKillAll(b, procs, 10*time.Minute)
}

// Every process, parked or not, pays for Process's size class: fields
// added to it should fill padding or move where only some processes pay
// (the C proc, a side struct). 384 bytes is a Go size class.
func TestProcessFitsItsSizeClass(t *testing.T) {
	if n := unsafe.Sizeof(Process{}); n > 384 {
		t.Fatalf("Process is %d bytes, past the 384-byte size class", n)
	}
}
