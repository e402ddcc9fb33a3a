package guest

import (
	"structs"
	"time"
	"unsafe"

	"github.com/wardrt/ward/internal/abi"
)

// addr returns the linear-memory offset of p, for passing to a host
// function. Go's wasm heap does not move and nothing else runs while a host
// function runs, but a goroutine stack can move when it grows: so take
// addresses in the argument list of the host call itself, where no stack
// growth can come between. nosplit keeps addr itself from growing it.
//
//go:nosplit
func addr(p unsafe.Pointer) uint32 { return uint32(uintptr(p)) }

// addrStr returns the offset of s's bytes (0 when s is empty).
//
//go:nosplit
func addrStr(s string) uint32 { return addr(unsafe.Pointer(unsafe.StringData(s))) }

// addrBytes returns the offset of b's bytes (0 when b is nil).
//
//go:nosplit
func addrBytes(b []byte) uint32 { return addr(unsafe.Pointer(unsafe.SliceData(b))) }

// Self returns this process's id.
func Self() ProcessID { return ProcessID(wardSelf()) }

// Exit ends this process at once. Code 0 is a normal exit; any other code
// ends it abnormally (reason kind ReasonExitCode), which takes down linked
// processes that do not trap exits. Deferred functions do not run. Returning
// from the entry export is a normal exit too.
func Exit(code int32) {
	wardExit(code)
	panic("ward: exit returned") // unreachable: the host unwinds the process
}

// Sleep parks this process for d, rounded up to whole milliseconds, without
// holding a host thread. (time.Sleep works too, but blocks a host thread for
// its duration.)
func Sleep(d time.Duration) { wardSleepMs(millis(d)) }

// millis converts d to whole milliseconds, rounding up; negative stays
// negative (-1).
func millis(d time.Duration) int64 {
	if d < 0 {
		return -1
	}
	ms := d / time.Millisecond
	if d%time.Millisecond != 0 {
		ms++
	}
	return int64(ms)
}

// Value is a parameter of a spawned export, made with I32 or I64. Its
// layout is the ABI's spawn parameter record.
type Value struct {
	_    structs.HostLayout
	kind int32 // 0 i32, 1 i64
	_    int32
	bits int64
}

// Value must be the ABI's 16-byte record, its value at offset 8: these fail
// to compile otherwise.
var (
	_ [abi.SpawnParamSize - unsafe.Sizeof(Value{})]struct{}
	_ [unsafe.Sizeof(Value{}) - abi.SpawnParamSize]struct{}
	_ [unsafe.Offsetof(Value{}.bits) - 8]struct{}
	_ [8 - unsafe.Offsetof(Value{}.bits)]struct{}
)

// I32 makes an i32 parameter.
func I32(v int32) Value { return Value{kind: 0, bits: int64(v)} }

// I64 makes an i64 parameter.
func I64(v int64) Value { return Value{kind: 1, bits: v} }

// Spawn starts a new process running the export entry of this module with
// params, in this process's environment, and returns its id. The new
// process has its own instance and memory: a Go guest's runtime starts
// afresh in it (the module's _initialize runs first), so package variables
// are not shared. Errors: ErrNotFound when there is no such export,
// ErrInvalid when it does not take those params (or there are more than
// MaxSpawnParams, or the name is longer than MaxNameLen), ErrLimit at the
// environment's process limit, ErrPermission when it does not permit
// spawning.
func Spawn(entry string, params ...Value) (ProcessID, error) {
	return spawn(false, entry, params)
}

// SpawnLink is Spawn, and links the new process to this one before it runs,
// so neither can miss the other's end (see Link).
func SpawnLink(entry string, params ...Value) (ProcessID, error) {
	return spawn(true, entry, params)
}

func spawn(link bool, entry string, params []Value) (ProcessID, error) {
	if len(params) > MaxSpawnParams {
		return 0, fail(spawnOp(link, entry), abi.ErrInvalid)
	}
	var id uint64
	var st int32
	if link {
		st = wardSpawnLink(addrStr(entry), uint32(len(entry)),
			addr(unsafe.Pointer(unsafe.SliceData(params))), uint32(len(params)), addr(unsafe.Pointer(&id)))
	} else {
		st = wardSpawn(addrStr(entry), uint32(len(entry)),
			addr(unsafe.Pointer(unsafe.SliceData(params))), uint32(len(params)), addr(unsafe.Pointer(&id)))
	}
	if st != abi.OK {
		return 0, fail(spawnOp(link, entry), st)
	}
	return ProcessID(id), nil
}

func spawnOp(link bool, entry string) string {
	if link {
		return "spawn_link " + quote(entry)
	}
	return "spawn " + quote(entry)
}

// Link links this process and pid, both ways. When either ends abnormally
// the other ends with the same reason, unless it traps exits (TrapExit), in
// which case it gets a TagExit message instead. A normal end is not
// propagated. ErrNotFound when pid is not alive.
func Link(pid ProcessID) error {
	if st := wardLink(uint64(pid)); st != abi.OK {
		return fail("link "+pid.String(), st)
	}
	return nil
}

// Unlink removes the link between this process and pid, if any.
func Unlink(pid ProcessID) { wardUnlink(uint64(pid)) }

// TrapExit sets whether the ends of linked processes arrive as TagExit
// messages (see ParseExit) instead of ending this process. A kill is never
// trapped.
func TrapExit(on bool) {
	var v int32
	if on {
		v = 1
	}
	wardTrapExit(v)
}

// Monitor watches pid: when it ends, one TagDown message (see ParseDown)
// with the returned reference arrives; at once, with ReasonNoProc, if pid is
// not alive. Monitors stack: two calls give two messages. A monitor the
// runtime refuses (this process holds its environment's MaxMonitors, or
// its mailbox is full) watches nothing, and its reference is the negated
// status: int64(ref) < 0.
func Monitor(pid ProcessID) MonitorRef { return MonitorRef(wardMonitor(uint64(pid))) }

// Demonitor stops a monitor; its TagDown message will not arrive if it has
// not already (one already in the mailbox stays there).
func Demonitor(ref MonitorRef) { wardDemonitor(uint64(ref)) }

// Kill ends pid with reason killed, which it cannot trap. ErrNotFound when
// it is not alive, ErrPermission when it runs outside this process's
// environment and those below it.
func Kill(pid ProcessID) error {
	if st := wardKill(uint64(pid)); st != abi.OK {
		return fail("kill "+pid.String(), st)
	}
	return nil
}

// Exists reports whether pid is alive.
func Exists(pid ProcessID) bool { return wardExists(uint64(pid)) != 0 }
