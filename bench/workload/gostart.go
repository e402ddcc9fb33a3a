package workload

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	goruntime "runtime"

	"github.com/wardrt/ward/runtime"
)

// GoStart starts the guest SDK's hello (guest/examples/hello), a Go
// guest, and times it to its first message: Spawn of its greeter export,
// a request, and the greeter's reply.
type GoStart struct {
	rt  *runtime.Runtime
	mod *runtime.Module
	req runtime.Message
}

// NewGoStart loads hello.wasm into a runtime of its own, which starts Go
// guests from a pre-initialised image or, with images false, runs the Go
// runtime's start-up in every process (runtime.WithGoImages). Compiling
// the guest takes seconds.
func NewGoStart(images bool) (*GoStart, error) {
	b, err := helloWasm()
	if err != nil {
		return nil, err
	}
	ctx := context.Background()
	rt, err := runtime.New(runtime.WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil))), runtime.WithGoImages(images))
	if err != nil {
		return nil, err
	}
	mod, err := rt.LoadModule(ctx, "hello", b)
	if err != nil {
		rt.Close(ctx)
		return nil, err
	}
	if _, ok := mod.Preinitialized(); ok != images {
		rt.Close(ctx)
		return nil, fmt.Errorf("hello.wasm: pre-initialised %v, want %v", ok, images)
	}
	req, err := runtime.EncodeMessage(0, "ward")
	if err != nil {
		rt.Close(ctx)
		return nil, err
	}
	return &GoStart{rt: rt, mod: mod, req: req}, nil
}

// Start spawns one greeter, has it answer a request, and waits for it to
// end.
func (g *GoStart) Start() error {
	ctx := context.Background()
	p, err := g.rt.Environment().Spawn(ctx, g.mod, "greeter")
	if err != nil {
		return err
	}
	if _, err := g.rt.Request(ctx, p.ID(), g.req); err != nil {
		return err
	}
	if reason, err := p.Wait(ctx); err != nil || !reason.Normal() {
		return fmt.Errorf("greeter ended: %v %v", reason, err)
	}
	return nil
}

// Close closes the runtime.
func (g *GoStart) Close() error { return g.rt.Close(context.Background()) }

// helloWasm reads the committed hello.wasm, found from this source file
// (go run and go test on the machine that built them) or from the working
// directory up.
func helloWasm() ([]byte, error) {
	const rel = "guest/examples/hello/hello.wasm"
	var tried []string
	if _, file, _, ok := goruntime.Caller(0); ok {
		p := filepath.Join(filepath.Dir(file), "..", "..", rel)
		if b, err := os.ReadFile(p); err == nil {
			return b, nil
		}
		tried = append(tried, p)
	}
	if dir, err := os.Getwd(); err == nil {
		for ; ; dir = filepath.Dir(dir) {
			p := filepath.Join(dir, rel)
			if b, err := os.ReadFile(p); err == nil {
				return b, nil
			}
			tried = append(tried, p)
			if filepath.Dir(dir) == dir {
				break
			}
		}
	}
	return nil, errors.New("hello.wasm not found; tried " + fmt.Sprint(tried))
}
