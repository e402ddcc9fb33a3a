package runtime

import (
	"sync/atomic"

	"github.com/wardrt/ward/internal/wasm"
)

// runSlots is the run semaphore: it bounds the process goroutines inside a
// poll to GOMAXPROCS. Every receive that waits releases and retakes a slot,
// so the uncontended path is one atomic add each way; a channel carries a
// slot from a releaser to a waiter only when someone waits.
type runSlots struct {
	// free is the number of free slots, or minus the number of waiters.
	// It is the engine's RunGate when there is one, in C memory: a
	// receive spinning in C stops when someone waits (shim.c, "Spinning
	// receives").
	free *atomic.Int64
	gate *wasm.RunGate // keeps free's memory alive
	// handoff carries slots to waiters. Its buffer never fills: a slot in
	// it is one a waiter owns but has not picked up yet, and there are at
	// most n slots.
	handoff chan struct{}
}

// newRunSlots makes n slots, counted in gate if it is not nil.
func newRunSlots(n int, gate *wasm.RunGate) *runSlots {
	s := &runSlots{handoff: make(chan struct{}, n), gate: gate}
	if gate != nil {
		s.free = gate.Free()
	} else {
		s.free = new(atomic.Int64)
	}
	s.free.Store(int64(n))
	return s
}

// acquire takes a slot, waiting if none is free. Waiters are served in
// about the order they came: the channel queues blocked receivers FIFO.
func (s *runSlots) acquire() {
	if s.free.Add(-1) < 0 {
		<-s.handoff
	}
}

// release gives the slot back, to a waiter if there is one.
func (s *runSlots) release() {
	if s.free.Add(1) <= 0 {
		s.handoff <- struct{}{}
	}
}

// tryAcquire takes a slot if one is free, without waiting.
func (s *runSlots) tryAcquire() bool {
	for {
		f := s.free.Load()
		if f <= 0 {
			return false
		}
		if s.free.CompareAndSwap(f, f-1) {
			return true
		}
	}
}
