// Command services runs a supervised service tree with a registered,
// versioned service that clients find by a semver constraint.
//
//	go run ./examples/services
//
// The tree (tree.go) is a one_for_one supervisor, app, over a Go-native
// process, audit, and a nested one_for_one supervisor, greeters, over
// three Wasm processes of one module (greeter.wat), the versions 1.2.0,
// 1.4.0 and 2.0.0 of a greeting service. Each child's OnStart hook
// registers it in the environment's registry, as greeter@<version> or
// audit@1.0.0, after every start and restart.
//
// Clients ask for greeter ^1: the highest 1.x running, never 2.x, whose
// replies changed. A Go client does it with Environment.Lookup and
// Runtime.Request; a Wasm client (client.wat) with ward_registry.lookup and
// ward_message.send_receive. Then the Go client sends greeter 1.4.0 the
// request "crash", which traps it; its supervisor restarts it, the OnStart
// hook registers the new process under the same name and version, and the
// clients' next lookups find the new pid. (In between, while greeter 1.4.0
// waits out its restart backoff, ^1 finds 1.2.0, the highest 1.x running
// then; never 2.0.0.) The audit process, outside the crash, has counted
// the requests of the old process and of the new. Finally the tree is
// stopped by cancelling Serve's context, children in reverse order, and no
// process is left.
package main

//go:generate go run ../../internal/tools/wat2wasm greeter.wat client.wat

import (
	"context"
	_ "embed"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"sync"
	"time"

	"github.com/wardrt/ward/environment"
	"github.com/wardrt/ward/runtime"
)

var (
	//go:embed greeter.wasm
	greeterWasm []byte
	//go:embed client.wasm
	clientWasm []byte
)

func main() {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := run(ctx, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "services:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, w io.Writer) error {
	// The Wasm client's stdout reaches w from a goroutine of the runtime,
	// and the supervisors' events and we write to it too: take turns.
	out := &lockedWriter{w: w}

	// The crash below is expected: keep the runtime's log quiet.
	rt, err := runtime.New(runtime.WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil))))
	if err != nil {
		return err
	}
	defer rt.Close(ctx)
	// Names are per environment: the tree registers, and the clients look
	// up, in this one.
	env, err := rt.NewEnvironment(environment.Config{MaxMemory: 1 << 20, WASI: environment.WASI{Stdout: out}})
	if err != nil {
		return err
	}
	greeter, err := rt.LoadModule(ctx, "greeter", greeterWasm)
	if err != nil {
		return err
	}
	client, err := rt.LoadModule(ctx, "client", clientWasm)
	if err != nil {
		return err
	}

	t, err := newTree(env, greeter, out)
	if err != nil {
		return err
	}
	fmt.Fprintln(out, "starting app: audit, then greeters: greeter-1.2, greeter-1.4, greeter-2.0")
	sv := serve(ctx, t.app)
	defer sv.stop() // on the way out early; a no-op after the stop below
	if _, err := wait(ctx, sv, t.up, "the tree to start"); err != nil {
		return err
	}

	// Which greeter each constraint finds.
	for _, c := range []string{"^1", "~1.2", "^2", "^3"} {
		p, v, err := env.Lookup("greeter", c)
		switch {
		case errors.Is(err, runtime.ErrNotRegistered):
			fmt.Fprintf(out, "go client:   lookup greeter %-4s -> none (ErrNotRegistered)\n", c)
		case err != nil:
			return err
		default:
			fmt.Fprintf(out, "go client:   lookup greeter %-4s -> greeter@%s, pid %d\n", c, v, p.ID())
		}
	}

	// Both clients ask greeter ^1.
	goClient := func(constraint string) (runtime.ProcessID, error) {
		pid, reply, err := ask(ctx, rt, env, constraint, "go client")
		if err != nil {
			return 0, err
		}
		fmt.Fprintf(out, "go client:   lookup greeter %s -> pid %d; reply: %s\n", constraint, pid, reply)
		return pid, nil
	}
	wasmClient := func() error {
		reason, err := env.Run(ctx, client, "client")
		if err == nil && !reason.Normal() {
			err = fmt.Errorf("wasm client: %w", reason)
		}
		return err
	}
	old, err := goClient("^1")
	if err != nil {
		return err
	}
	if err := wasmClient(); err != nil {
		return err
	}
	if _, err := goClient("^2"); err != nil {
		return err
	}

	// The failure: greeter 1.4.0 traps on "crash".
	fmt.Fprintf(out, "go client:   sending \"crash\" to pid %d\n", old)
	if err := rt.Send(ctx, old, runtime.Message{Data: []byte("crash")}); err != nil {
		return err
	}
	if _, err := wait(ctx, sv, t.restarted, "greeter-1.4's restart"); err != nil {
		return err
	}

	// The same name and version, a new process.
	now, err := goClient("^1")
	if err != nil {
		return err
	}
	if err := wasmClient(); err != nil {
		return err
	}
	if now == old {
		return fmt.Errorf("greeter ^1 is still pid %d after its restart", old)
	}
	_, oldAlive := rt.Process(old)
	fmt.Fprintf(out, "greeter ^1 was pid %d (alive: %v), is pid %d now\n", old, oldAlive, now)

	// audit kept counting through the crash.
	a, _, err := env.Lookup("audit", "^1")
	if err != nil {
		return err
	}
	report, err := rt.Request(ctx, a.ID(), runtime.Message{})
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "audit (pid %d) counted:\n%s", a.ID(), indent(string(report.Data)))

	// Stop the tree: Serve stops the children in reverse order, nested
	// ones included, before it returns.
	fmt.Fprintln(out, "stopping app")
	err = sv.stop()
	fmt.Fprintf(out, "app.Serve returned: %v\n", err)
	if !errors.Is(err, context.Canceled) {
		return fmt.Errorf("app.Serve: %w", err)
	}
	fmt.Fprintf(out, "processes left: %d, names left: %d\n", rt.NumProcesses(), len(env.Registered()))
	return rt.Close(ctx)
}

// ask finds the greeter matching constraint and sends it a request to
// greet name: Environment.Lookup, then Runtime.Request, which waits for the
// reply under the request's tag.
func ask(ctx context.Context, rt *runtime.Runtime, env *runtime.Environment, constraint, name string) (runtime.ProcessID, string, error) {
	p, _, err := env.Lookup("greeter", constraint)
	if err != nil {
		return 0, "", err
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	reply, err := rt.Request(ctx, p.ID(), runtime.Message{Data: []byte(name)})
	if err != nil {
		return 0, "", fmt.Errorf("asking greeter %s (pid %d): %w", constraint, p.ID(), err)
	}
	return p.ID(), string(reply.Data), nil
}

// indent puts two spaces before each line of s.
func indent(s string) string {
	var b []byte
	start := true
	for i := 0; i < len(s); i++ {
		if start {
			b = append(b, "  "...)
		}
		b = append(b, s[i])
		start = s[i] == '\n'
	}
	return string(b)
}

type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}
