package workload

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	extism "github.com/extism/go-sdk"
)

// Extism runs the instantiate and call workloads through the Extism Go SDK
// (on wazero): a CompiledPlugin per guest, a plugin Instance per process,
// Plugin.Call, host functions made with NewHostFunctionWithStack. Entries
// take no parameters in Extism, so the host-call loop asks the host for
// its count.
type Extism struct {
	trivial *extism.CompiledPlugin
	handler *extism.CompiledPlugin
	guest   *extism.CompiledPlugin
	count   atomic.Int64
}

// NewExtism compiles the guests as Extism plugins.
func NewExtism() (*Extism, error) {
	ctx := context.Background()
	w := &Extism{}
	i64 := []extism.ValueType{extism.ValueTypeI64}
	funcs := []extism.HostFunction{
		extism.NewHostFunctionWithStack("host", func(_ context.Context, _ *extism.CurrentPlugin, stack []uint64) { stack[0] = 1 }, nil, i64),
		extism.NewHostFunctionWithStack("count", func(_ context.Context, _ *extism.CurrentPlugin, stack []uint64) {
			stack[0] = uint64(w.count.Load())
		}, nil, i64),
		extism.NewHostFunctionWithStack("recv", func(context.Context, *extism.CurrentPlugin, []uint64) {
			panic("recv is not used with Extism")
		}, nil, i64),
		extism.NewHostFunctionWithStack("send", func(context.Context, *extism.CurrentPlugin, []uint64) {
			panic("send is not used with Extism")
		}, i64, nil),
	}
	guest, err := peerWasm("extism:host/user")
	if err != nil {
		return nil, err
	}
	trivial, err1 := wat2wasm(TrivialWAT)
	handler, err2 := wat2wasm(HandlerWAT)
	if err := errors.Join(err1, err2); err != nil {
		return nil, err
	}
	for _, m := range []struct {
		dst   **extism.CompiledPlugin
		bin   []byte
		funcs []extism.HostFunction
	}{{&w.trivial, trivial, nil}, {&w.handler, handler, nil}, {&w.guest, guest, funcs}} {
		manifest := extism.Manifest{Wasm: []extism.Wasm{extism.WasmData{Data: m.bin}}}
		if *m.dst, err = extism.NewCompiledPlugin(ctx, manifest, extism.PluginConfig{}, m.funcs); err != nil {
			return nil, err
		}
	}
	return w, nil
}

// Close closes the compiled plugins.
func (w *Extism) Close() error {
	ctx := context.Background()
	return errors.Join(w.trivial.Close(ctx), w.handler.Close(ctx), w.guest.Close(ctx))
}

// call makes a plugin instance, calls entry and closes the instance.
func (w *Extism) call(cp *extism.CompiledPlugin, entry string) error {
	ctx := context.Background()
	p, err := cp.Instance(ctx, extism.PluginInstanceConfig{})
	if err != nil {
		return err
	}
	defer p.Close(ctx)
	rc, _, err := p.CallWithContext(ctx, entry, nil)
	if err != nil {
		return err
	}
	if rc != 0 {
		return fmt.Errorf("%s returned %d", entry, rc)
	}
	return nil
}

// SpawnWait runs a trivial plugin instance on a new goroutine and waits
// for it.
func (w *Extism) SpawnWait() error {
	return OnGoroutine(func() error { return w.call(w.trivial, "run") })
}

// Handle runs the per-request handler in a fresh plugin instance on the
// calling goroutine.
func (w *Extism) Handle() error { return w.call(w.handler, "handle_fixed") }

// HostCall times n calls of a host function () -> i64, minus an empty
// run. Not safe for concurrent use.
func (w *Extism) HostCall(n int) (time.Duration, error) {
	w.count.Store(0)
	t0 := time.Now()
	if err := w.call(w.guest, "host_loop_counted"); err != nil {
		return 0, err
	}
	empty := time.Since(t0)
	w.count.Store(int64(n))
	t1 := time.Now()
	if err := w.call(w.guest, "host_loop_counted"); err != nil {
		return 0, err
	}
	return max(time.Since(t1)-empty, 0), nil
}
