//go:build linux && (amd64 || arm64) && cgo

package wasm

// #include <stdlib.h>
// #include "shim.h"
import "C"

import (
	"errors"
	"math"
	"sync"
	"sync/atomic"
	"unsafe"
)

// ProcessCost is what a live process is charged besides its memory, tables
// and message buffers: its store, instance, fiber stack pages and
// goroutine, about 25 KiB parked (docs/limits.md), rounded up. It equals
// shim.h's WARD_PROCESS_COST.
const ProcessCost = 32 << 10

// ErrBudget is wrapped by NewProc's error when the process's tables do not
// fit its budget.
var ErrBudget = errors.New("the environment's MaxTotalMemory is used up")

// Budget bounds the linear memory and tables of a group of processes
// together (an environment and its children). It lives in C, because the
// memory creator charges it from wasmtime's fibers, where no Go may run.
type Budget struct {
	c    *C.ward_budget_t
	once sync.Once
}

// NewBudget makes a budget of max bytes below parent (nil for a root).
// Charges to it are charges to parent too.
func NewBudget(parent *Budget, max uint64) *Budget {
	var pc *C.ward_budget_t
	if parent != nil {
		pc = parent.c
	}
	c := C.ward_budget_new(pc, C.int64_t(min(max, math.MaxInt64)))
	if c == nil {
		panic("ward: out of memory allocating a memory budget")
	}
	return &Budget{c: c}
}

// Used reports the bytes charged to the budget: its processes' and its
// children's.
func (b *Budget) Used() uint64 {
	return uint64(atomic.LoadInt64((*int64)(unsafe.Pointer(&b.c.used))))
}

// Release drops the caller's reference. The budget is freed once the
// memories and processes charged to it, and its children, are gone too.
func (b *Budget) Release() { b.once.Do(func() { C.ward_budget_unref(b.c) }) }

// Take charges n bytes to the budget and every budget above it, or to
// none, and reports whether they fit. Go charges what it holds for a
// process (queued messages, timers, links) here, C what wasmtime does
// (memories, tables, message buffers), to the same counters.
func (b *Budget) Take(n int64) bool {
	if n <= 0 {
		return true
	}
	for x := b.c; x != nil; x = x.parent {
		used := (*int64)(unsafe.Pointer(&x.used))
		for {
			cur := atomic.LoadInt64(used)
			if cur > int64(x.max)-n {
				for y := b.c; y != x; y = y.parent {
					atomic.AddInt64((*int64)(unsafe.Pointer(&y.used)), -n)
				}
				return false
			}
			if atomic.CompareAndSwapInt64(used, cur, cur+n) {
				break
			}
		}
	}
	return true
}

// Give returns n bytes that Take charged.
func (b *Budget) Give(n int64) {
	if n <= 0 {
		return
	}
	for x := b.c; x != nil; x = x.parent {
		atomic.AddInt64((*int64)(unsafe.Pointer(&x.used)), -n)
	}
}

// Force charges n bytes whether or not they fit, for what must not be
// refused and is bounded otherwise (a process's one pending request).
func (b *Budget) Force(n int64) {
	for x := b.c; x != nil; x = x.parent {
		atomic.AddInt64((*int64)(unsafe.Pointer(&x.used)), n)
	}
}

// TrimHeap returns the C heap's free memory to the OS (malloc_trim), as
// closing an engine does. For measurements: what the allocator keeps for
// reuse is not memory anything holds.
func TrimHeap() { C.ward_trim() }
