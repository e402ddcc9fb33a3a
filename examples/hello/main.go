// Command hello is ward's first example: it starts a runtime on its
// defaults, runs a few processes of one small Wasm module and shows what
// isolation means: a process that loops forever is killed, a process that
// traps ends alone, and the others are unaffected.
//
//	go run ./examples/hello
package main

//go:generate go run ../../internal/tools/wat2wasm hello.wat

import (
	"context"
	_ "embed"
	"fmt"
	"io"
	"log/slog"
	"os"
	"time"

	"github.com/wardrt/ward/environment"
	"github.com/wardrt/ward/runtime"
)

//go:embed hello.wasm
var helloWasm []byte

func main() {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := run(ctx, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "hello:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, out io.Writer) error {
	// Failures are returned as exit reasons below; keep the log quiet.
	rt, err := runtime.New(runtime.WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil))))
	if err != nil {
		return err
	}
	defer rt.Close(ctx)

	mod, err := rt.LoadModule(ctx, "hello", helloWasm)
	if err != nil {
		return err
	}
	// Processes in this environment write to out, and may use at most
	// 1 MiB of memory each.
	env, err := rt.NewEnvironment(environment.Config{
		MaxMemory: 1 << 20,
		WASI:      environment.WASI{Stdout: out},
	})
	if err != nil {
		return err
	}

	for range 3 {
		reason, err := env.Run(ctx, mod, "greet")
		if err != nil {
			return err
		}
		fmt.Fprintf(out, "greet ended: %v\n", reason)
	}

	spinner, err := env.Spawn(ctx, mod, "spin")
	if err != nil {
		return err
	}
	time.Sleep(10 * time.Millisecond) // let it burn some CPU
	spinner.Kill()
	reason, err := spinner.Wait(ctx)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "spin ended: %v\n", reason)

	crasher, err := env.Spawn(ctx, mod, "crash")
	if err != nil {
		return err
	}
	reason, err = crasher.Wait(ctx)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "crash ended: %v\n", reason)
	return rt.Close(ctx)
}
