package main

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	goruntime "runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wardrt/ward/environment"
	"github.com/wardrt/ward/runtime"
	"github.com/wardrt/ward/supervisor"
)

func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// TestRun runs the example and checks its story line by line. A * stands
// for a process id, which is whatever the runtime gave.
func TestRun(t *testing.T) {
	var out bytes.Buffer
	if err := run(testCtx(t), &out); err != nil {
		t.Fatalf("run: %v\n%s", err, out.String())
	}
	want := []string{
		"starting app: audit, then greeters: greeter-1.2, greeter-1.4, greeter-2.0",
		"  OnStart: registered audit@1.0.0 as pid *",
		"  OnStart: registered greeter@1.2.0 as pid *",
		"  OnStart: registered greeter@1.4.0 as pid *",
		"  OnStart: registered greeter@2.0.0 as pid *",
		"go client:   lookup greeter ^1   -> greeter@1.4.0, pid *",
		"go client:   lookup greeter ~1.2 -> greeter@1.2.0, pid *",
		"go client:   lookup greeter ^2   -> greeter@2.0.0, pid *",
		"go client:   lookup greeter ^3   -> none (ErrNotRegistered)",
		"go client:   lookup greeter ^1 -> pid *; reply: greeter 1.4.0 says hello to go client",
		"wasm client: lookup greeter ^1 -> pid *; reply: greeter 1.4.0 says hello to wasm client",
		"go client:   lookup greeter ^2 -> pid *; reply: greeter 2.0.0 says hi to go client",
		"go client:   sending \"crash\" to pid *",
		"greeters: greeter-1.4 (pid *) crashed: process * (greeter.greeter_v1_4) trapped: wasm trap: wasm `unreachable` instruction executed",
		"  OnStart: registered greeter@1.4.0 as pid *",
		"greeters: greeter-1.4 restarted as pid * (restart 1)",
		"go client:   lookup greeter ^1 -> pid *; reply: greeter 1.4.0 says hello to go client",
		"wasm client: lookup greeter ^1 -> pid *; reply: greeter 1.4.0 says hello to wasm client",
		"greeter ^1 was pid * (alive: false), is pid * now",
		"audit (pid *) counted:",
		"  pid * greeter 1.4.0: 2 requests",
		"  pid * greeter 2.0.0: 1 request",
		"  pid * greeter 1.4.0: 2 requests",
		"stopping app",
		"greeters: greeter-2.0 stopped",
		"greeters: greeter-1.4 stopped",
		"greeters: greeter-1.2 stopped",
		"app: greeters stopped",
		"app: audit stopped",
		"app.Serve returned: context canceled",
		"processes left: 0, names left: 0",
	}
	got := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
	if len(got) != len(want) {
		t.Fatalf("%d lines, want %d:\n%s", len(got), len(want), out.String())
	}
	var pids [][]uint64 // the ids in each line
	for i := range want {
		ids, ok := match(got[i], want[i])
		if !ok {
			t.Errorf("line %d:\n got %s\nwant %s", i+1, got[i], want[i])
		}
		pids = append(pids, ids)
	}
	if t.Failed() {
		return
	}

	// The ids tell the same story: the clients reached greeter 1.4.0's
	// first process, the crash was that one, and after the restart both
	// reached the new process that OnStart registered.
	// pids[i] are the ids in want[i].
	first, registered, restarted := pids[3][0], pids[14][0], pids[15][0]
	if pids[5][0] != first || pids[9][0] != first || pids[10][0] != first ||
		pids[12][0] != first || pids[13][0] != first || pids[13][1] != first {
		t.Errorf("greeter ^1 before the crash is not always pid %d:\n%s", first, out.String())
	}
	if pids[6][0] != pids[2][0] || pids[7][0] != pids[4][0] || pids[11][0] != pids[4][0] {
		t.Errorf("~1.2 or ^2 found the wrong process:\n%s", out.String())
	}
	if registered == first || restarted != registered || pids[16][0] != registered || pids[17][0] != registered {
		t.Errorf("after the restart greeter ^1 is not the one new process (was %d):\n%s", first, out.String())
	}
	if pids[18][0] != first || pids[18][1] != registered {
		t.Errorf("was/is line: %v, want %d and %d", pids[18], first, registered)
	}
	if pids[19][0] != pids[1][0] || pids[20][0] != first || pids[21][0] != pids[4][0] || pids[22][0] != registered {
		t.Errorf("audit counted the wrong processes:\n%s", out.String())
	}
}

// match reports whether line is pattern with each * standing for a
// decimal process id, and returns the ids.
func match(line, pattern string) ([]uint64, bool) {
	parts := strings.Split(pattern, "*")
	if !strings.HasPrefix(line, parts[0]) {
		return nil, false
	}
	line = line[len(parts[0]):]
	var ids []uint64
	for _, part := range parts[1:] {
		n := 0
		for n < len(line) && line[n] >= '0' && line[n] <= '9' {
			n++
		}
		id, err := strconv.ParseUint(line[:n], 10, 64)
		if err != nil || !strings.HasPrefix(line[n:], part) {
			return nil, false
		}
		ids = append(ids, id)
		line = line[n+len(part):]
	}
	return ids, line == ""
}

// started is a tree serving in a runtime of its own, stopped and closed
// when the test ends.
type started struct {
	rt     *runtime.Runtime
	env    *runtime.Environment
	client *runtime.Module
	tree   *tree
	sv     *serving
}

func startTree(t *testing.T) *started {
	t.Helper()
	ctx := testCtx(t)
	rt, err := runtime.New(runtime.WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil))))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := rt.Close(context.Background()); err != nil {
			t.Error(err)
		}
	})
	env, err := rt.NewEnvironment(environment.Config{MaxMemory: 1 << 20})
	if err != nil {
		t.Fatal(err)
	}
	greeter, err := rt.LoadModule(ctx, "greeter", greeterWasm)
	if err != nil {
		t.Fatal(err)
	}
	client, err := rt.LoadModule(ctx, "client", clientWasm)
	if err != nil {
		t.Fatal(err)
	}
	tr, err := newTree(env, greeter, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	sv := serve(ctx, tr.app)
	t.Cleanup(func() { _ = sv.stop() })
	if _, err := wait(ctx, sv, tr.up, "the tree to start"); err != nil {
		t.Fatal(err)
	}
	return &started{rt: rt, env: env, client: client, tree: tr, sv: sv}
}

// crash sends p the request that traps it and waits until its supervisor
// has restarted it.
func (s *started) crash(t *testing.T, p *runtime.Process) {
	t.Helper()
	ctx := testCtx(t)
	if err := p.Send(ctx, runtime.Message{Data: []byte("crash")}); err != nil {
		t.Fatal(err)
	}
	if _, err := wait(ctx, s.sv, s.tree.restarted, "a restart"); err != nil {
		t.Fatal(err)
	}
}

// TestRestartedServiceIsANewLiveProcess: after greeter 1.4.0 crashes and is
// restarted, greeter ^1 names a live process that is not the crashed one,
// and it answers.
func TestRestartedServiceIsANewLiveProcess(t *testing.T) {
	s := startTree(t)
	ctx := testCtx(t)
	before, v, err := s.env.Lookup("greeter", "^1")
	if err != nil || v.String() != "1.4.0" {
		t.Fatalf("lookup greeter ^1: %v, %v", v, err)
	}
	s.crash(t, before)

	reason, err := before.Wait(ctx)
	var trap *runtime.TrapError
	if err != nil || !errors.As(reason, &trap) {
		t.Fatalf("the crashed greeter ended with %v, %v; want a trap", reason, err)
	}
	if _, alive := s.rt.Process(before.ID()); alive {
		t.Errorf("crashed pid %d is still alive", before.ID())
	}
	after, v, err := s.env.Lookup("greeter", "^1")
	if err != nil {
		t.Fatal(err)
	}
	if after.ID() == before.ID() || v.String() != "1.4.0" {
		t.Fatalf("greeter ^1 after the restart: pid %d at %v; crashed pid %d", after.ID(), v, before.ID())
	}
	select {
	case <-after.Done():
		t.Fatalf("restarted greeter ended: %v", after.Reason())
	default:
	}
	if p, alive := s.rt.Process(after.ID()); !alive || p != after {
		t.Fatalf("pid %d is not alive", after.ID())
	}
	// It is the process the supervisor has for that child.
	for _, c := range s.tree.greeters.WhichChildren() {
		if c.Name == "greeter-1.4" && (c.Process != after || c.Restarts != 1) {
			t.Errorf("greeter-1.4 is %v after %d restarts; the registry says pid %d", c.Process, c.Restarts, after.ID())
		}
	}
	pid, reply, err := ask(ctx, s.rt, s.env, "^1", "test")
	if err != nil || pid != after.ID() || reply != "greeter 1.4.0 says hello to test" {
		t.Fatalf("ask greeter ^1: pid %d, %q, %v", pid, reply, err)
	}
}

// TestCaretOneNeverFindsTwo: however the 1.x greeters come and go, crashed,
// restarting or terminated, greeter ^1 never resolves to greeter 2.0.0;
// with no 1.x running it resolves to nothing, for the Go and the Wasm
// client alike.
func TestCaretOneNeverFindsTwo(t *testing.T) {
	s := startTree(t)
	ctx := testCtx(t)
	two, v, err := s.env.Lookup("greeter", "^2")
	if err != nil || v.String() != "2.0.0" {
		t.Fatalf("lookup greeter ^2: %v, %v", v, err)
	}

	// Look ^1 up without pause while greeter 1.4.0 crashes and restarts.
	var stop atomic.Bool
	var wrong, found, fallback, missing atomic.Int64
	var wg sync.WaitGroup
	wg.Go(func() {
		for !stop.Load() {
			p, v, err := s.env.Lookup("greeter", "^1")
			switch {
			case errors.Is(err, runtime.ErrNotRegistered):
				missing.Add(1)
			case err != nil:
				t.Error(err)
				return
			case p.ID() == two.ID() || v.Major() != 1:
				wrong.Add(1)
			default:
				found.Add(1)
				if v.Minor() == 2 {
					fallback.Add(1) // greeter 1.2.0, while 1.4.0 was down
				}
			}
		}
	})
	for range 3 {
		p, _, err := s.env.Lookup("greeter", "^1")
		if err != nil {
			t.Fatal(err)
		}
		s.crash(t, p)
	}
	stop.Store(true)
	wg.Wait()
	if wrong.Load() != 0 || found.Load() == 0 {
		t.Fatalf("during restarts greeter ^1 resolved wrongly %d times, rightly %d times", wrong.Load(), found.Load())
	}
	t.Logf("%d lookups found a 1.x (%d of them 1.2.0, while 1.4.0 restarted), %d found none", found.Load(), fallback.Load(), missing.Load())

	// With every 1.x stopped, ^1 finds nothing, and 2.0.0 is still there.
	for _, name := range []string{"greeter-1.2", "greeter-1.4"} {
		if err := s.tree.greeters.TerminateChild(ctx, name); err != nil {
			t.Fatal(err)
		}
	}
	if p, v, err := s.env.Lookup("greeter", "^1"); !errors.Is(err, runtime.ErrNotRegistered) {
		t.Fatalf("greeter ^1 with no 1.x running: %v at %v, %v", p, v, err)
	}
	reason, err := s.env.Run(ctx, s.client, "client")
	var exit *runtime.ExitError
	if err != nil || !errors.As(reason, &exit) || exit.Code != 40+3 { // the lookup's ErrNotFound
		t.Fatalf("wasm client with no 1.x running: %v, %v; want exit code 43", reason, err)
	}
	if p, v, err := s.env.Lookup("greeter", ""); err != nil || p != two || v.String() != "2.0.0" {
		t.Fatalf("greeter, any version: %v at %v, %v", p, v, err)
	}
}

// TestStopLeavesNothing: cancelling Serve's ctx stops the whole tree, and
// by the time Serve has returned no process and no name is left, before
// the runtime is closed.
func TestStopLeavesNothing(t *testing.T) {
	s := startTree(t)
	if n := s.rt.NumProcesses(); n != 4 {
		t.Errorf("%d processes running, want 4 (audit and three greeters)", n)
	}
	if n := len(s.env.Registered()); n != 4 {
		t.Errorf("%d names registered, want 4: %v", n, s.env.Registered())
	}
	if err := s.sv.stop(); !errors.Is(err, context.Canceled) {
		t.Fatalf("Serve returned %v, want context.Canceled", err)
	}
	select {
	case <-s.sv.done:
	default:
		t.Fatal("Serve has not returned")
	}
	if n := s.rt.NumProcesses(); n != 0 {
		t.Errorf("%d processes left after Serve returned", n)
	}
	if names := s.env.Registered(); len(names) != 0 {
		t.Errorf("names left after Serve returned: %v", names)
	}
	for _, sup := range []*supervisor.Supervisor{s.tree.app, s.tree.greeters} {
		for _, c := range sup.WhichChildren() {
			if c.State != supervisor.Stopped || c.Process != nil {
				t.Errorf("%s: child %s is %v (%v) after Serve returned", sup, c.Name, c.State, c.Process)
			}
		}
	}
	if err := s.rt.Close(testCtx(t)); err != nil {
		t.Fatal(err)
	}
	if n := s.rt.NumProcesses(); n != 0 {
		t.Errorf("%d processes after Close", n)
	}
}

// TestNoGoroutineOutlivesRun: the tree, its processes, the clients and the
// runtime's own goroutines all end when run returns.
func TestNoGoroutineOutlivesRun(t *testing.T) {
	before := goruntime.NumGoroutine()
	var out bytes.Buffer // not io.Discard: the WASI output pipe's goroutine must end too
	if err := run(testCtx(t), &out); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for goruntime.NumGoroutine() > before {
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<20)
			t.Fatalf("%d goroutines before run, %d after:\n%s", before, goruntime.NumGoroutine(), buf[:goruntime.Stack(buf, true)])
		}
		time.Sleep(10 * time.Millisecond)
	}
}
