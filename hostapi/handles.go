package hostapi

import (
	"errors"
	"fmt"
	"iter"
	"math"
)

// ErrHandleLimit is returned by Handles.Add when the table is full. Tell
// the guest with StatusLimit: it is the guest holding too much, not the
// host failing.
var ErrHandleLimit = errors.New("ward: too many handles")

// Handles is a table of a process's resources (sockets, statements),
// named by small positive int32s the guest passes back. Keep one in a
// module's per-process State: handles are then per process, and a number
// another process was given finds nothing, or the caller's own resource,
// never the other's. 0 and negative numbers are never handles, so a guest
// can use them as "none".
//
// A freed number is reused, the most recently freed first, as file
// descriptors are; a guest that uses a handle after removing it may reach
// its own newer resource, never another process's.
//
// A Handles is not safe for concurrent use: a module's state is used by
// one process's handlers at a time (Call.State).
type Handles[T any] struct {
	max   int
	slots []slot[T]
	free  []int32 // indexes of empty slots
	n     int
}

type slot[T any] struct {
	v    T
	used bool
}

// NewHandles returns an empty table that holds at most max handles. max is
// what bounds what a guest can make the host hold through the module: a
// guest that opens in a loop gets ErrHandleLimit, not the host's memory.
func NewHandles[T any](max int) *Handles[T] {
	return &Handles[T]{max: max}
}

// Add stores v and returns its handle, or an error wrapping ErrHandleLimit
// when the table holds its maximum already.
func (h *Handles[T]) Add(v T) (int32, error) {
	if h.n >= h.max || len(h.slots) == math.MaxInt32 && len(h.free) == 0 {
		return 0, fmt.Errorf("%w: %d open, at most %d", ErrHandleLimit, h.n, h.max)
	}
	h.n++
	if k := len(h.free); k > 0 {
		i := h.free[k-1]
		h.free = h.free[:k-1]
		h.slots[i] = slot[T]{v, true}
		return i + 1, nil
	}
	h.slots = append(h.slots, slot[T]{v, true})
	return int32(len(h.slots)), nil
}

// Get returns the value of handle hd; false if hd is not a handle of this
// table.
func (h *Handles[T]) Get(hd int32) (T, bool) {
	if hd < 1 || int(hd) > len(h.slots) || !h.slots[hd-1].used {
		var zero T
		return zero, false
	}
	return h.slots[hd-1].v, true
}

// Remove takes handle hd out of the table and returns its value, for the
// caller to close; false if hd is not a handle of this table.
func (h *Handles[T]) Remove(hd int32) (T, bool) {
	v, ok := h.Get(hd)
	if !ok {
		return v, false
	}
	h.slots[hd-1] = slot[T]{}
	h.free = append(h.free, hd-1)
	h.n--
	return v, true
}

// Len returns the number of handles in the table.
func (h *Handles[T]) Len() int { return h.n }

// All yields every handle and its value, in handle order.
func (h *Handles[T]) All() iter.Seq2[int32, T] {
	return func(yield func(int32, T) bool) {
		for i, s := range h.slots {
			if s.used && !yield(int32(i)+1, s.v) {
				return
			}
		}
	}
}

// Close removes every handle, calling release on each value, highest
// handle first (usually the newest first): what a State's Close does with its resources. The table
// is empty and usable afterwards.
func (h *Handles[T]) Close(release func(T)) {
	for i := len(h.slots) - 1; i >= 0; i-- {
		if s := h.slots[i]; s.used {
			h.slots[i] = slot[T]{}
			if release != nil {
				release(s.v)
			}
		}
	}
	h.slots, h.free, h.n = nil, nil, 0
}
