// Command fanout shows fan-out jobs, what the lucidity library offered on
// lunatic: one job function, a Wasm export, run across many processes
// with the results gathered, with timeouts and failures reported per job.
//
//	go run ./examples/fanout
//
// fanout.go is the reusable part, a small API over ward:
//
//	results := Map(ctx, env, mod, "fib", inputs, Options{Timeout: time.Second})   // local: block until all are done
//	batch := Start(ctx, env, mod, "slow", inputs, Options{Timeout: time.Second}) // async: a handle now...
//	results, err := batch.Await(ctx)                                              // ...the results later
//
// Each job is a process of its own, so a job that traps, runs out of fuel or
// hangs fails alone while the others return. The jobs (jobs.wat) reply to a
// Go-native collector process, which monitors them and enforces timeouts.
package main

//go:generate go run ../../internal/tools/wat2wasm jobs.wat

import (
	"context"
	_ "embed"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"time"

	"github.com/wardrt/ward/environment"
	"github.com/wardrt/ward/runtime"
)

//go:embed jobs.wasm
var jobsWasm []byte

func main() {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := run(ctx, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "fanout:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, out io.Writer) error {
	// Failed jobs are reported in their Results; keep the runtime's failure
	// log quiet.
	rt, err := runtime.New(runtime.WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil))))
	if err != nil {
		return err
	}
	defer rt.Close(ctx)
	mod, err := rt.LoadModule(ctx, "jobs", jobsWasm)
	if err != nil {
		return err
	}
	// Jobs may send messages and nothing else, and burn at most 100 million
	// units of fuel each: fib(30) needs about a quarter of that.
	env, err := rt.NewEnvironment(environment.Config{
		MaxMemory:  1 << 20,
		MaxFuel:    100_000_000,
		Namespaces: []string{"ward_message"},
	})
	if err != nil {
		return err
	}

	// Async: start jobs that wait (slow stands for I/O), keep working, and
	// collect them later. They wait rather than compute, so run them all at
	// once.
	waits := []int64{10, 30, 60_000}
	batch := Start(ctx, env, mod, "slow", waits, Options{Timeout: 500 * time.Millisecond, Concurrency: len(waits)})
	fmt.Fprintf(out, "async: started slow(%v) with a 500ms timeout each\n", waits)

	// Local: fan fib out over some inputs and block until all are done.
	fmt.Fprintln(out, "local: fib, fuel limit 100000000 per job, timeout 10s")
	for _, r := range Map(ctx, env, mod, "fib", []int64{10, 20, 30, -1, 60, 25}, Options{Timeout: 10 * time.Second}) {
		fmt.Fprintf(out, "  fib(%d) %s\n", r.Input, describe(r))
	}

	// Many small jobs: a process each.
	inputs := make([]int64, 1000)
	for i := range inputs {
		inputs[i] = int64(i % 20)
	}
	var sum int64
	failed := 0
	for _, r := range Map(ctx, env, mod, "fib", inputs, Options{}) {
		if r.Err != nil {
			failed++
		}
		sum += r.Value
	}
	fmt.Fprintf(out, "local: %d fib jobs, sum %d, %d failed\n", len(inputs), sum, failed)

	results, err := batch.Await(ctx)
	if err != nil {
		return err
	}
	fmt.Fprintln(out, "async: awaited")
	for _, r := range results {
		fmt.Fprintf(out, "  slow(%d) %s\n", r.Input, describe(r))
	}
	fmt.Fprintf(out, "processes alive: %d\n", rt.NumProcesses())
	return rt.Close(ctx)
}

// describe says what became of a job, in a few words.
func describe(r Result) string {
	var trap *runtime.TrapError
	switch {
	case r.Err == nil:
		return fmt.Sprintf("= %d", r.Value)
	case errors.Is(r.Err, ErrTimeout):
		return fmt.Sprintf("failed: %v", r.Err)
	case errors.Is(r.Err, runtime.ErrOutOfFuel):
		return "failed: out of fuel"
	case errors.As(r.Err, &trap):
		return fmt.Sprintf("failed: trapped (%v)", trap.Code)
	}
	return fmt.Sprintf("failed: %v", r.Err)
}
