package runtime

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	goruntime "runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wardrt/ward/environment"
	"github.com/wardrt/ward/testdata"
)

// Environments end: closed, or dropped once nothing refers to them, and
// they then give back what they hold (issue 13).

// openFDs counts this test process's open file descriptors.
func openFDs(t *testing.T) int {
	t.Helper()
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Skipf("cannot count file descriptors: %v", err)
	}
	return len(ents)
}

// settle runs the GC until the cleanups of unreachable environments have
// run and their releases (on goroutines of their own) have finished, or
// the hang guard ends; cond says when.
func settle(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		goruntime.GC()
		time.Sleep(5 * time.Millisecond)
	}
}

// kidsOf reports how many child environments the runtime still knows of
// below e: the only way it refers to environments without live processes.
func kidsOf(e *Environment) int {
	e.life.mu.Lock()
	defer e.life.mu.Unlock()
	return len(e.life.kids)
}

// TestDroppedEnvironmentsAreReleased makes an environment per "request",
// each with its own stdout Writer and a process that writes a line, then
// lets them go: their WASI output resources, goroutines and the
// environments themselves must not pile up. Before environments had a
// lifetime, every one kept a pipe (2 fds) and a goroutine until
// Runtime.Close, and this failed at about the fd limit's worth.
func TestDroppedEnvironmentsAreReleased(t *testing.T) {
	const n = 10_000
	r := newRuntime(t)
	m := load(t, r, "wasi_hello", testdata.WASIHello)
	ctx := testCtx(t)
	base := scaleMeasure(t)
	fds, gs := openFDs(t), goruntime.NumGoroutine()
	var made, collected atomic.Int64
	peakFDs := fds
	for i := range n {
		out := &syncBuffer{}
		env, err := r.NewEnvironment(environment.Config{WASI: environment.WASI{Stdout: out}})
		if err != nil {
			t.Fatalf("environment %d: %v", i, err)
		}
		made.Add(1)
		goruntime.AddCleanup(env, func(*atomic.Int64) { collected.Add(1) }, &collected)
		if reason, err := env.Run(ctx, m, "_start"); err != nil || reason != Normal {
			t.Fatalf("environment %d: %v, %v", i, reason, err)
		}
		if got := out.String(); got != "hello from wasi\n" {
			t.Fatalf("environment %d wrote %q", i, got)
		}
		// An environment dropped without Close is released by the GC:
		// a program as quiet as this loop gets one at least this often.
		if i%1000 == 999 {
			peakFDs = max(peakFDs, openFDs(t))
			goruntime.GC()
		}
	}
	settle(t, "the dropped environments to be collected and released", func() bool {
		return collected.Load() == made.Load() && kidsOf(r.Environment()) == 0
	})
	// Slack: the runtime's own goroutines and fds that come and go (the
	// GC's, a timer's), not anything per environment.
	const slack = 8
	settle(t, "goroutines to end", func() bool { return goruntime.NumGoroutine() <= gs+slack })
	if got := openFDs(t); got > fds+slack {
		t.Errorf("after %d dropped environments: %d fds open, %d before", n, got, fds)
	}
	// For the record, not asserted: RSS moves with the allocator.
	now := scaleMeasure(t)
	t.Logf("%d environments: fds %d before, at most %d between GCs, %d after; goroutines %d before, %d after; RSS %d KiB before, %d KiB after",
		n, fds, peakFDs, openFDs(t), gs, goruntime.NumGoroutine(), base.RSSKiB, now.RSSKiB)
}

// TestUsedEnvironmentsAreCollected: what a process does in its life
// (register a name, link, monitor, set a timer that fires, spawn a Wasm
// module) leaves nothing in the runtime that keeps its environment
// reachable once it has ended.
func TestUsedEnvironmentsAreCollected(t *testing.T) {
	const n = 200
	r := newRuntime(t)
	ctx := testCtx(t)
	m := load(t, r, "procs", testdata.Procs)
	peer, err := r.Environment().SpawnGo(ctx, "peer", func(ctx context.Context, self *Self) error {
		self.TrapExit(true) // outlives the links of the processes below
		<-ctx.Done()
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	var collected atomic.Int64
	for i := range n {
		env, err := r.NewEnvironment(environment.Config{})
		if err != nil {
			t.Fatal(err)
		}
		goruntime.AddCleanup(env, func(*atomic.Int64) { collected.Add(1) }, &collected)
		if reason, err := env.Run(ctx, m, "self_id"); err != nil || reason != Normal {
			t.Fatalf("Run %d: %v, %v", i, reason, err)
		}
		p, err := env.SpawnGo(ctx, "user", func(ctx context.Context, self *Self) error {
			if err := self.Link(peer.ID()); err != nil {
				return err
			}
			self.Monitor(peer.ID())
			// Registered by the test before this goes on: it would race
			// the process's end otherwise.
			if _, err := self.Receive(ctx, 8); err != nil {
				return err
			}
			if _, err := self.SendAfter(time.Millisecond, self.ID(), Message{Tag: 7}); err != nil {
				return err
			}
			_, err := self.Receive(ctx, 7)
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		if err := env.Register("user", "1.0.0", p); err != nil {
			t.Fatal(err)
		}
		if err := p.Send(ctx, Message{Tag: 8}); err != nil {
			t.Fatal(err)
		}
		if reason := wait(t, p); reason != Normal {
			t.Fatalf("process %d: %v", i, reason)
		}
	}
	settle(t, "the environments to be collected", func() bool {
		return collected.Load() == n && kidsOf(r.Environment()) == 0
	})
	peer.Kill()
}

// TestCloseEnvironmentReleasesAtOnce: Close gives the resources back, its
// children's too, without waiting for the GC, so environments closed in a
// loop hold flat.
func TestCloseEnvironmentReleasesAtOnce(t *testing.T) {
	const n = 1_000
	r := newRuntime(t)
	m := load(t, r, "wasi_hello", testdata.WASIHello)
	ctx := testCtx(t)
	var keep []*Environment // held: only Close can release them
	fds := openFDs(t)
	for i := range n {
		env, err := r.NewEnvironment(environment.Config{WASI: environment.WASI{Stdout: &syncBuffer{}}})
		if err != nil {
			t.Fatal(err)
		}
		child, err := env.NewChild(environment.Config{WASI: environment.WASI{Stdout: &syncBuffer{}}})
		if err != nil {
			t.Fatal(err)
		}
		keep = append(keep, env, child)
		for _, e := range []*Environment{env, child} {
			if reason, err := e.Run(ctx, m, "_start"); err != nil || reason != Normal {
				t.Fatalf("environment %d: %v, %v", i, reason, err)
			}
		}
		if err := env.Close(ctx); err != nil {
			t.Fatalf("Close %d: %v", i, err)
		}
	}
	// A pipe closes when the store that opened it is gone, which the
	// ending process's teardown does just after Wait returns: settle.
	// keep holds every environment, so no GC can be what releases them.
	settle(t, fmt.Sprintf("the fds of %d closed environments to go (%d before)", n, fds), func() bool {
		return openFDs(t) <= fds+8
	})
	for _, e := range keep[:2] {
		if _, err := e.Run(ctx, m, "_start"); !errors.Is(err, ErrEnvironmentClosed) {
			t.Errorf("Run on a closed environment: %v, want ErrEnvironmentClosed", err)
		}
	}
}

// TestCloseEnvironment: Close kills the processes of the environment and
// of its children, and nothing else, waits for them, and refuses what
// would use the environment afterwards.
func TestCloseEnvironment(t *testing.T) {
	r := newRuntime(t)
	ctx := testCtx(t)
	m := load(t, r, "procs", testdata.Procs)
	env, err := r.NewEnvironment(environment.Config{})
	if err != nil {
		t.Fatal(err)
	}
	child, err := env.NewChild(environment.Config{})
	if err != nil {
		t.Fatal(err)
	}
	grandchild, err := child.NewChild(environment.Config{})
	if err != nil {
		t.Fatal(err)
	}
	sibling, err := r.NewEnvironment(environment.Config{})
	if err != nil {
		t.Fatal(err)
	}
	inside := []*Process{
		spawn(t, env, m, "sleep_forever"),
		spawn(t, child, m, "sleep_forever"),
		spawn(t, grandchild, m, "sleep_forever"),
	}
	goInside, err := child.SpawnGo(ctx, "waiter", func(ctx context.Context, self *Self) error {
		<-ctx.Done()
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	inside = append(inside, goInside)
	outside := []*Process{spawn(t, sibling, m, "sleep_forever"), spawn(t, r.Environment(), m, "sleep_forever")}
	if err := env.Register("svc", "1.0.0", inside[0]); err != nil {
		t.Fatal(err)
	}
	// A process of another environment may hold a name here; the name
	// goes with the environment, the process stays.
	if err := env.Register("guest", "1.0.0", outside[0]); err != nil {
		t.Fatal(err)
	}
	// A timer set by a process inside: it must not outlive the close.
	if _, err := (&Self{p: goInside}).SendAfter(time.Hour, outside[0].ID(), Message{Tag: 1}); err != nil {
		t.Fatal(err)
	}

	if err := env.Close(ctx); err != nil {
		t.Fatal(err)
	}
	for _, p := range inside {
		select {
		case <-p.Done():
		default:
			t.Fatalf("%v still running after Close returned", p)
		}
		if got := p.Reason(); got != Killed {
			t.Errorf("%v ended %v, want Killed", p, got)
		}
	}
	for _, p := range outside {
		if p.Reason() != nil {
			t.Errorf("%v outside the closed environment ended: %v", p, p.Reason())
		}
	}
	if env.NumProcesses() != 0 || r.NumProcesses() != len(outside) {
		t.Errorf("after Close: %d processes in it, %d in the runtime; want 0 and %d", env.NumProcesses(), r.NumProcesses(), len(outside))
	}
	if n := len(env.Registered()); n != 0 {
		t.Errorf("after Close: %d names left in the environment", n)
	}
	r.timerMu.Lock()
	timers := len(r.timers)
	r.timerMu.Unlock()
	if timers != 0 || env.timers.Load() != 0 || r.Environment().timers.Load() != 0 {
		t.Errorf("after Close: %d timers pending, charged %d here and %d to the root", timers, env.timers.Load(), r.Environment().timers.Load())
	}

	for _, e := range []*Environment{env, child, grandchild} {
		if _, err := e.Spawn(ctx, m, "sleep_forever"); !errors.Is(err, ErrEnvironmentClosed) {
			t.Errorf("Spawn after Close: %v, want ErrEnvironmentClosed", err)
		}
		if _, err := e.Run(ctx, m, "sleep_forever"); !errors.Is(err, ErrEnvironmentClosed) {
			t.Errorf("Run after Close: %v, want ErrEnvironmentClosed", err)
		}
		if _, err := e.SpawnGo(ctx, "x", func(context.Context, *Self) error { return nil }); !errors.Is(err, ErrEnvironmentClosed) {
			t.Errorf("SpawnGo after Close: %v, want ErrEnvironmentClosed", err)
		}
		if _, _, err := e.GetOrSpawn(ctx, "svc", "1.0.0", m, "sleep_forever"); !errors.Is(err, ErrEnvironmentClosed) {
			t.Errorf("GetOrSpawn after Close: %v, want ErrEnvironmentClosed", err)
		}
		if _, err := e.NewChild(environment.Config{}); !errors.Is(err, ErrEnvironmentClosed) {
			t.Errorf("NewChild after Close: %v, want ErrEnvironmentClosed", err)
		}
		if err := e.Register("late", "1.0.0", outside[0]); !errors.Is(err, ErrEnvironmentClosed) {
			t.Errorf("Register after Close: %v, want ErrEnvironmentClosed", err)
		}
		if _, _, err := e.Lookup("svc", ""); !errors.Is(err, ErrEnvironmentClosed) {
			t.Errorf("Lookup after Close: %v, want ErrEnvironmentClosed", err)
		}
	}
	// Closing again, or closing a child of a closed environment, is done.
	if err := env.Close(ctx); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if err := grandchild.Close(ctx); err != nil {
		t.Errorf("Close of a child of a closed environment: %v", err)
	}
	// The sibling carries on.
	if reason, err := sibling.Run(ctx, m, "self_id"); err != nil || reason != Normal {
		t.Errorf("the sibling after Close: %v, %v", reason, err)
	}
	if err := r.Environment().Close(ctx); !errors.Is(err, ErrRootEnvironment) {
		t.Errorf("Close of the root environment: %v, want ErrRootEnvironment", err)
	}
	for _, p := range outside {
		p.Kill()
	}
}

// TestCloseEnvironmentRacesSpawns closes an environment while goroutines
// spawn into it: every spawn either fails with ErrEnvironmentClosed or
// starts a process that Close ends; none outlives Close.
func TestCloseEnvironmentRacesSpawns(t *testing.T) {
	r := newRuntime(t)
	ctx := testCtx(t)
	m := load(t, r, "procs", testdata.Procs)
	for round := range 20 {
		env, err := r.NewEnvironment(environment.Config{})
		if err != nil {
			t.Fatal(err)
		}
		spawned := make(chan *Process, 1024)
		stop := make(chan struct{})
		done := make(chan error, 2)
		for range 2 {
			go func() {
				for {
					select {
					case <-stop:
						done <- nil
						return
					default:
					}
					p, err := env.Spawn(ctx, m, "sleep_forever")
					if errors.Is(err, ErrEnvironmentClosed) {
						done <- nil
						return
					}
					if err != nil {
						done <- err
						return
					}
					select {
					case spawned <- p:
					default:
						p.Kill()
					}
				}
			}()
		}
		for len(spawned) < 4 {
			goruntime.Gosched()
		}
		if err := env.Close(ctx); err != nil {
			t.Fatal(err)
		}
		for range 2 {
			if err := <-done; err != nil {
				t.Fatalf("round %d: Spawn: %v", round, err)
			}
		}
		close(stop)
		close(spawned)
		for p := range spawned {
			if _, err := p.Wait(ctx); err != nil {
				t.Fatalf("round %d: %v outlived Close of its environment", round, p)
			}
		}
		if n := env.NumProcesses(); n != 0 {
			t.Fatalf("round %d: %d processes after Close", round, n)
		}
	}
}

// TestClosedRuntimeCallsReturnErrClosed: after Runtime.Close, every call
// that acts fails with an error matching ErrClosed, without panicking or
// hanging.
func TestClosedRuntimeCallsReturnErrClosed(t *testing.T) {
	r := newRuntime(t)
	ctx := testCtx(t)
	m := load(t, r, "procs", testdata.Procs)
	path := filepath.Join(t.TempDir(), "trivial.wasm")
	if err := os.WriteFile(path, testdata.Trivial, 0o644); err != nil {
		t.Fatal(err)
	}
	root := r.Environment()
	child, err := r.NewEnvironment(environment.Config{})
	if err != nil {
		t.Fatal(err)
	}
	target := spawn(t, root, m, "sleep_forever")
	if err := root.Register("svc", "1.0.0", target); err != nil {
		t.Fatal(err)
	}
	selves := make(chan *Self, 1)
	goProc, err := root.SpawnGo(ctx, "keeper", func(ctx context.Context, self *Self) error {
		selves <- self
		<-ctx.Done()
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	self := <-selves
	if err := r.Close(ctx); err != nil {
		t.Fatal(err)
	}
	msg := Message{Tag: 1, Data: []byte("x")}
	nop := func(context.Context, *Self) error { return nil }
	calls := []struct {
		name string
		call func() error
	}{
		{"Runtime.Send", func() error { return r.Send(ctx, target.ID(), msg) }},
		{"Runtime.Request", func() error { _, err := r.Request(ctx, target.ID(), msg); return err }},
		{"Runtime.SendAfter", func() error { _, err := r.SendAfter(time.Second, target.ID(), msg); return err }},
		{"Runtime.NewEnvironment", func() error { _, err := r.NewEnvironment(environment.Config{}); return err }},
		{"Runtime.LoadModule", func() error { _, err := r.LoadModule(ctx, "t", testdata.Trivial); return err }},
		{"Runtime.LoadModuleFile", func() error { _, err := r.LoadModuleFile(ctx, path); return err }},
		{"Process.Send", func() error { return target.Send(ctx, msg) }},
		{"Self.Send", func() error { return self.Send(target.ID(), msg) }},
		{"Self.Link", func() error { return self.Link(target.ID()) }},
		{"Self.SendAfter", func() error { _, err := self.SendAfter(time.Second, target.ID(), msg); return err }},
		{"Self.Request", func() error { _, err := self.Request(ctx, target.ID(), msg); return err }},
	}
	for _, e := range []struct {
		name string
		env  *Environment
	}{{"root", root}, {"child", child}} {
		env := e.env
		calls = append(calls, []struct {
			name string
			call func() error
		}{
			{e.name + ".Spawn", func() error { _, err := env.Spawn(ctx, m, "self_id"); return err }},
			{e.name + ".Run", func() error { _, err := env.Run(ctx, m, "self_id"); return err }},
			{e.name + ".SpawnGo", func() error { _, err := env.SpawnGo(ctx, "g", nop); return err }},
			{e.name + ".GetOrSpawn", func() error { _, _, err := env.GetOrSpawn(ctx, "svc2", "1.0.0", m, "self_id"); return err }},
			{e.name + ".NewChild", func() error { _, err := env.NewChild(environment.Config{}); return err }},
			{e.name + ".Register", func() error { return env.Register("late", "1.0.0", goProc) }},
			{e.name + ".Unregister", func() error { return env.Unregister("svc", "1.0.0") }},
			{e.name + ".Lookup", func() error { _, _, err := env.Lookup("svc", "^1"); return err }},
		}...)
	}
	calls = append(calls, struct {
		name string
		call func() error
	}{"child.Close", func() error { return child.Close(ctx) }})
	for _, c := range calls {
		t.Run(c.name, func(t *testing.T) {
			res := make(chan error, 1)
			go func() {
				defer func() {
					if v := recover(); v != nil {
						res <- fmt.Errorf("panicked: %v", v)
					}
				}()
				res <- c.call()
			}()
			select {
			case err := <-res:
				if !errors.Is(err, ErrClosed) {
					t.Errorf("%s on a closed runtime: %v, want an error matching ErrClosed", c.name, err)
				}
				if err != nil && !strings.HasPrefix(err.Error(), "ward: ") {
					t.Errorf("%s: error %q does not start with \"ward: \"", c.name, err)
				}
			case <-time.After(testTimeout):
				t.Fatalf("%s on a closed runtime hung", c.name)
			}
		})
	}
	if st := r.Stats(); st.Processes != 0 || st.Modules != 0 || st.StacksInUse != 0 || st.StacksAlloc != 0 {
		t.Errorf("Stats after Close: %+v, want no resources held", st)
	}
	if err := r.Close(ctx); err != nil {
		t.Errorf("second Close: %v", err)
	}
}

// TestRunWithCancelledContext: Run with a context that has already ended
// answers the same every time, spawns nothing, and says why.
func TestRunWithCancelledContext(t *testing.T) {
	r := newRuntime(t)
	m := load(t, r, "procs", testdata.Procs)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	env := r.Environment()
	ids := r.nextID.Load()
	var first string
	for i := range 100 {
		reason, err := env.Run(ctx, m, "self_id")
		if reason != nil || !errors.Is(err, context.Canceled) {
			t.Fatalf("run %d: %v, %v; want a nil reason and context.Canceled", i, reason, err)
		}
		if i == 0 {
			first = err.Error()
			if !strings.HasPrefix(first, "ward: ") {
				t.Errorf("error %q does not start with \"ward: \"", first)
			}
		} else if err.Error() != first {
			t.Fatalf("run %d: %q, run 0: %q", i, err, first)
		}
	}
	if got := r.nextID.Load(); got != ids {
		t.Errorf("Run with an ended context spawned %d processes", got-ids)
	}
	if err := r.Close(testCtx(t)); err != nil {
		t.Fatal(err)
	}
	// Closed too: the context still speaks first.
	if _, err := env.Run(ctx, m, "self_id"); !errors.Is(err, context.Canceled) || err.Error() != first {
		t.Errorf("on a closed runtime: %v, want %q", err, first)
	}
}
