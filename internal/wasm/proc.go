//go:build linux && (amd64 || arm64) && cgo

package wasm

// #include <stdlib.h>
// #include "shim.h"
import "C"

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
	"unsafe"
)

// live counts stores not yet freed, so tests can prove teardown is complete.
var live atomic.Int64

// LiveProcs reports the processes (Procs) created and not yet freed. A
// freed process's store may live on, retired, in its module's pool until
// the module is closed (shim.c, "Store reuse").
func LiveProcs() int64 { return live.Load() }

// StoresReused reports how many processes, in this program, started in a
// store that an earlier process of their module had returned in.
func StoresReused() uint64 { return uint64(C.ward_stores_reused()) }

// Status is what a poll ended with.
type Status int

// Poll outcomes.
const (
	Done  Status = C.WARD_DONE  // the process finished; see Outcome
	Yield Status = C.WARD_YIELD // an epoch tick: let others run, check for kills
	Host  Status = C.WARD_HOST  // a Go host call waits; see HostCall
)

// Value is a Wasm value passed to an entry function.
type Value struct {
	Kind ValKind
	Bits int64
}

// Proc is one process's store and future. Every method must be called from
// the single goroutine that owns the process.
type Proc struct {
	c   *C.ward_proc_t
	mod *Module // holds the entry's name in C (Module.cName)
}

// NewProc creates the process's store with its limits. It does not
// instantiate: Start does, on the process goroutine.
//
// budget, if not nil, is charged the process's linear memory as it grows
// and its tables' limit at once; NewProc fails with an error wrapping
// ErrBudget when the tables do not fit.
func (m *Module) NewProc(id uint64, maxMemory int64, fuel uint64, budget *Budget) (*Proc, error) {
	var cb *C.ward_budget_t
	if budget != nil {
		cb = budget.c
	}
	res := C.ward_proc_new(m.engine.ptr, C.uint64_t(id), C.int64_t(maxMemory), C.uint64_t(fuel),
		cb, C.uint32_t(m.Tables), C.uint32_t(m.TableElements), m.pool)
	c := res.proc
	if c == nil {
		return nil, m.newProcError(res.err)
	}
	live.Add(1)
	c.pre = m.pre
	c.domain = unsafe.Pointer(m.engine.ptr) // sends in C stay within the runtime (inbox.go)
	if m.HasInit {
		c.init_name = cInitName
	}
	return &Proc{c: c, mod: m}, nil
}

// newProcError is NewProc's error: off its path, so that its formatting
// does not enlarge NewProc's frame, which every spawn's fresh goroutine
// stack must hold.
//
//go:noinline
func (m *Module) newProcError(err *C.wasmtime_error_t) error {
	if err == nil {
		return fmt.Errorf("%w: a process and %d tables of %d elements", ErrBudget, m.Tables, m.TableElements)
	}
	return cerr(err)
}

// SetEntry names the export to call and its arguments.
func (p *Proc) SetEntry(name string, args []Value, nresults int) error {
	if len(args) > C.WARD_MAX_PARAMS || nresults > C.WARD_MAX_RESULTS {
		return fmt.Errorf("entry %q: at most %d params and %d results", name, C.WARD_MAX_PARAMS, C.WARD_MAX_RESULTS)
	}
	// The name is the module's (Module.cName); the values, when there are
	// any, are one C block freed with the process (ward_proc_free).
	n := len(args) + nresults
	if p.c.vals != nil { // a second SetEntry
		C.free(unsafe.Pointer(p.c.vals))
		p.c.vals = nil
	}
	if n > 0 {
		block := C.calloc(C.size_t(n), C.size_t(unsafe.Sizeof(C.wt_val_t{})))
		if block == nil {
			return errors.New("ward: out of memory setting a process's entry")
		}
		p.c.vals = (*C.wt_val_t)(block)
		vals := unsafe.Slice(p.c.vals, n)
		for i, a := range args {
			v := &vals[i]
			v.kind = C.uint8_t(a.Kind)
			*(*int64)(unsafe.Pointer(&v.of)) = a.Bits // i32 and f32 read the low bytes
		}
	}
	p.c.entry_name = p.mod.cName(name)
	p.c.entry_len = C.size_t(len(name))
	p.c.nargs = C.size_t(len(args))
	p.c.nresults = C.size_t(nresults)
	return nil
}

// WASI is the WASI preview1 context of one process.
type WASI struct {
	Args      []string
	Env       [][2]string
	Stdout    string // a path to open for writing, or "" to discard
	Stderr    string
	HostDirs  []string
	GuestDirs []string
}

// SetWASI gives the process a WASI context. Processes of modules that
// import WASI must have one: wasmtime aborts the whole program otherwise.
func (p *Proc) SetWASI(w WASI) error {
	var allocs []unsafe.Pointer
	defer func() {
		for _, a := range allocs {
			C.free(a)
		}
	}()
	cs := func(s string) *C.char {
		c := C.CString(s)
		allocs = append(allocs, unsafe.Pointer(c))
		return c
	}
	arr := func(ss []string) **C.char {
		if len(ss) == 0 {
			return nil
		}
		a := (**C.char)(C.calloc(C.size_t(len(ss)), C.size_t(unsafe.Sizeof((*C.char)(nil)))))
		allocs = append(allocs, unsafe.Pointer(a))
		s := unsafe.Slice(a, len(ss))
		for i, v := range ss {
			s[i] = cs(v)
		}
		return a
	}
	names := make([]string, len(w.Env))
	vals := make([]string, len(w.Env))
	for i, kv := range w.Env {
		names[i], vals[i] = kv[0], kv[1]
	}
	var out, errp *C.char
	if w.Stdout != "" {
		out = cs(w.Stdout)
	}
	if w.Stderr != "" {
		errp = cs(w.Stderr)
	}
	if len(w.HostDirs) != len(w.GuestDirs) {
		return errors.New("ward: WASI host and guest dirs differ in number")
	}
	return cerr(C.ward_proc_wasi(p.c, C.size_t(len(w.Args)), arr(w.Args), C.size_t(len(names)), arr(names), arr(vals),
		out, errp, C.size_t(len(w.HostDirs)), arr(w.HostDirs), arr(w.GuestDirs)))
}

// Start instantiates the module and runs until the first yield, host call
// or the end.
func (p *Proc) Start() Status { return Status(C.ward_proc_start(p.c)) }

// Poll resumes the process.
func (p *Proc) Poll() Status {
	return Status(C.ward_proc_poll_handle(C.uintptr_t(uintptr(unsafe.Pointer(p.c)))))
}

// RefillPerMessage makes each message from another process that becomes
// current (SetMessage, or a receive served in C) refill the fuel to
// fuel. Call it before Start.
func (p *Proc) RefillPerMessage(fuel uint64) { p.c.refill = C.uint64_t(fuel) }

// CountFuelFrom makes FuelUsed start from used: a process that moves to a
// new instance keeps counting its life's fuel. Call it before Start.
func (p *Proc) CountFuelFrom(used uint64) { p.c.fuel_spent = C.uint64_t(used) }

// FuelUsed returns the fuel the process has burned in all, refills
// included, as of its last poll. Unlike the other methods, any goroutine
// may call it while the Proc is not freed.
func (p *Proc) FuelUsed() uint64 {
	return atomic.LoadUint64((*uint64)(unsafe.Pointer(&p.c.fuel_used)))
}

// ReleaseStack releases the pages of the process's fiber stack while its
// pending Go host call waits, keeping the suspended frames (1-2 KiB) on
// the C heap instead of the page or two they lie in; its next Poll, or
// Free, puts them back first. It costs a copy and a madvise now and a page
// fault at the resume, so it is for waits expected to be long. It reports
// whether it released them (not when no host call is pending, the frames
// would not fit in less, or memory is short).
func (p *Proc) ReleaseStack() bool { return C.ward_proc_stack_out(p.c) != 0 }

// StacksReleased reports the processes, in this program, whose stacks
// ReleaseStack released and that have not run or ended since (now), and
// how many releases there were in all (total).
func StacksReleased() (now, total int64) {
	var t C.int64_t
	now = int64(C.ward_stacks_out(&t))
	return now, int64(t)
}

// FreshSlice gives the process a whole time slice from its next poll. Call
// it when the process resumes after waiting: its epoch deadline, set when it
// last ran, has likely passed, and it would otherwise be preempted at its
// first loop back-edge, before doing anything.
func (p *Proc) FreshSlice() { p.c.fresh_slice = 1 }

// HostCall returns the pending Go host call: its abi.Funcs index and its
// arguments (i32 arguments sign-extended).
func (p *Proc) HostCall() (id int, args []int64) {
	h := p.c.host
	n := int(h.nparams)
	args = make([]int64, n)
	for i := range n {
		args[i] = int64(p.c.hargs[i])
	}
	return int(h.id), args
}

// HostArg returns argument i of the pending host call without allocating.
func (p *Proc) HostArg(i int) int64 { return int64(p.c.hargs[i]) }

// HostID returns the abi.Funcs index of the pending host call.
func (p *Proc) HostID() int { return int(p.c.host.id) }

// Memory is the caller's linear memory during a pending host call, or nil.
// It stays valid until Return or Trap: the guest is suspended and cannot
// grow it meanwhile.
func (p *Proc) Memory() []byte {
	if p.c.mem == nil {
		return nil
	}
	return unsafe.Slice((*byte)(unsafe.Pointer(p.c.mem)), int(p.c.mem_len))
}

// Return completes the pending host call with these results.
func (p *Proc) Return(results ...int64) {
	for i, r := range results {
		p.c.hret[i] = C.int64_t(r)
	}
	p.c.ready = 1
}

// Trap completes the pending host call by trapping the guest with msg.
func (p *Proc) Trap(msg string) {
	p.c.htrap_msg = C.CString(msg)
	p.c.ready = 1
}

// Result returns result i of a returned entry call (i32 sign-extended).
func (p *Proc) Result(i int) int64 {
	v := &unsafe.Slice(p.c.vals, int(p.c.nargs+p.c.nresults))[int(p.c.nargs)+i]
	if v.kind == C.WT_I32 {
		return int64(*(*int32)(unsafe.Pointer(&v.of)))
	}
	return *(*int64)(unsafe.Pointer(&v.of))
}

// SetMessage makes data the current message the guest reads.
func (p *Proc) SetMessage(data []byte, tag int64, sender uint64) bool {
	if len(data) > int(p.c.in_cap) || p.c.refill != 0 && sender != uint64(p.c.id) {
		// Grow the C buffer (and copy) or refill the fuel in C; otherwise
		// copy from Go and save the cgo call, which is on every receive's
		// path.
		var d *C.uint8_t
		if len(data) > 0 {
			d = (*C.uint8_t)(unsafe.Pointer(&data[0]))
		}
		return C.ward_proc_set_in(p.c, d, C.size_t(len(data)), C.int64_t(tag), C.uint64_t(sender)) != 0
	}
	if len(data) > 0 {
		copy(unsafe.Slice((*byte)(unsafe.Pointer(p.c.in_data)), len(data)), data)
	}
	p.c.in_len = C.size_t(len(data))
	p.c.in_pos = 0
	p.c.in_tag = C.int64_t(tag)
	p.c.in_sender = C.uint64_t(sender)
	return true
}

// Outgoing returns a copy of the guest's outgoing message and its tag, and
// empties it: a message is sent once.
func (p *Proc) Outgoing() (data []byte, tag int64) {
	n := int(p.c.out_len)
	if n > 0 {
		data = make([]byte, n)
		copy(data, unsafe.Slice((*byte)(unsafe.Pointer(p.c.out_data)), n))
	}
	p.c.out_len = 0
	return data, int64(p.c.out_tag)
}

// UniqueTag returns a tag no other call returns, shared with guests'
// ward_message.unique_tag.
func UniqueTag() int64 { return int64(C.ward_unique_tag()) }

// Cancel drops the process's future wherever it is, unwinding the guest.
func (p *Proc) Cancel() { C.ward_proc_cancel(p.c) }

// clockBase is what SetClockEpoch measures from: a monotonic reading, so
// that an epoch fits in the C proc as an integer.
var clockBase = time.Now()

// SetClockEpoch records t as the zero of the process's WASI monotonic
// clock (wasmtime counts it from the WASI context's creation). It is kept
// in the C proc rather than in runtime.Process, whose size class every
// process pays for.
func (p *Proc) SetClockEpoch(t time.Time) { p.c.clock_epoch = C.int64_t(t.Sub(clockBase)) }

// ClockEpoch returns what SetClockEpoch recorded.
func (p *Proc) ClockEpoch() time.Time { return clockBase.Add(time.Duration(p.c.clock_epoch)) }

// BudgetRefused reports whether a memory the process made or grew did not
// fit its budget: its failure is then the environment's MaxTotalMemory.
func (p *Proc) BudgetRefused() bool { return p.c.budget_refused != 0 }

// MemorySize reports the size of the exported memory, 0 if none.
func (p *Proc) MemorySize() int { return int(C.ward_proc_memory_size(p.c)) }

// OutcomeKind classifies how a finished process ended.
type OutcomeKind int

// Outcome kinds.
const (
	Returned  OutcomeKind = 0 // the entry function returned
	Trapped   OutcomeKind = 1 // a Wasm trap (including a host function's trap)
	Failed    OutcomeKind = 2 // an error that is not a trap (instantiation, stack pool)
	WASIExit  OutcomeKind = 3 // proc_exit
	NoExport  OutcomeKind = 4 // the entry (or _initialize) export is missing
	CalledExt OutcomeKind = 5 // ward_process.exit
)

// Outcome is how a finished process ended.
type Outcome struct {
	Kind       OutcomeKind
	Phase      string // "instantiate", "initialize" or "call"
	TrapCode   int    // wasmtime trap code, -1 when none
	ExitStatus int
	Message    string
	Trace      []Frame
}

// Frame is one Wasm frame of a backtrace.
type Frame struct {
	FuncIndex    uint32
	ModuleOffset uint64
	Func         string
	Module       string
}

// Outcome describes how the finished process ended.
func (p *Proc) Outcome() Outcome {
	var code, status C.int
	k := OutcomeKind(C.ward_proc_outcome(p.c, &code, &status))
	o := Outcome{Kind: k, Phase: p.Phase(), TrapCode: int(code), ExitStatus: int(status)}
	if p.c.exited != 0 {
		o.Kind, o.ExitStatus, o.TrapCode = CalledExt, int(p.c.exit_code), -1
		return o
	}
	if k == Trapped || k == Failed || k == WASIExit {
		if s := C.ward_proc_message(p.c); s != nil {
			o.Message = C.GoString(s)
			C.free(unsafe.Pointer(s))
		}
		if s := C.ward_proc_trace(p.c); s != nil {
			o.Trace = parseTrace(C.GoString(s))
			C.free(unsafe.Pointer(s))
		}
	}
	return o
}

// Returned reports whether the process's entry call returned: no trap,
// exit, error or kill; Outcome's Kind is then Returned. It costs no cgo
// call.
func (p *Proc) Returned() bool { return p.c.returned != 0 }

// Phase names the stage a finished process ended in.
func (p *Proc) Phase() string {
	switch p.c.end_phase {
	case C.PHASE_INSTANTIATE:
		return "instantiate"
	case C.PHASE_INIT:
		return "initialize"
	case C.PHASE_CALL:
		return "call"
	}
	return "start"
}

func parseTrace(s string) []Frame {
	var out []Frame
	for line := range strings.SplitSeq(strings.TrimSuffix(s, "\n"), "\n") {
		f := strings.SplitN(line, "\t", 4)
		if len(f) != 4 {
			continue
		}
		idx, _ := strconv.ParseUint(f[0], 10, 32)
		off, _ := strconv.ParseUint(f[1], 10, 64)
		out = append(out, Frame{FuncIndex: uint32(idx), ModuleOffset: off, Func: f[2], Module: f[3]})
	}
	return out
}

// Free deletes the future, then the store. Safe to call once.
func (p *Proc) Free() {
	live.Add(-1)
	C.ward_proc_free(p.c)
	p.c = nil
}
