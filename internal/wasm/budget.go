package wasm

// #include <stdlib.h>
// #include "shim.h"
import "C"

import (
	"errors"
	"math"
	"sync"
)

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
func (b *Budget) Used() uint64 { return uint64(C.ward_budget_used(b.c)) }

// Release drops the caller's reference. The budget is freed once the
// memories and processes charged to it, and its children, are gone too.
func (b *Budget) Release() { b.once.Do(func() { C.ward_budget_unref(b.c) }) }
