// Command plugin shows ward as a plugin sandbox: a Go service loads
// untrusted plugins, gives each call a fresh process with memory, fuel,
// time and namespace limits, and survives every plugin that misbehaves.
//
//	go run ./examples/plugin
//
// The plugins (plugins/*.wat, built to the embedded .wasm files) share one
// calling convention: a plugin exports "run", which receives one message
// (the input) and replies to its sender under the same tag (the output).
// The host sends the input from a Go-native process that monitors the
// plugin (see Host.Call), so the plugin needs nothing but the ward_message
// namespace, and that is all it is allowed.
//
// One plugin transforms its input as it should; the others loop forever
// (ended by the fuel limit), trap (an out-of-bounds read), allocate until
// the memory limit refuses them, wait forever without burning fuel (ended
// by the host's deadline) and import a namespace plugins are not allowed
// (refused at spawn). Each outcome is a typed error the service can act on.
package main

//go:generate go run ../../internal/tools/wat2wasm plugins/*.wat

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"time"

	"github.com/wardrt/ward/environment"
	"github.com/wardrt/ward/runtime"
)

//go:embed plugins/*.wasm
var plugins embed.FS

// The limits every plugin call runs under.
var limits = environment.Config{
	// Plugins are small; the memory bomb is stopped at 4 MiB. ward can
	// name the memory limit as the reason only for a plugin that exports
	// its memory (as "memory"); otherwise the bomb shows as the trap it
	// dies of.
	MaxMemory: 4 << 20,
	// About ten million Wasm instructions per call.
	MaxFuel: 10_000_000,
	// Messages only: no WASI (files, clocks, stdout), no spawning, no
	// registry.
	Namespaces: []string{"ward_message"},
	// At most this many plugin calls at once.
	MaxProcesses: 64,
}

// ErrTimeout is returned by Host.Call for a plugin that did not answer
// within the host's deadline; its process has been killed.
var ErrTimeout = errors.New("plugin timed out")

// ErrNoReply is returned by Host.Call for a plugin that ended normally
// without answering.
var ErrNoReply = errors.New("plugin ended without replying")

// Host calls plugins, each call in a fresh process of the plugin
// environment, so no call sees another's memory and a plugin that breaks
// breaks only its own call.
type Host struct {
	rt      *runtime.Runtime
	env     *runtime.Environment
	timeout time.Duration
}

// NewHost makes a plugin host on rt whose calls run under limits and last
// at most timeout.
func NewHost(rt *runtime.Runtime, limits environment.Config, timeout time.Duration) (*Host, error) {
	env, err := rt.NewEnvironment(limits)
	if err != nil {
		return nil, err
	}
	return &Host{rt: rt, env: env, timeout: timeout}, nil
}

// Load compiles a plugin. Loading checks that the module is valid Wasm
// and that ward knows its imports; whether the plugin environment allows
// them is checked when it is called.
func (h *Host) Load(ctx context.Context, name string, wasm []byte) (*runtime.Module, error) {
	return h.rt.LoadModule(ctx, name, wasm)
}

// Call runs plugin's "run" export in a new process, sends it input and
// returns its reply. The error says why there is no reply: an error
// matching environment.ErrNamespaceDenied when the plugin imports what
// plugins may not (it never ran); the process's exit reason when it
// ended (*runtime.FuelError, *runtime.TrapError, *runtime.MemoryLimitError,
// ...); ErrTimeout; or ErrNoReply.
//
// The call is Erlang's: a Go-native process monitors the plugin, sends it
// the input under a fresh tag and waits for whichever comes first, the
// reply or the plugin's end. Mailboxes keep order, so a reply the plugin
// sent before it ended is never mistaken for a failure.
func (h *Host) Call(ctx context.Context, plugin *runtime.Module, input []byte) ([]byte, error) {
	p, err := h.env.Spawn(ctx, plugin, "run")
	if err != nil {
		return nil, err
	}
	// Whatever happens, the plugin's process is gone when Call returns.
	defer func() {
		p.Kill()
		p.Wait(context.Background())
	}()

	var (
		output  []byte
		callErr error
		settled bool // the caller got a reply or an answer for its absence
	)
	caller, err := h.rt.Environment().SpawnGo(ctx, "plugin-call", func(ctx context.Context, self *runtime.Self) error {
		ctx, cancel := context.WithTimeout(ctx, h.timeout)
		defer cancel()
		if _, err := self.Monitor(p.ID()); err != nil {
			callErr, settled = err, true
			return nil
		}
		tag := runtime.UniqueTag()
		// A plugin that has already ended is reported by its DOWN message.
		_ = self.Send(p.ID(), runtime.Message{Tag: tag, Data: input})
		m, err := self.Receive(ctx, tag, runtime.TagDown)
		switch {
		case errors.Is(err, context.DeadlineExceeded):
			callErr, settled = fmt.Errorf("%w after %v", ErrTimeout, h.timeout), true
		case err != nil:
			// Killed: Call's ctx ended.
		case m.Tag == runtime.TagDown:
			// The reason is NoProc if the plugin ended before the monitor
			// began; its own reason says more.
			<-p.Done()
			callErr, settled = p.Reason(), true
			if p.Reason().Normal() {
				callErr = ErrNoReply
			}
		default:
			output, settled = m.Data, true
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	stop := context.AfterFunc(ctx, caller.Kill)
	defer stop()
	<-caller.Done()
	if !settled {
		return nil, ctx.Err()
	}
	return output, callErr
}

// Describe says what a Call's error means, in a line.
func Describe(output []byte, err error) string {
	var (
		fuel *runtime.FuelError
		mem  *runtime.MemoryLimitError
		trap *runtime.TrapError
	)
	switch {
	case err == nil:
		return fmt.Sprintf("ok: %q", output)
	case errors.Is(err, environment.ErrNamespaceDenied):
		return fmt.Sprintf("refused at spawn: %v", err)
	case errors.As(err, &fuel):
		return fmt.Sprintf("out of fuel (limit %d), process ended", fuel.Limit)
	case errors.Is(err, runtime.ErrMemoryLimit) && errors.As(err, &mem):
		return fmt.Sprintf("memory limit (%d of %d bytes), process ended; then: %v", mem.Used, mem.Limit, mem.Cause)
	case errors.As(err, &trap):
		return fmt.Sprintf("trapped (%v), process ended: %v", trap.Code, trap)
	case errors.Is(err, ErrTimeout):
		return fmt.Sprintf("%v, process killed", err)
	default:
		return fmt.Sprintf("failed: %v", err)
	}
}

func main() {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := run(ctx, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "plugin:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, out io.Writer) error {
	// Plugin failures come back as errors from Call; keep the runtime's
	// failure log quiet. Reserve address space for each plugin's memory to
	// grow into, so growing does not copy it (docs/why.md).
	rt, err := runtime.New(
		runtime.WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil))),
		runtime.WithMemoryReserve(limits.MaxMemory),
	)
	if err != nil {
		return err
	}
	defer rt.Close(ctx)

	host, err := NewHost(rt, limits, time.Second)
	if err != nil {
		return err
	}
	loaded := map[string]*runtime.Module{}
	for _, name := range []string{"upper", "spin", "crash", "bomb", "hang", "snoop"} {
		wasm, err := plugins.ReadFile("plugins/" + name + ".wasm")
		if err != nil {
			return err
		}
		if loaded[name], err = host.Load(ctx, name, wasm); err != nil {
			return err
		}
	}

	input := []byte("hello, plugins")
	// The good plugin first and last: the bad ones in between change
	// nothing for it, or for the host.
	for _, name := range []string{"upper", "spin", "crash", "bomb", "hang", "snoop", "upper"} {
		output, err := host.Call(ctx, loaded[name], input)
		fmt.Fprintf(out, "%-6s %s\n", name, Describe(output, err))
	}
	fmt.Fprintf(out, "host still up; processes alive: %d\n", rt.NumProcesses())
	return rt.Close(ctx)
}
