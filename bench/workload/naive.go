package workload

import (
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/bytecodealliance/wasmtime-go/v25"
)

// Naive is what a Go program gets from wasmtime-go used plainly: the
// default (synchronous) engine, a Store and an instance per process, a
// goroutine per process calling Func.Call, and host functions written with
// Linker.FuncWrap. A host function that waits blocks inside the cgo
// callback, so a waiting process pins its OS thread.
type Naive struct {
	engine  *wasmtime.Engine
	linker  *wasmtime.Linker
	trivial *wasmtime.Module
	handler *wasmtime.Module
	guest   *wasmtime.Module

	// procs maps a store's context to its process, for host functions
	// that need to know their caller.
	procs sync.Map // uintptr -> *naiveProc
	// Parked counts processes blocked in recv.
	Parked atomic.Int64
}

type naiveProc struct {
	in   chan int64 // this process's mailbox
	peer chan int64 // where send goes
}

// NewNaive compiles the guests on a default engine.
func NewNaive() (*Naive, error) {
	w := &Naive{engine: wasmtime.NewEngine()}
	w.linker = wasmtime.NewLinker(w.engine)
	l := w.linker
	err := errors.Join(
		l.FuncWrap("env", "host", func() int64 { return 1 }),
		l.FuncWrap("env", "count", func() int64 { return 0 }),
		l.FuncWrap("env", "recv", func(c *wasmtime.Caller) int64 {
			p := w.procOf(c)
			w.Parked.Add(1)
			v := <-p.in
			w.Parked.Add(-1)
			return v
		}),
		l.FuncWrap("env", "send", func(c *wasmtime.Caller, v int64) {
			w.procOf(c).peer <- v
		}),
	)
	if err != nil {
		return nil, err
	}
	guest, err := peerWasm("env")
	if err != nil {
		return nil, err
	}
	for _, m := range []struct {
		dst **wasmtime.Module
		wat string
		bin []byte
	}{
		{&w.trivial, TrivialWAT, nil},
		{&w.handler, HandlerWAT, nil},
		{&w.guest, "", guest},
	} {
		b := m.bin
		if b == nil {
			if b, err = wasmtime.Wat2Wasm(m.wat); err != nil {
				return nil, err
			}
		}
		if *m.dst, err = wasmtime.NewModule(w.engine, b); err != nil {
			return nil, err
		}
	}
	return w, nil
}

func ctxKey(st *wasmtime.Store) uintptr    { return uintptr(unsafe.Pointer(st.Context())) }
func callerKey(c *wasmtime.Caller) uintptr { return uintptr(unsafe.Pointer(c.Context())) }
func (w *Naive) procOf(c *wasmtime.Caller) *naiveProc {
	v, _ := w.procs.Load(callerKey(c))
	return v.(*naiveProc)
}

// call instantiates m in a fresh store, calls entry with args and closes
// the store: one process from start to end.
func (w *Naive) call(m *wasmtime.Module, p *naiveProc, entry string, args ...any) error {
	st := wasmtime.NewStore(w.engine)
	defer st.Close()
	if p != nil {
		w.procs.Store(ctxKey(st), p)
		defer w.procs.Delete(ctxKey(st))
	}
	inst, err := w.linker.Instantiate(st, m)
	if err != nil {
		return err
	}
	f := inst.GetFunc(st, entry)
	if f == nil {
		return fmt.Errorf("no export %q", entry)
	}
	_, err = f.Call(st, args...)
	return err
}

// SpawnWait runs a trivial process on a new goroutine and waits for it.
func (w *Naive) SpawnWait() error {
	return OnGoroutine(func() error { return w.call(w.trivial, nil, "run") })
}

// Handle runs the per-request handler in a fresh instance on the calling
// goroutine.
func (w *Naive) Handle() error { return w.call(w.handler, nil, "handle", int64(HandlerN)) }

// HostCall times n calls of a FuncWrap host function () -> i64, minus an
// empty run, like Ward.HostCallC.
func (w *Naive) HostCall(n int) (time.Duration, error) { return timeHostLoop(w.run, n) }

// PingPong times n round trips between two processes, each blocking in a
// FuncWrap callback on a Go channel.
func (w *Naive) PingPong(n int) (time.Duration, error) { return timePingPong(w.run, n) }

// OneToOne times n messages from one process to another through a
// buffered channel (1024) that stands in for a mailbox.
func (w *Naive) OneToOne(n int) (time.Duration, error) { return timeOneToOne(w.run, n) }

// run runs the guest module as one process; see guestRun.
func (w *Naive) run(p *naiveProc, entry string, args ...int64) error {
	a := make([]any, len(args))
	for i, v := range args {
		a[i] = v
	}
	return w.call(w.guest, p, entry, a...)
}

// Park starts n processes that block in recv and returns once all of them
// are blocked. Each holds an OS thread.
func (w *Naive) Park(n int) error {
	errs := make(chan error, n)
	for range n {
		p := &naiveProc{in: make(chan int64)}
		go func() { errs <- w.call(w.guest, p, "park") }()
	}
	return waitParked(&w.Parked, n, errs)
}

// waitParked waits until parked reaches n, or a process ends.
func waitParked(parked *atomic.Int64, n int, ended <-chan error) error {
	deadline := time.Now().Add(5 * time.Minute)
	for parked.Load() < int64(n) {
		select {
		case err := <-ended:
			return fmt.Errorf("a process ended with %d of %d parked: %v", parked.Load(), n, err)
		case <-time.After(5 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("only %d of %d processes parked after 5 minutes", parked.Load(), n)
		}
	}
	return nil
}
