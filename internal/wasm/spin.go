//go:build linux && (amd64 || arm64) && cgo

package wasm

// #include <stdlib.h>
// #include "shim.h"
import "C"

import (
	goruntime "runtime"
	"sync/atomic"
	"time"
	"unsafe"
)

// RunGate holds the runtime's run semaphore (runtime/runslots.go) in C
// memory, where a receive spinning in C reads it (shim.c, "Spinning
// receives"): the spin stops when a process waits for a run slot, and
// when no other process holds one. Its memory is freed once neither the
// engine nor the semaphore can reach it.
type RunGate struct {
	c *C.ward_run_gate_t
}

func newRunGate(slots int) *RunGate {
	c := (*C.ward_run_gate_t)(C.calloc(1, C.size_t(unsafe.Sizeof(C.ward_run_gate_t{}))))
	if c == nil {
		return nil
	}
	c.slots = C.int64_t(slots)
	g := &RunGate{c: c}
	goruntime.AddCleanup(g, func(c *C.ward_run_gate_t) { C.free(unsafe.Pointer(c)) }, c)
	return g
}

// Free returns the semaphore's count: free slots, or minus the waiters.
// The semaphore updates it only atomically; keep g reachable while using
// it.
func (g *RunGate) Free() *atomic.Int64 { return (*atomic.Int64)(unsafe.Pointer(&g.c.free)) }

// SpinOff keeps the process's receives from spinning while set: for a
// borrower running it, which is the sender the spin would wait for.
func (p *Proc) SpinOff(off bool) {
	if off {
		p.c.spin_off = 1
	} else {
		p.c.spin_off = 0
	}
}

// ObserveSpins is for tests. It sets how long a receive spins at most
// (shim.c, "Spinning receives"), returning the previous bound, and counts
// spins from then on: now is how many are under way, woken how many a
// mailbox change or wake (a message from Go, a kill) has ended. A bound
// of 0 leaves it as it is.
func ObserveSpins(limit time.Duration) (old time.Duration, now, woken int64) {
	var n, w C.int64_t
	ns := C.ward_spin_observe(C.int64_t(limit), &n, &w)
	return time.Duration(ns), int64(n), int64(w)
}
