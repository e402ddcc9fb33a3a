package runtime

import (
	"errors"
	"fmt"
	"strings"
	"time"
)

// Reason says why a process ended. Every Reason is also an error, so
// abnormal ones can be returned, wrapped and matched with errors.Is and
// errors.As. Normal() reports whether the exit was normal: a returned entry
// function, or exit code 0.
type Reason interface {
	error
	Normal() bool
}

type normalReason struct{}

func (normalReason) Error() string { return "normal" }
func (normalReason) Normal() bool  { return true }

type killedReason struct{}

func (killedReason) Error() string { return "killed" }
func (killedReason) Normal() bool  { return false }

var (
	// Normal is the reason of a process whose entry function returned, or
	// that exited with code 0.
	Normal Reason = normalReason{}
	// Killed is the reason of a process ended by Kill or by Runtime.Close.
	// It cannot be trapped. errors.Is(r, Killed) matches it.
	Killed Reason = killedReason{}
)

// Sentinels for errors.Is on reasons that carry details.
var (
	// ErrOutOfFuel matches a *FuelError.
	ErrOutOfFuel = errors.New("out of fuel")
	// ErrMemoryLimit matches a *MemoryLimitError.
	ErrMemoryLimit = errors.New("memory limit reached")
)

// TrapCode classifies a Wasm trap. Its values are wasmtime's.
type TrapCode int

// Trap codes.
const (
	TrapNone                   TrapCode = -1 // not a Wasm trap: a host-function trap or a host error
	TrapStackOverflow          TrapCode = 0
	TrapMemoryOutOfBounds      TrapCode = 1
	TrapHeapMisaligned         TrapCode = 2
	TrapTableOutOfBounds       TrapCode = 3
	TrapIndirectCallToNull     TrapCode = 4
	TrapBadSignature           TrapCode = 5
	TrapIntegerOverflow        TrapCode = 6
	TrapIntegerDivisionByZero  TrapCode = 7
	TrapBadConversionToInteger TrapCode = 8
	TrapUnreachableCodeReached TrapCode = 9
	TrapInterrupt              TrapCode = 10
	TrapOutOfFuel              TrapCode = 11
)

var trapNames = map[TrapCode]string{
	TrapNone:                   "host",
	TrapStackOverflow:          "stack overflow",
	TrapMemoryOutOfBounds:      "memory out of bounds",
	TrapHeapMisaligned:         "heap misaligned",
	TrapTableOutOfBounds:       "table out of bounds",
	TrapIndirectCallToNull:     "indirect call to null",
	TrapBadSignature:           "bad signature",
	TrapIntegerOverflow:        "integer overflow",
	TrapIntegerDivisionByZero:  "integer division by zero",
	TrapBadConversionToInteger: "bad conversion to integer",
	TrapUnreachableCodeReached: "unreachable",
	TrapInterrupt:              "interrupt",
	TrapOutOfFuel:              "out of fuel",
}

func (c TrapCode) String() string {
	if s, ok := trapNames[c]; ok {
		return s
	}
	return fmt.Sprintf("TrapCode(%d)", int(c))
}

// Frame is one Wasm frame of a trap's backtrace, innermost first.
type Frame struct {
	Module       string // the module's name section name, if any
	Func         string // the function's name, if the module has names
	FuncIndex    uint32
	ModuleOffset uint64
}

func (f Frame) String() string {
	name := f.Func
	if name == "" {
		name = fmt.Sprintf("func[%d]", f.FuncIndex)
	}
	return fmt.Sprintf("%s@0x%x", name, f.ModuleOffset)
}

// TrapError is the reason of a process that trapped: a Wasm trap (the
// guest's own fault, such as unreachable or an out-of-bounds access), or a
// trap a host function raised because the guest misused it (a bad pointer,
// say).
type TrapError struct {
	Process   ProcessID
	Module    string   // the ward module name given at load time
	Entry     string   // the entry function the process was spawned with
	Names     []string // the process's registered names, if any
	Code      TrapCode
	Message   string  // wasmtime's message, including its own backtrace text
	Backtrace []Frame // innermost first; empty when wasmtime gives none
	// Stderr is the end (at most 4 KiB) of what a Go guest wrote to
	// stderr, where the Go runtime puts a panic's message and trace,
	// whether or not the embedder set a stderr Writer. Empty for other
	// guests.
	Stderr string
}

func (e *TrapError) Error() string {
	s := fmt.Sprintf("process %d (%s.%s) trapped: %s", e.Process, e.Module, e.Entry, trapSummary(e.Message))
	if line := panicLine(e.Stderr); line != "" {
		s += "; " + line
	}
	return s
}

// trapSummary returns the line that says what happened. wasmtime puts a
// backtrace first and the cause last, after "Caused by:".
func trapSummary(msg string) string {
	if _, cause, ok := strings.Cut(msg, "Caused by:"); ok {
		msg = cause
	}
	msg = strings.TrimSpace(msg)
	if i := strings.IndexByte(msg, '\n'); i >= 0 {
		msg = strings.TrimSpace(msg[:i])
	}
	return msg
}

// Normal reports false: a trap is abnormal.
func (e *TrapError) Normal() bool { return false }

// FuelError is the reason of a process that burned its environment's
// MaxFuel.
type FuelError struct {
	Limit uint64
	Trap  *TrapError
}

func (e *FuelError) Error() string {
	return fmt.Sprintf("process %d (%s.%s) ran out of fuel (limit %d)", e.Trap.Process, e.Trap.Module, e.Trap.Entry, e.Limit)
}

// Normal reports false.
func (e *FuelError) Normal() bool { return false }

// Is matches ErrOutOfFuel.
func (e *FuelError) Is(target error) bool { return target == ErrOutOfFuel }

// Unwrap returns the trap.
func (e *FuelError) Unwrap() error { return e.Trap }

// MemoryLimitError is the reason of a process that ended abnormally with
// its linear memory at its environment's MaxMemory, or after a memory.grow
// was refused because the processes of its environment hold the
// environment's MaxTotalMemory between them (Total).
//
// Wasm gives a refused memory.grow back to the guest as -1 rather than
// trapping, so what ends the process is how the guest handles that: a trap
// (Cause), or an exit with a nonzero code. ward reports MemoryLimitError
// when such an end comes with the memory within one growth step of the
// limit (see memoryNearLimit); Cause says what the guest did.
type MemoryLimitError struct {
	Limit uint64 // MaxMemory, or MaxTotalMemory when Total
	Used  uint64 // the process's memory, or the environment's when Total
	Cause Reason
	// Total is set when the limit met was the environment's
	// MaxTotalMemory, shared by its processes, not the process's own.
	Total bool
}

func (e *MemoryLimitError) Error() string {
	if e.Total {
		return fmt.Sprintf("environment memory limit reached (%d of %d bytes held by its processes): %v", e.Used, e.Limit, e.Cause)
	}
	return fmt.Sprintf("memory limit reached (%d of %d bytes): %v", e.Used, e.Limit, e.Cause)
}

// Normal reports false.
func (e *MemoryLimitError) Normal() bool { return false }

// Is matches ErrMemoryLimit.
func (e *MemoryLimitError) Is(target error) bool { return target == ErrMemoryLimit }

// Unwrap returns the cause.
func (e *MemoryLimitError) Unwrap() error { return e.Cause }

// ExitError is the reason of a process that exited with a nonzero code,
// through ward_process.exit or WASI proc_exit.
type ExitError struct {
	Process ProcessID
	Code    int
	// Stderr is the end of a Go guest's stderr, as in TrapError: a panic
	// in a Go command's main exits with code 2 after writing it.
	Stderr string
}

func (e *ExitError) Error() string {
	s := fmt.Sprintf("process %d exited with code %d", e.Process, e.Code)
	if line := panicLine(e.Stderr); line != "" {
		s += "; " + line
	}
	return s
}

// Normal reports false: only code 0 is normal, and it is reported as Normal.
func (e *ExitError) Normal() bool { return false }

// InstantiateError is the reason of a process whose module could not be
// instantiated: its start function trapped, its initial memory exceeds the
// environment's limit, a reactor's _initialize failed, or resources for a
// new process ran out.
type InstantiateError struct {
	Process ProcessID
	Module  string
	Err     error
}

func (e *InstantiateError) Error() string {
	return fmt.Sprintf("process %d: instantiating module %s: %v", e.Process, e.Module, e.Err)
}

// Normal reports false.
func (e *InstantiateError) Normal() bool { return false }

// Unwrap returns the underlying error, a *TrapError when a start function
// or _initialize trapped.
func (e *InstantiateError) Unwrap() error { return e.Err }

// ErrTimeLimit is matched by the reason of a process that lived past its
// environment's MaxWallTime (a *TimeLimitError).
var ErrTimeLimit = errors.New("ward: wall-clock time limit reached")

// TimeLimitError is the reason of a process killed at its environment's
// MaxWallTime. Guests see it as ReasonKilled, with this text.
type TimeLimitError struct {
	Process ProcessID
	Limit   time.Duration
}

func (e *TimeLimitError) Error() string {
	return fmt.Sprintf("process %s killed at its environment's wall-clock limit of %v", e.Process, e.Limit)
}

// Normal reports false.
func (e *TimeLimitError) Normal() bool { return false }

// Is matches ErrTimeLimit.
func (e *TimeLimitError) Is(target error) bool { return target == ErrTimeLimit }
