//go:build !wasip1

package main

import (
	"context"
	_ "embed"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/wardrt/ward/environment"
	"github.com/wardrt/ward/runtime"
)

// e2e.wasm is main.go built by go generate; guest/internal/wasmbuild's
// test checks that it is current.
//
//go:embed e2e.wasm
var e2eWasm []byte

// One runtime and one compilation for all tests: compiling a Go guest
// takes about a second.
var (
	rt       *runtime.Runtime
	mod      *runtime.Module
	loadTime time.Duration
)

func TestMain(m *testing.M) {
	os.Exit(func() int {
		var err error
		rt, err = runtime.New(
			runtime.WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil))),
			runtime.WithMemoryReserve(64<<20),
		)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		defer rt.Close(context.Background())
		start := time.Now()
		mod, err = rt.LoadModule(context.Background(), "e2e", e2eWasm)
		loadTime = time.Since(start)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		return m.Run()
	}())
}

func testContext(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(cancel)
	return ctx
}

// newEnv returns a fresh environment (with its own registry) narrowed by c.
func newEnv(t *testing.T, c environment.Config) *runtime.Environment {
	t.Helper()
	env, err := rt.NewEnvironment(c)
	if err != nil {
		t.Fatal(err)
	}
	return env
}

// runCheck spawns the check export in env with the id of a Go-native
// collector, waits for it to end normally and for its report to be "ok".
// The collector also serves the checks' side requests: tag 2 records the
// guest's idea of its own id (returned), tag 3 is answered with a message
// from outside any process (sender 0) under tag 4.
func runCheck(t *testing.T, env *runtime.Environment, export string) (guestSaid string, p *runtime.Process) {
	t.Helper()
	ctx := testContext(t)
	reports := make(chan string, 1)
	said := make(chan string, 1)
	collector, err := rt.Environment().SpawnGo(ctx, "collector", func(ctx context.Context, self *runtime.Self) error {
		for {
			m, err := self.Receive(ctx)
			if err != nil {
				return err
			}
			switch m.Tag {
			case 1:
				reports <- string(m.Data)
				return nil
			case 2:
				said <- string(m.Data)
			case 3:
				if err := rt.Send(ctx, runtime.ProcessID(m.Sender), runtime.Message{Tag: 4, Data: []byte("from outside")}); err != nil {
					return err
				}
			}
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	defer collector.Kill()
	p, err = env.Spawn(ctx, mod, export, runtime.I64(int64(collector.ID())))
	if err != nil {
		t.Fatal(err)
	}
	reason, err := p.Wait(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !reason.Normal() {
		t.Fatalf("%s ended: %v", export, reason)
	}
	select {
	case r := <-reports:
		if r != "ok" {
			t.Errorf("%s: %s", export, r)
		}
	case <-ctx.Done():
		t.Fatalf("%s sent no report", export)
	}
	select {
	case guestSaid = <-said:
	default:
	}
	return guestSaid, p
}

func TestSelfAndExists(t *testing.T) {
	said, p := runCheck(t, rt.Environment(), "check_self")
	if said != strconv.FormatUint(uint64(p.ID()), 10) {
		t.Errorf("guest.Self() = %s, the process is %d", said, p.ID())
	}
}

func TestSpawn(t *testing.T)    { runCheck(t, rt.Environment(), "check_spawn") }
func TestMessages(t *testing.T) { runCheck(t, rt.Environment(), "check_messages") }
func TestRequest(t *testing.T)  { runCheck(t, rt.Environment(), "check_request") }
func TestLinks(t *testing.T)    { runCheck(t, rt.Environment(), "check_links") }
func TestMonitors(t *testing.T) { runCheck(t, rt.Environment(), "check_monitors") }
func TestTimers(t *testing.T)   { runCheck(t, rt.Environment(), "check_timers") }

func TestGoroutines(t *testing.T) { runCheck(t, rt.Environment(), "check_goroutines") }

func TestRegistry(t *testing.T) {
	env := newEnv(t, environment.Config{})
	runCheck(t, env, "check_registry")
	// The check ends right after it kills its get_or_spawn process, and a
	// kill is asynchronous: the name goes when that process has ended.
	ctx := testContext(t)
	for names := env.Registered(); len(names) != 0; names = env.Registered() {
		select {
		case <-ctx.Done():
			t.Fatalf("names left after the check's processes ended: %v", names)
		case <-time.After(time.Millisecond):
		}
	}
}

func TestSpawnDenied(t *testing.T) {
	env := newEnv(t, environment.Config{Permissions: environment.Permissions{Spawn: environment.Deny}})
	runCheck(t, env, "check_spawn_denied")
}

func TestSpawnLimit(t *testing.T) {
	runCheck(t, newEnv(t, environment.Config{MaxProcesses: 1}), "check_spawn_limit")
}

// Exit with a code, and a panic, end the process as the host sees it.
func TestExitAndPanic(t *testing.T) {
	ctx := testContext(t)
	reason, err := rt.Environment().Run(ctx, mod, "exit_with", runtime.I32(9))
	var ee *runtime.ExitError
	if err != nil || !errors.As(reason, &ee) || ee.Code != 9 {
		t.Errorf("guest.Exit(9): reason %v, err %v; want *ExitError with code 9", reason, err)
	}
	if reason, err := rt.Environment().Run(ctx, mod, "exit_with", runtime.I32(0)); err != nil || !reason.Normal() {
		t.Errorf("guest.Exit(0): reason %v, err %v; want Normal", reason, err)
	}
	reason, err = rt.Environment().Run(ctx, mod, "panics")
	var te *runtime.TrapError
	if err != nil || !errors.As(reason, &te) {
		t.Errorf("panic: reason %v, err %v; want *TrapError", reason, err)
	}
}

// A Go guest answers the host's requests (runtime.Request) with
// guest.Reply.
func TestHostRequest(t *testing.T) {
	ctx := testContext(t)
	p, err := rt.Environment().Spawn(ctx, mod, "echo_loop")
	if err != nil {
		t.Fatal(err)
	}
	defer p.Kill()
	for _, s := range []string{"one", "", "three"} {
		reply, err := rt.Request(ctx, p.ID(), runtime.Message{Data: []byte(s)})
		if err != nil {
			t.Fatal(err)
		}
		if string(reply.Data) != s || reply.Sender != uint64(p.ID()) {
			t.Errorf("reply %q from %d, want %q from %d", reply.Data, reply.Sender, s, p.ID())
		}
	}
}

func TestCosts(t *testing.T) {
	t.Logf("e2e.wasm: %d bytes, first load (compile) %v", len(e2eWasm), loadTime)
	ctx := testContext(t)
	var min time.Duration
	for range 10 {
		start := time.Now()
		if reason, err := rt.Environment().Run(ctx, mod, "noop"); err != nil || !reason.Normal() {
			t.Fatal(reason, err)
		}
		if d := time.Since(start); min == 0 || d < min {
			min = d
		}
	}
	t.Logf("a process of a trivial export, _initialize included: %v (best of 10)", min)
}

// BenchmarkSpawnGoGuest is the cost of a Go guest process: instantiate,
// run Go's runtime initialisation (_initialize), call an empty export.
func BenchmarkSpawnGoGuest(b *testing.B) {
	ctx := context.Background()
	for b.Loop() {
		if reason, err := rt.Environment().Run(ctx, mod, "noop"); err != nil || !reason.Normal() {
			b.Fatal(reason, err)
		}
	}
}

// BenchmarkRequestGoGuest is a request and its reply between a Go-native
// process and a Go guest that replies with guest.Reply.
func BenchmarkRequestGoGuest(b *testing.B) {
	ctx := context.Background()
	p, err := rt.Environment().Spawn(ctx, mod, "echo_loop")
	if err != nil {
		b.Fatal(err)
	}
	defer p.Kill()
	data := []byte("ping")
	client, err := rt.Environment().SpawnGo(ctx, "client", func(ctx context.Context, self *runtime.Self) error {
		for b.Loop() {
			if _, err := self.Request(ctx, p.ID(), runtime.Message{Data: data}); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
	if reason, _ := client.Wait(ctx); !reason.Normal() {
		b.Fatal(reason)
	}
}

// A job built on guest.ServeJob replies to its input with its result, and
// a failing one ends with exit code guest.JobFailed before replying.
func TestServeJob(t *testing.T) {
	ctx := testContext(t)
	p, err := rt.Environment().Spawn(ctx, mod, "job_upper")
	if err != nil {
		t.Fatal(err)
	}
	reply, err := rt.Request(ctx, p.ID(), runtime.Message{Data: []byte("job")})
	if err != nil {
		t.Fatal(err)
	}
	if string(reply.Data) != "JOB" {
		t.Errorf("result %q, want JOB", reply.Data)
	}
	p, err = rt.Environment().Spawn(ctx, mod, "job_upper")
	if err != nil {
		t.Fatal(err)
	}
	_, err = rt.Request(ctx, p.ID(), runtime.Message{})
	var ee *runtime.ExitError
	if !errors.As(err, &ee) || ee.Code != 1 {
		t.Errorf("failing job: %v, want exit code 1", err)
	}
}

// guest.RunJob asks the job server registered in its environment, in the
// CBOR the cluster package's job server reads, and tells a result from a
// failure. The server here is a stand-in that echoes what it was asked.
func TestRunJob(t *testing.T) {
	ctx := testContext(t)
	env := newEnv(t, environment.Config{})
	type request struct {
		Where uint32 `cbor:"1,keyasint"`
		Hash  string `cbor:"2,keyasint"`
		Entry string `cbor:"3,keyasint"`
		In    []byte `cbor:"4,keyasint"`
	}
	type reply struct {
		Out []byte `cbor:"1,keyasint"`
		Err string `cbor:"2,keyasint"`
	}
	srv, err := env.SpawnGo(ctx, "jobs", func(ctx context.Context, self *runtime.Self) error {
		for {
			m, err := self.Receive(ctx)
			if err != nil {
				return err
			}
			var req request
			if err := runtime.DecodeMessage(m, &req); err != nil {
				return err
			}
			rep := reply{Out: fmt.Appendf(nil, "%d %s %s %s", req.Where, req.Hash, req.Entry, req.In)}
			if req.In == nil {
				rep = reply{Err: "failed"}
			}
			out, err := runtime.EncodeMessage(0, rep)
			if err != nil {
				return err
			}
			if err := self.Reply(m, out); err != nil {
				return err
			}
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Kill()
	if err := env.Register("ward.jobs", "1.0.0", srv); err != nil {
		t.Fatal(err)
	}
	runCheck(t, env, "check_run_job")
}
