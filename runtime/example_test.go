package runtime_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/wardrt/ward/environment"
	"github.com/wardrt/ward/runtime"
)

// A module in WAT text; LoadModule also takes Wasm binaries.
const guest = `(module
  (import "ward_process" "sleep_ms" (func $sleep (param i64)))
  (func (export "add") (param i32 i32) (result i32) (i32.add (local.get 0) (local.get 1)))
  (func (export "nap") (call $sleep (i64.const 3600000)))
  (func (export "loop") (loop $l (br $l)))
  (func $crash (export "crash") unreachable))`

func quietLogger() *slog.Logger {
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelError}))
}

func Example() {
	ctx := context.Background()
	rt, err := runtime.New(runtime.WithLogger(quietLogger()))
	if err != nil {
		panic(err)
	}
	defer rt.Close(ctx)

	mod, err := rt.LoadModule(ctx, "guest", []byte(guest))
	if err != nil {
		panic(err)
	}
	p, err := rt.Environment().Spawn(ctx, mod, "add", runtime.I32(2), runtime.I32(3))
	if err != nil {
		panic(err)
	}
	reason, err := p.Wait(ctx)
	fmt.Println(reason, err)
	// Output: normal <nil>
}

func ExampleProcess_Kill() {
	ctx := context.Background()
	rt, _ := runtime.New(runtime.WithLogger(quietLogger()))
	defer rt.Close(ctx)
	mod, _ := rt.LoadModule(ctx, "guest", []byte(guest))

	// One process parked in a host call, one spinning: Kill ends both.
	napper, _ := rt.Environment().Spawn(ctx, mod, "nap")
	spinner, _ := rt.Environment().Spawn(ctx, mod, "loop")
	napper.Kill()
	spinner.Kill()
	r1, _ := napper.Wait(ctx)
	r2, _ := spinner.Wait(ctx)
	fmt.Println(r1, r2)
	// Output: killed killed
}

func ExampleTrapError() {
	ctx := context.Background()
	rt, _ := runtime.New(runtime.WithLogger(quietLogger()))
	defer rt.Close(ctx)
	mod, _ := rt.LoadModule(ctx, "guest", []byte(guest))

	reason, _ := rt.Environment().Run(ctx, mod, "crash")
	var trap *runtime.TrapError
	if errors.As(reason, &trap) {
		fmt.Println(trap.Code, trap.Entry, trap.Backtrace[0].Func)
	}
	// Output: unreachable crash crash
}

func ExampleEnvironment_NewChild() {
	ctx := context.Background()
	rt, _ := runtime.New(runtime.WithLogger(quietLogger()))
	defer rt.Close(ctx)
	mod, _ := rt.LoadModule(ctx, "guest", []byte(guest))

	// At most 10 million units of fuel per process, and no host functions.
	sandbox, err := rt.NewEnvironment(environment.Config{MaxFuel: 10_000_000, Namespaces: []string{}})
	if err != nil {
		panic(err)
	}
	pure, _ := rt.LoadModule(ctx, "pure", []byte(`(module (func (export "loop") (loop $l (br $l))))`))
	reason, _ := sandbox.Run(ctx, pure, "loop")
	fmt.Println("loop:", reason)

	// mod imports ward_process, which the sandbox does not allow.
	_, err = sandbox.Spawn(ctx, mod, "add", runtime.I32(1), runtime.I32(2))
	fmt.Println(errors.Is(err, environment.ErrNamespaceDenied))
	// Output:
	// loop: process 1 (pure.loop) ran out of fuel (limit 10000000)
	// true
}

func ExampleEnvironment_Run() {
	ctx := context.Background()
	rt, _ := runtime.New(runtime.WithLogger(quietLogger()))
	defer rt.Close(ctx)
	mod, _ := rt.LoadModule(ctx, "guest", []byte(guest))

	// Run on the calling goroutine, bounded by a deadline.
	ctx, cancel := context.WithTimeout(ctx, 20*time.Millisecond)
	defer cancel()
	reason, err := rt.Environment().Run(ctx, mod, "loop")
	fmt.Println(reason, errors.Is(err, context.DeadlineExceeded))
	// Output: killed true
}

// An environment per job: Close ends whatever the job left running and
// frees what the environment holds; later spawns in it are refused.
func ExampleEnvironment_Close() {
	ctx := context.Background()
	rt, _ := runtime.New(runtime.WithLogger(quietLogger()))
	defer rt.Close(ctx)
	mod, _ := rt.LoadModule(ctx, "guest", []byte(guest))

	job, _ := rt.NewEnvironment(environment.Config{MaxProcesses: 10})
	left, _ := job.Spawn(ctx, mod, "nap")
	if err := job.Close(ctx); err != nil {
		panic(err)
	}
	fmt.Println(left.Reason())
	_, err := job.Spawn(ctx, mod, "nap")
	fmt.Println(errors.Is(err, runtime.ErrEnvironmentClosed))
	// Output:
	// killed
	// true
}
