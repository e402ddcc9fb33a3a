package runtime

import (
	"encoding/binary"
	"errors"

	"github.com/wardrt/ward/internal/abi"
	"github.com/wardrt/ward/internal/wasm"
	"github.com/wardrt/ward/registry"
)

// Guest host functions of the ward_registry namespace: names in the
// caller's own environment.

// guestStrings reads pairs of (ptr, len) arguments starting at argument
// first; false means a range is outside memory or too long, and the call
// has been completed.
func guestStrings(wp *wasm.Proc, fn string, first, n int) ([]string, bool) {
	mem := wp.Memory()
	out := make([]string, n)
	for i := range out {
		b, ok := guestBytes(mem, wp.HostArg(first+2*i), wp.HostArg(first+2*i+1))
		if !ok {
			wp.Trap(fn + ": string outside the caller's memory")
			return nil, false
		}
		if len(b) > abi.MaxNameLen {
			wp.Return(abi.ErrInvalid)
			return nil, false
		}
		out[i] = string(b)
	}
	return out, true
}

func registryStatus(err error) int64 {
	switch {
	case err == nil:
		return abi.OK
	case errors.Is(err, registry.ErrTaken):
		return abi.ErrTaken
	case errors.Is(err, registry.ErrNotFound):
		return abi.ErrNotFound
	case errors.Is(err, registry.ErrBadName), errors.Is(err, registry.ErrBadVersion):
		return abi.ErrInvalid
	case errors.Is(err, ErrTooManyNames):
		return abi.ErrLimit
	}
	return statusOf(err)
}

func hostRegister(p *Process, wp *wasm.Proc) bool {
	s, ok := guestStrings(wp, "ward_registry.register", 0, 2)
	if ok {
		wp.Return(registryStatus(p.env.Register(s[0], s[1], p)))
	}
	return true
}

func hostUnregister(p *Process, wp *wasm.Proc) bool {
	s, ok := guestStrings(wp, "ward_registry.unregister", 0, 2)
	if ok {
		wp.Return(registryStatus(p.env.Unregister(s[0], s[1])))
	}
	return true
}

func hostLookup(p *Process, wp *wasm.Proc) bool {
	idOut, okID := guestBytes(wp.Memory(), wp.HostArg(4), 8)
	if !okID {
		wp.Trap("ward_registry.lookup: id pointer outside the caller's memory")
		return true
	}
	s, ok := guestStrings(wp, "ward_registry.lookup", 0, 2)
	if !ok {
		return true
	}
	q, _, err := p.env.Lookup(s[0], s[1])
	if err == nil {
		binary.LittleEndian.PutUint64(idOut, uint64(q.id))
	}
	wp.Return(registryStatus(err))
	return true
}

func hostGetOrSpawn(p *Process, wp *wasm.Proc) bool {
	idOut, okID := guestBytes(wp.Memory(), wp.HostArg(6), 8)
	if !okID {
		wp.Trap("ward_registry.get_or_spawn: id pointer outside the caller's memory")
		return true
	}
	s, ok := guestStrings(wp, "ward_registry.get_or_spawn", 0, 3)
	if !ok {
		return true
	}
	ctx := p.hostContext()
	var q *Process
	var err error
	p.unslotted(func() { // may wait for another caller's spawn
		q, _, err = p.env.getOrSpawn(ctx, s[0], s[1], p.module(), s[2], nil, p.id)
	})
	if p.killed.Load() {
		return false
	}
	if err == nil {
		binary.LittleEndian.PutUint64(idOut, uint64(q.id))
	}
	wp.Return(registryStatus(err))
	return true
}
