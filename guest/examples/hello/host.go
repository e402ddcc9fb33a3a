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
	"time"

	"github.com/wardrt/ward/runtime"
)

//go:embed hello.wasm
var helloWasm []byte

func main() {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	r, err := run(ctx)
	if err != nil {
		fmt.Fprintln(os.Stderr, "hello:", err)
		os.Exit(1)
	}
	fmt.Printf("%+v\n", r)
}

// run loads the guest into a runtime made with opts, spawns its main
// export with the id of a Go-native process that collects the report, and
// returns the report once main has ended normally.
func run(ctx context.Context, opts ...runtime.Option) (Report, error) {
	// The crasher's exit code 7 would be logged as an abnormal end; it is
	// on purpose, and reported below.
	rt, err := runtime.New(append([]runtime.Option{
		runtime.WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil))),
		// Go guests grow memory in 4 MiB steps; a reserve lets it grow in
		// place instead of being copied at every step.
		runtime.WithMemoryReserve(64 << 20),
	}, opts...)...)
	if err != nil {
		return Report{}, err
	}
	defer rt.Close(context.Background())

	mod, err := rt.LoadModule(ctx, "hello", helloWasm)
	if err != nil {
		return Report{}, err
	}

	reports := make(chan runtime.Message, 1)
	collector, err := rt.Environment().SpawnGo(ctx, "collector", func(ctx context.Context, self *runtime.Self) error {
		m, err := self.Receive(ctx, tagReport)
		if err != nil {
			return err
		}
		reports <- m
		return nil
	})
	if err != nil {
		return Report{}, err
	}

	p, err := rt.Environment().Spawn(ctx, mod, "main", runtime.I64(int64(collector.ID())))
	if err != nil {
		return Report{}, err
	}
	reason, err := p.Wait(ctx)
	if err != nil {
		return Report{}, err
	}
	if !reason.Normal() {
		return Report{}, fmt.Errorf("main ended: %w", reason)
	}
	var r Report
	select {
	case m := <-reports:
		err = runtime.DecodeMessage(m, &r)
	case <-ctx.Done():
		err = errors.New("no report from main")
	}
	return r, err
}
