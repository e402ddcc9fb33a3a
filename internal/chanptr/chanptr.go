// Package chanptr holds a chan struct{} that is made late, in an atomic
// pointer. atomic.Pointer cannot hold a channel, and a *chan would cost an
// allocation of its own; a channel is itself a pointer (to the runtime's
// hchan), which is what Pointer stores.
package chanptr

import (
	"sync/atomic"
	"unsafe"
)

// hchan stands for what a chan struct{} points to.
type hchan struct{}

// Pointer is an atomic chan struct{}; its zero value holds nil.
type Pointer struct{ p atomic.Pointer[hchan] }

// Load returns the channel, or nil.
func (x *Pointer) Load() chan struct{} { return fromPointer(x.p.Load()) }

// Store sets the channel.
func (x *Pointer) Store(c chan struct{}) { x.p.Store(toPointer(c)) }

// CompareAndSwap sets the channel to new if it is old.
func (x *Pointer) CompareAndSwap(old, new chan struct{}) bool {
	return x.p.CompareAndSwap(toPointer(old), toPointer(new))
}

func toPointer(c chan struct{}) *hchan { return *(**hchan)(unsafe.Pointer(&c)) }

func fromPointer(p *hchan) chan struct{} { return *(*chan struct{})(unsafe.Pointer(&p)) }
