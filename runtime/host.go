package runtime

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/wardrt/ward/internal/abi"
	"github.com/wardrt/ward/internal/wasm"
	"github.com/wardrt/ward/mailbox"
)

// hostFunc serves one Go host call while the guest is parked. It completes
// the call with wp.Return or wp.Trap, or returns false if the process was
// killed meanwhile.
type hostFunc func(p *Process, wp *wasm.Proc) bool

// goHost holds the Go implementation of every abi.Funcs entry whose Impl is
// abi.Go; TestEveryGoHostFuncHasAHandler keeps it complete.
var goHost map[string]hostFunc

// hostByID indexes goHost by abi.Funcs position, the id the shim reports.
var hostByID []hostFunc

// init breaks the cycle spawn -> run -> serve -> hostByID -> spawn.
func init() {
	goHost = map[string]hostFunc{
		abi.NamespaceProcess + ".spawn":        hostSpawn,
		abi.NamespaceProcess + ".spawn_link":   hostSpawnLink,
		abi.NamespaceProcess + ".sleep_ms":     hostSleep,
		abi.NamespaceProcess + ".link":         hostLink,
		abi.NamespaceProcess + ".unlink":       hostUnlink,
		abi.NamespaceProcess + ".trap_exit":    hostTrapExit,
		abi.NamespaceProcess + ".monitor":      hostMonitor,
		abi.NamespaceProcess + ".demonitor":    hostDemonitor,
		abi.NamespaceProcess + ".kill":         hostKill,
		abi.NamespaceProcess + ".exists":       hostExists,
		abi.NamespaceProcess + ".upgrade":      hostUpgrade,
		abi.NamespaceMessage + ".send":         hostSend,
		abi.NamespaceMessage + ".receive":      hostReceive,
		abi.NamespaceMessage + ".send_receive": hostSendReceive,
		abi.NamespaceMessage + ".send_after":   hostSendAfter,
		abi.NamespaceMessage + ".cancel_timer": hostCancelTimer,
	}
	hostByID = make([]hostFunc, len(abi.Funcs))
	for i, f := range abi.Funcs {
		hostByID[i] = goHost[f.Namespace+"."+f.Name]
	}
}

func (p *Process) serve(wp *wasm.Proc) bool {
	id := wp.HostID()
	if id >= wasm.WASIBase {
		return p.serveWASI(wp, id-wasm.WASIBase)
	}
	if ext := id - len(hostByID); ext >= 0 && ext < len(p.env.rt.extHandlers) {
		return p.serveExternal(wp, &p.env.rt.extHandlers[ext]) // by pointer: 88 bytes by value would sit in serve's frame
	}
	if id < 0 || id >= len(hostByID) || hostByID[id] == nil {
		noImplementation(wp, id)
		return true
	}
	if perm := abi.Funcs[id].Permission; perm != abi.PermNone && !p.env.permits(perm) {
		refusePermission(wp)
		return true
	}
	return hostByID[id](p, wp)
}

// noImplementation traps a call of a host function ward does not serve.
// Out of line: formatting in serve would enlarge its frame, which sits
// under every parked host call, past the quarter of a 4 KiB goroutine
// stack under which the GC shrinks it to 2 KiB (see Process.start).
//
//go:noinline
func noImplementation(wp *wasm.Proc, id int) {
	wp.Trap(fmt.Sprintf("ward: host function %d has no implementation", id))
}

// refusePermission answers a call the environment does not permit; out
// of line for the reason noImplementation is.
//
//go:noinline
func refusePermission(wp *wasm.Proc) {
	wp.Return(abi.ErrPermission) // every function needing a permission returns a status
}

// calledName is the namespace and name of the ward host function wp is
// calling, for trap messages: one handler may serve several (spawn and
// spawn_link; receive and send_receive).
func calledName(wp *wasm.Proc) string {
	if id := wp.HostID(); id >= 0 && id < len(abi.Funcs) {
		return abi.Funcs[id].Namespace + "." + abi.Funcs[id].Name
	}
	return "ward"
}

// guestBytes returns mem[ptr:ptr+n] or false when any of it is outside
// memory. ptr and n arrive as sign-extended i32s; they are unsigned.
func guestBytes(mem []byte, ptr, n int64) ([]byte, bool) {
	start, size := uint64(uint32(ptr)), uint64(uint32(n))
	if start+size > uint64(len(mem)) {
		return nil, false
	}
	return mem[start : start+size], true
}

// releaseStackMillis is the shortest sleep that releases the sleeper's
// fiber stack page (wasm.Proc.ReleaseStack), for its 1-2 KiB of frames
// on the C heap instead of a 4 KiB page. The release costs a copy and a
// madvise, and the wake a page fault: a few µs on most machines, but up
// to 250 µs on a VM whose page faults are slow (the one docs/benchmarks.md
// measures on), which a sleep of a second or more makes small.
const releaseStackMillis = 1000

func hostSleep(p *Process, wp *wasm.Proc) bool {
	ms := max(wp.HostArg(0), 0)
	if ms == 0 {
		// A yield: the poll loop queues the process behind any other
		// waiting for a run slot. No timer, no park.
		wp.Return()
		return !p.killed.Load()
	}
	ms = min(ms, math.MaxInt64/int64(time.Millisecond))
	t := time.NewTimer(time.Duration(ms) * time.Millisecond)
	// Parked without a run slot. No closure or defer here: the frames
	// under a parked select decide whether the GC can shrink this
	// goroutine's stack to 2 KiB (see Process.start).
	wp.ReleaseInbox() // a sleeping process keeps no empty inbox either
	if ms >= releaseStackMillis {
		wp.ReleaseStack()
	}
	r := p.env.rt
	r.releaseRun()
	woke, alive := false, !p.killed.Load()
	for alive && !woke {
		// A kill wakes the mailbox's Notify; so does any message, after
		// which the sleep goes on.
		select {
		case <-t.C:
			woke = true
		case _, open := <-p.mb.Notify():
			alive = open && !p.killed.Load()
		}
	}
	t.Stop()
	r.acquireRun()
	if !woke {
		return false
	}
	wp.FreshSlice()
	wp.Return()
	return true
}

func hostSpawn(p *Process, wp *wasm.Proc) bool     { return spawnFromGuest(p, wp, false) }
func hostSpawnLink(p *Process, wp *wasm.Proc) bool { return spawnFromGuest(p, wp, true) }

func spawnFromGuest(p *Process, wp *wasm.Proc, link bool) bool {
	mem := wp.Memory()
	name, ok1 := guestBytes(mem, wp.HostArg(0), wp.HostArg(1))
	count := uint32(wp.HostArg(3))
	idOut, ok3 := guestBytes(mem, wp.HostArg(4), 8)
	if !ok1 || !ok3 {
		wp.Trap(calledName(wp) + ": entry name or id pointer outside the caller's memory")
		return true
	}
	if len(name) > abi.MaxNameLen {
		wp.Return(abi.ErrInvalid)
		return true
	}
	params, ok := spawnParams(wp, wp.HostArg(2), count)
	if !ok {
		return true
	}
	child, err := p.env.spawn(p.module(), string(name), params, p, link)
	if err != nil {
		wp.Return(statusOf(err))
		return true
	}
	binary.LittleEndian.PutUint64(idOut, uint64(child.id))
	wp.Return(abi.OK)
	return true
}

// spawnParams reads count spawn parameter records at ptr; false means the
// call has been completed (ErrInvalid, or a trap for records outside
// memory).
func spawnParams(wp *wasm.Proc, ptr int64, count uint32) ([]Value, bool) {
	if count > abi.MaxSpawnParams {
		wp.Return(abi.ErrInvalid)
		return nil, false
	}
	recs, ok := guestBytes(wp.Memory(), ptr, int64(count)*abi.SpawnParamSize)
	if !ok {
		wp.Trap(calledName(wp) + ": params outside the caller's memory")
		return nil, false
	}
	params, ok := decodeSpawnParams(recs)
	if !ok {
		wp.Return(abi.ErrInvalid)
	}
	return params, ok
}

// decodeSpawnParams decodes spawn parameter records; false for a type
// code it does not know.
func decodeSpawnParams(recs []byte) ([]Value, bool) {
	params := make([]Value, len(recs)/abi.SpawnParamSize)
	for i := range params {
		rec := recs[i*abi.SpawnParamSize:]
		v := int64(binary.LittleEndian.Uint64(rec[8:16]))
		switch binary.LittleEndian.Uint32(rec[0:4]) {
		case uint32(abi.I32):
			params[i] = I32(int32(v))
		case uint32(abi.I64):
			params[i] = I64(v)
		default:
			return nil, false
		}
	}
	return params, true
}

// statusOf maps a spawn error to the status a guest sees.
func statusOf(err error) int64 {
	switch {
	case errors.Is(err, ErrProcessLimit):
		return abi.ErrLimit
	case errors.Is(err, ErrNoEntry):
		return abi.ErrNotFound
	case errors.Is(err, ErrBadParams):
		return abi.ErrInvalid
	case errors.Is(err, ErrClosed), errors.Is(err, ErrEnvironmentClosed):
		return abi.ErrClosed
	case errors.Is(err, ErrNoProcess):
		return abi.ErrNotFound
	case errors.Is(err, mailbox.ErrFull), errors.Is(err, ErrTooManyTimers),
		errors.Is(err, ErrTooManyLinks), errors.Is(err, ErrTooManyMonitors):
		return abi.ErrLimit
	case errors.Is(err, ErrReservedTag):
		return abi.ErrInvalid
	}
	return abi.ErrPermission
}
