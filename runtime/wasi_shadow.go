package runtime

import (
	"crypto/rand"
	"encoding/binary"
	"math"
	"time"

	"github.com/wardrt/ward/internal/wasm"
)

// ward's own WASI preview1 functions, defined in place of wasmtime's (the
// list and why: internal/wasm/wasi.go, docs/why.md). They return what
// wasmtime v25's crates/wasi/src/preview1.rs returns for the same
// arguments, with two differences a guest can only see through timing or
// memory: guest memory is checked before any host work sized by an
// argument, and waits park the process goroutine without a run slot, where
// Kill and Runtime.Close end them.

// WASI errno values (wasi_snapshot_preview1.witx).
const (
	wasiSuccess = 0
	wasiBadf    = 8
	wasiInval   = 28
	wasiNotsup  = 58
)

// wasiByID serves shadow i of wasm.WASIShadows; TestWASIShadowsServed keeps
// it complete.
var wasiByID = map[string]hostFunc{
	"poll_oneoff": wasiPollOneoff,
	"random_get":  wasiRandomGet,
	"fd_renumber": wasiFdRenumber,
}

var wasiHandlers = func() []hostFunc {
	h := make([]hostFunc, len(wasm.WASIShadows))
	for i, s := range wasm.WASIShadows {
		h[i] = wasiByID[s.Name]
	}
	return h
}()

func (p *Process) serveWASI(wp *wasm.Proc, i int) bool {
	if i >= len(wasiHandlers) || wasiHandlers[i] == nil {
		wp.Trap("ward: WASI shadow has no implementation")
		return true
	}
	return wasiHandlers[i](p, wp)
}

// wasiTrap traps as wasmtime does for a pointer WASI must dereference that
// is out of bounds or misaligned (wiggle's PtrOutOfBounds and
// PtrNotAligned become traps, not errnos).
func wasiTrap(wp *wasm.Proc, fn, what string) bool {
	wp.Trap("wasi_snapshot_preview1." + fn + ": " + what + " out of bounds or misaligned in the caller's memory")
	return true
}

// wasiElem returns element i of size bytes of the array at base, or false
// when it is not all inside mem or base is not aligned to align.
func wasiElem(mem []byte, base, i, size, align uint64) ([]byte, bool) {
	if base%align != 0 {
		return nil, false
	}
	start := base + i*size // base < 2^32, i < 2^32, size <= 48: no overflow
	if start+size > uint64(len(mem)) {
		return nil, false
	}
	return mem[start : start+size], true
}

// Subscription and event layouts (wasi_snapshot_preview1.witx): a
// subscription is 48 bytes, aligned 8: userdata u64 @0, tag u8 @8, then
// for a clock id u32 @16, timeout u64 @24, precision u64 @32, flags u16
// @40. An event is 32 bytes, aligned 8: userdata u64 @0, error u16 @8,
// type u8 @10, nbytes u64 @16, flags u16 @24.
const (
	subSize, eventSize = 48, 32
	subClock           = 0
	subFdRead          = 1
	subFdWrite         = 2
	clockRealtime      = 0
	clockMonotonic     = 1
	clockThreadCPU     = 3
	subAbstime         = 1
)

// never is a wait no deadline ends: wasmtime's Deadline::Never, for a
// timeout past what its clock can add.
const never = time.Duration(math.MaxInt64)

// pollSubs is one pass over the subscriptions: each is checked as
// wasmtime reads it, in order, and the wait until it is due is handed to
// each. It stops at the first
// subscription wasmtime would refuse: trap is set for a bad pointer, errno
// otherwise. Nothing here is sized by n: the subscriptions must lie in
// guest memory, which bounds the work.
//
// now is the time of the call; epoch, when the process's WASI context was
// made; preopens, whether the environment has any. pause is called every
// pollPause subscriptions; when it reports a kill, so does pollSubs.
func pollSubs(mem []byte, in uint64, n uint32, preopens bool, epoch, now time.Time, pause func() bool, each func(i uint32, userdata uint64, wait time.Duration, evtype byte)) (errno int64, trap, killed bool) {
	for i := range uint64(n) {
		if i%pollPause == pollPause-1 && !pause() {
			return 0, false, true
		}
		sub, ok := wasiElem(mem, in, i, subSize, 8)
		if !ok {
			return 0, true, false
		}
		userdata := binary.LittleEndian.Uint64(sub[0:])
		switch tag := sub[8]; tag {
		case subClock:
		case subFdRead, subFdWrite:
			// ward cannot see wasmtime's descriptor table, nor call
			// its poll_oneoff (docs/why.md), so it answers for what
			// it knows: stdin is closed and stdout and stderr accept
			// every write, so each is ready at once for what it
			// supports; without preopens no other descriptor exists.
			// With preopens, fds from 3 on may be files: ENOTSUP.
			fd := binary.LittleEndian.Uint32(sub[16:])
			switch {
			case fd == 0 && tag == subFdRead, (fd == 1 || fd == 2) && tag == subFdWrite:
				each(uint32(i), userdata, 0, tag)
				continue
			case fd > 2 && preopens:
				return wasiNotsup, false, false
			}
			return wasiBadf, false, false
		default:
			return wasiInval, false, false // wiggle's InvalidEnumValue
		}
		id := binary.LittleEndian.Uint32(sub[16:])
		timeout := binary.LittleEndian.Uint64(sub[24:])
		flags := binary.LittleEndian.Uint16(sub[40:])
		if id > clockThreadCPU || flags&^subAbstime != 0 {
			return wasiInval, false, false // InvalidEnumValue, InvalidFlagValue
		}
		abs := flags&subAbstime != 0
		switch {
		case id == clockMonotonic && abs:
			// wasmtime's monotonic clock counts from the WASI context's
			// creation; epoch is when ward created it.
			since := uint64(now.Sub(epoch))
			if timeout > since {
				timeout -= since
			} else {
				timeout = 0
			}
		case id == clockMonotonic, id == clockRealtime && !abs:
		case id == clockRealtime:
			// The deadline less now, as preview1 means it. wasmtime v25
			// computes now less the deadline, which wraps a future
			// deadline to a wait of centuries (fixed upstream in 47.0.0).
			if w := uint64(now.UnixNano()); timeout > w {
				timeout -= w
			} else {
				timeout = 0
			}
		default:
			return wasiInval, false, false // the CPU-time clocks
		}
		wait := never
		if timeout < uint64(never) {
			wait = time.Duration(timeout)
		}
		each(uint32(i), userdata, wait, subClock)
	}
	return wasiSuccess, false, false
}

// pollPause is how many subscriptions a pass reads between checks for a
// kill and turns given to other processes waiting for a run slot: a 4 GiB
// memory holds 89 million.
const pollPause = 1 << 16

// wasiPollOneoff is poll_oneoff(in, out, nsubscriptions, nevents_out): it
// waits, parked without a run slot, until the earliest subscription is
// due, then writes an event for every one due, in order.
func wasiPollOneoff(p *Process, wp *wasm.Proc) bool {
	const fn = "poll_oneoff"
	mem := wp.Memory()
	if mem == nil {
		wp.Trap("missing required memory export")
		return true
	}
	in, out := uint64(uint32(wp.HostArg(0))), uint64(uint32(wp.HostArg(1)))
	n, nevOut := uint32(wp.HostArg(2)), uint64(uint32(wp.HostArg(3)))
	if n == 0 {
		wp.Return(wasiInval) // "indefinite sleeping is not supported in preview1"
		return true
	}
	now := time.Now()
	first := never
	preopens := len(p.env.cfg.WASI.Dirs) > 0
	r := p.env.rt
	pause := func() bool {
		r.releaseRun()
		r.acquireRun()
		return !p.killed.Load()
	}
	errno, trap, killed := pollSubs(mem, in, n, preopens, wp.ClockEpoch(), now, pause, func(_ uint32, _ uint64, wait time.Duration, _ byte) {
		first = min(first, wait)
	})
	if killed {
		return false
	}
	if trap {
		return wasiTrap(wp, fn, "subscriptions")
	}
	if errno != wasiSuccess {
		wp.Return(errno)
		return true
	}
	if first > 0 {
		if !p.parkFor(wp, first) {
			return false
		}
	}
	elapsed := time.Since(now)
	var count uint64
	bad := false
	_, _, killed = pollSubs(mem, in, n, preopens, wp.ClockEpoch(), now, pause, func(_ uint32, userdata uint64, wait time.Duration, evtype byte) {
		if bad || wait > elapsed {
			return
		}
		ev, ok := wasiElem(mem, out, count, eventSize, 8)
		if !ok {
			bad = true
			return
		}
		binary.LittleEndian.PutUint64(ev[0:], userdata)
		binary.LittleEndian.PutUint16(ev[8:], wasiSuccess)
		ev[10] = evtype // eventtype: the subscription's tag
		nbytes := uint64(0)
		if evtype != subClock {
			nbytes = 1 // what wasmtime reports for stdio
		}
		binary.LittleEndian.PutUint64(ev[16:], nbytes)
		binary.LittleEndian.PutUint16(ev[24:], 0)
		count++
	})
	if killed {
		return false
	}
	if bad {
		return wasiTrap(wp, fn, "events")
	}
	nev, ok := wasiElem(mem, nevOut, 0, 4, 4)
	if !ok {
		return wasiTrap(wp, fn, "nevents")
	}
	binary.LittleEndian.PutUint32(nev, uint32(count))
	wp.Return(wasiSuccess)
	return true
}

// parkFor waits d (never: until killed) parked without a run slot, as
// sleep_ms does. It reports false when the process was killed meanwhile.
func (p *Process) parkFor(wp *wasm.Proc, d time.Duration) bool {
	var tc <-chan time.Time
	if d != never {
		t := time.NewTimer(d)
		defer t.Stop()
		tc = t.C
	}
	wp.ReleaseInbox()
	r := p.env.rt
	r.releaseRun()
	woke, alive := false, !p.killed.Load()
	for alive && !woke {
		// A kill wakes the mailbox's Notify; so does any message, after
		// which the wait goes on.
		select {
		case <-tc:
			woke = true
		case _, open := <-p.mb.Notify():
			alive = open && !p.killed.Load()
		}
	}
	r.acquireRun()
	if woke {
		wp.FreshSlice()
	}
	return woke
}

// randomChunk is how much random_get fills between checks for a kill and
// turns given to other processes waiting for a run slot.
const randomChunk = 1 << 20

// wasiRandomGet is random_get(buf, len): the range is checked first, then
// filled in place, a chunk at a time, never through a host buffer of the
// guest's size.
func wasiRandomGet(p *Process, wp *wasm.Proc) bool {
	mem := wp.Memory()
	if mem == nil {
		wp.Trap("missing required memory export")
		return true
	}
	if uint32(wp.HostArg(1)) == 0 {
		wp.Return(wasiSuccess) // as wiggle: an empty copy checks no pointer
		return true
	}
	buf, ok := guestBytes(mem, wp.HostArg(0), wp.HostArg(1))
	if !ok {
		return wasiTrap(wp, "random_get", "buffer")
	}
	r := p.env.rt
	for len(buf) > 0 {
		k := min(len(buf), randomChunk)
		rand.Read(buf[:k]) // never fails (Go 1.24)
		buf = buf[k:]
		if len(buf) > 0 {
			r.releaseRun()
			if p.killed.Load() {
				r.acquireRun()
				return false
			}
			r.acquireRun()
		}
	}
	wp.Return(wasiSuccess)
	return true
}

// wasiFdRenumber refuses fd_renumber(from, to) with ENOTSUP. wasmtime
// v25's can leave a descriptor number both in use and free, and the next
// path_open then panics the host (CVE-2025-53901, fixed upstream after
// v25), and ward cannot renumber wasmtime's descriptors itself. Nor could
// it keep stdout apart from a file renumbered onto fd 1.
func wasiFdRenumber(p *Process, wp *wasm.Proc) bool {
	wp.Return(wasiNotsup)
	return true
}
