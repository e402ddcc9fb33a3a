// Command goplugin is the first plugin path: a plugin written in Go, built
// for wasip1, loaded with the compile cache on, and called with one call.
//
//	GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -o upper.wasm ./examples/goplugin/plugin
//	go run ./examples/goplugin upper.wasm
//
// The compile cache (runtime.WithCacheDir) keeps the compiled plugin, so
// the second run starts in milliseconds instead of the second or so a Go
// guest takes to compile.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/wardrt/ward/environment"
	"github.com/wardrt/ward/runtime"
)

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: goplugin PLUGIN.wasm (build it as examples/goplugin/main.go says)")
		os.Exit(2)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := run(ctx, os.Args[1], filepath.Join(os.TempDir(), "ward-cache"), os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "goplugin:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, path, cacheDir string, out io.Writer) error {
	rt, err := runtime.New(
		runtime.WithCacheDir(cacheDir),
		runtime.WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil))),
	)
	if err != nil {
		return err
	}
	defer rt.Close(ctx)
	plugin, err := rt.LoadModuleFile(ctx, path)
	if err != nil {
		return err
	}
	// Plugins run in an environment of their own: 64 MiB of memory each,
	// a second of wall-clock time per call at most.
	env, err := rt.NewEnvironment(environment.Config{MaxMemory: 64 << 20, MaxWallTime: time.Second})
	if err != nil {
		return err
	}
	defer env.Close(ctx)

	reply, err := env.Call(ctx, plugin, "upper", []byte("hello from the host"))
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "upper: %s\n", reply)

	// A plugin that fails says how, once.
	_, err = env.Call(ctx, plugin, "upper", nil)
	var ee *runtime.ExitError
	if !errors.Is(err, runtime.ErrNoReply) || !errors.As(err, &ee) {
		return fmt.Errorf("an empty input should fail the call with the plugin's exit: %v", err)
	}
	fmt.Fprintf(out, "upper(empty): failed, exit code %d\n", ee.Code)
	return nil
}
