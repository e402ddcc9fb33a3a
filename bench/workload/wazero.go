package workload

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
)

// Wazero runs the peer workloads on wazero (pure Go, its compiler on
// amd64): a module instance per process, host functions from a host
// module built once, which find their process through the context. A host
// function that waits parks only its goroutine: there is no cgo.
type Wazero struct {
	rt      wazero.Runtime
	trivial wazero.CompiledModule
	handler wazero.CompiledModule
	guest   wazero.CompiledModule
	// Parked counts processes blocked in recv.
	Parked atomic.Int64
}

type wazeroProcKey struct{}

// NewWazero creates a runtime with the default configuration and compiles
// the guests.
func NewWazero() (*Wazero, error) {
	ctx := context.Background()
	w := &Wazero{rt: wazero.NewRuntime(ctx)}
	i64 := []api.ValueType{api.ValueTypeI64}
	procOf := func(ctx context.Context) *naiveProc { return ctx.Value(wazeroProcKey{}).(*naiveProc) }
	_, err := w.rt.NewHostModuleBuilder("env").
		NewFunctionBuilder().WithGoFunction(api.GoFunc(func(_ context.Context, stack []uint64) { stack[0] = 1 }), nil, i64).Export("host").
		NewFunctionBuilder().WithGoFunction(api.GoFunc(func(_ context.Context, stack []uint64) { stack[0] = 0 }), nil, i64).Export("count").
		NewFunctionBuilder().WithGoFunction(api.GoFunc(func(ctx context.Context, stack []uint64) {
		p := procOf(ctx)
		w.Parked.Add(1)
		v := <-p.in
		w.Parked.Add(-1)
		stack[0] = uint64(v)
	}), nil, i64).Export("recv").
		NewFunctionBuilder().WithGoFunction(api.GoFunc(func(ctx context.Context, stack []uint64) {
		procOf(ctx).peer <- int64(stack[0])
	}), i64, nil).Export("send").
		Instantiate(ctx)
	if err != nil {
		return nil, err
	}
	guest, err := peerWasm("env")
	if err != nil {
		return nil, err
	}
	trivial, err1 := wat2wasm(TrivialWAT)
	handler, err2 := wat2wasm(HandlerWAT)
	if err := errors.Join(err1, err2); err != nil {
		return nil, err
	}
	for _, m := range []struct {
		dst *wazero.CompiledModule
		bin []byte
	}{{&w.trivial, trivial}, {&w.handler, handler}, {&w.guest, guest}} {
		if *m.dst, err = w.rt.CompileModule(ctx, m.bin); err != nil {
			return nil, err
		}
	}
	return w, nil
}

// Close closes the runtime.
func (w *Wazero) Close() error { return w.rt.Close(context.Background()) }

// call instantiates m anonymously, calls entry and closes the instance.
func (w *Wazero) call(m wazero.CompiledModule, p *naiveProc, entry string, args ...uint64) error {
	ctx := context.Background()
	if p != nil {
		ctx = context.WithValue(ctx, wazeroProcKey{}, p)
	}
	mod, err := w.rt.InstantiateModule(ctx, m, wazero.NewModuleConfig().WithName(""))
	if err != nil {
		return err
	}
	defer mod.Close(ctx)
	f := mod.ExportedFunction(entry)
	if f == nil {
		return fmt.Errorf("no export %q", entry)
	}
	_, err = f.Call(ctx, args...)
	return err
}

// SpawnWait runs a trivial instance on a new goroutine and waits for it.
func (w *Wazero) SpawnWait() error {
	return OnGoroutine(func() error { return w.call(w.trivial, nil, "run") })
}

// Handle runs the per-request handler in a fresh instance on the calling
// goroutine.
func (w *Wazero) Handle() error { return w.call(w.handler, nil, "handle", HandlerN) }

// HostCall times n calls of a Go host function () -> i64, minus an empty
// run.
func (w *Wazero) HostCall(n int) (time.Duration, error) { return timeHostLoop(w.run, n) }

// PingPong times n round trips between two instances blocking in a host
// function on Go channels.
func (w *Wazero) PingPong(n int) (time.Duration, error) { return timePingPong(w.run, n) }

// OneToOne times n messages from one instance to another through a
// buffered channel (1024).
func (w *Wazero) OneToOne(n int) (time.Duration, error) { return timeOneToOne(w.run, n) }

// run runs the guest module as one instance; see guestRun.
func (w *Wazero) run(p *naiveProc, entry string, args ...int64) error {
	a := make([]uint64, len(args))
	for i, v := range args {
		a[i] = uint64(v)
	}
	return w.call(w.guest, p, entry, a...)
}

// Park starts n instances that block in recv and returns once all of them
// are blocked.
func (w *Wazero) Park(n int) error {
	errs := make(chan error, n)
	for range n {
		p := &naiveProc{in: make(chan int64)}
		go func() { errs <- w.call(w.guest, p, "park") }()
	}
	return waitParked(&w.Parked, n, errs)
}
