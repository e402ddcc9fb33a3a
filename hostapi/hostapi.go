// Package hostapi is how Go code gives guests new host functions.
//
// A host module is a namespace (the Wasm import module name) and its
// functions. Each function has a Go Handler that the runtime calls on the
// calling process's own goroutine while the guest is suspended, so a
// handler may block on I/O for as long as it likes without holding an OS
// thread or stopping other processes. The handler reads and writes the
// guest's memory through bounds-checked accessors; a bad pointer becomes a
// trap of that guest only.
//
// A module that gives guests resources (sockets, databases) has four more
// things to lean on:
//
//   - Per-process state: Module.NewState makes it at a process's first
//     call into the module, handlers reach it with Call.State, and its
//     Close runs exactly once when the process ends, however it ends
//     (returned, trapped, killed, out of fuel, its environment or runtime
//     closed), before the process's Wait returns. A process that never
//     calls the module costs it nothing.
//   - Handles: a Handles table in the state names the process's resources
//     by small numbers, bounded in count; another process's numbers find
//     nothing of its.
//   - Permissions: a Func with a Permission runs only where the calling
//     process's environment grants it; elsewhere the guest gets the
//     function's Refused results, or traps.
//   - Configuration: an environment.HostConfig the module defines, kept
//     in environment.Config.Host under the module's namespace and narrowed
//     by child environments like every other limit (a child asking for
//     more fails with environment.ErrWiden). Module.DefaultConfig is the
//     root's unless the embedder sets one, and should grant nothing.
//     Handlers read the caller's with Call.Config.
//
// Register modules with runtime.WithHostModule; environments allow them by
// namespace like ward's own.
//
// ward's own namespaces are written on this package where that costs
// nothing measurable: ward_registry, ward_module and ward_environment are
// modules made with Builtin that every runtime links without
// WithHostModule, and their calls take the path a registered module's
// take (a Call, NewState and State.Close for a process's module and
// environment handles). The runtime reaches its own internals from them
// by asserting the Call's Process back to its own type, so this package
// exposes nothing of the runtime. ward_process and ward_message (spawn,
// links, send, receive), the hot paths, stay in C and in the runtime's
// own dispatch; docs/why.md ("One host-module mechanism") has the
// figures.
package hostapi

import (
	"context"
	"errors"
	"fmt"
	"regexp"

	"github.com/wardrt/ward/environment"
	"github.com/wardrt/ward/internal/abi"
	"github.com/wardrt/ward/internal/errs"
)

// ValType is a Wasm value type of a parameter or result: the type ward's
// own host function table uses, so host modules and ward's functions are
// declared alike.
type ValType = abi.ValType

// The value types host functions may use.
const (
	I32 = abi.I32
	I64 = abi.I64
)

// Module is a namespace of host functions.
type Module struct {
	Namespace string
	Doc       string
	Funcs     []Func

	// NewState, if set, makes the module's state for one process: its
	// handle table, say. The runtime calls it at the process's first call
	// of one of the module's functions (a process that never calls the
	// module costs nothing), on the process's goroutine, with that call's
	// ctx and Call, whose Config and Process it may use (its State is
	// still nil); handlers reach the state with Call.State. An error traps
	// the calling guest, as a handler's would, and no state is kept. When
	// the process ends, however it ends, the runtime calls the state's
	// Close once (see State).
	NewState func(ctx context.Context, c *Call) (State, error)

	// DefaultConfig is the module's configuration in a root environment
	// that has none for it (environment.Config.Host): it should grant
	// nothing, so that only what the embedder configures is allowed. nil
	// means the module has none: functions needing a permission are then
	// refused unless the root's Config.Host grants it.
	DefaultConfig environment.HostConfig
}

// State is a module's state for one process (Module.NewState).
type State interface {
	// Close releases what the process holds in the module (closes its
	// sockets, rolls back its transactions). The runtime calls it exactly
	// once, after the process's last call and before its Wait returns,
	// whether it returned, trapped, was killed or ran out of fuel, or its
	// environment or runtime was closed; on a goroutine that holds no run
	// slot, so it may block, though Environment.Close and Runtime.Close
	// wait for it. ctx carries the values of the context the process was
	// spawned with and never ends. A panic is logged and goes no further.
	Close(ctx context.Context)
}

// Func is one host function.
type Func struct {
	Name    string
	Params  []ValType
	Results []ValType // at most 4
	Doc     string
	Handler Handler

	// Permission, if not empty, is what the calling process's
	// environment must grant for the call to go ahead: the module's
	// configuration there (Call.Config) must Permit it. If it does not,
	// the handler is not called, and the guest gets Refused as the
	// results, or, without Refused, traps with "permission denied:
	// <namespace>.<name> needs <permission>". A function whose guests
	// check a status should set Refused (StatusPermission, say): a guest
	// can then tell a refusal from a failure and carry on.
	Permission string

	// Refused are the results a call refused for want of Permission
	// returns, one per result; nil traps instead.
	Refused []int64
}

// Handler serves one call. It returns the function's results through
// c.Return. Returning an error traps the calling guest with the error's
// text (the guest's process ends with a *runtime.TrapError); it never
// affects other processes. ctx ends when the process is killed: a handler
// blocked on I/O should return then. ctx carries the values of the context
// the process was spawned with (Environment.Spawn, Run, Call; a guest's
// children inherit its values), so request-scoped data such as a trace
// span reaches handlers without a side channel.
type Handler func(ctx context.Context, c *Call) error

// MaxParams and MaxResults bound a host function's signature.
const (
	MaxParams  = 8
	MaxResults = 4
)

var namePattern = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// ErrInvalidModule is returned for a module that cannot be registered.
var ErrInvalidModule = errors.New("ward: invalid host module")

// Validate checks a module's names and signatures.
func (m Module) Validate() error {
	if !namePattern.MatchString(m.Namespace) {
		return fmt.Errorf("%w: namespace %q is not an identifier", ErrInvalidModule, m.Namespace)
	}
	seen := map[string]bool{}
	for _, f := range m.Funcs {
		switch {
		case !namePattern.MatchString(f.Name):
			return fmt.Errorf("%w: %s.%q is not an identifier", ErrInvalidModule, m.Namespace, f.Name)
		case seen[f.Name]:
			return fmt.Errorf("%w: %s.%s is defined twice", ErrInvalidModule, m.Namespace, f.Name)
		case len(f.Params) > MaxParams || len(f.Results) > MaxResults:
			return fmt.Errorf("%w: %s.%s has more than %d params or %d results", ErrInvalidModule, m.Namespace, f.Name, MaxParams, MaxResults)
		case f.Handler == nil:
			return fmt.Errorf("%w: %s.%s has no handler", ErrInvalidModule, m.Namespace, f.Name)
		case f.Refused != nil && len(f.Refused) != len(f.Results):
			return fmt.Errorf("%w: %s.%s has %d Refused values for %d results", ErrInvalidModule, m.Namespace, f.Name, len(f.Refused), len(f.Results))
		case f.Refused != nil && f.Permission == "":
			return fmt.Errorf("%w: %s.%s has Refused values but needs no Permission", ErrInvalidModule, m.Namespace, f.Name)
		}
		for _, t := range append(append([]ValType(nil), f.Params...), f.Results...) {
			if t != I32 && t != I64 {
				return fmt.Errorf("%w: %s.%s uses value type %d", ErrInvalidModule, m.Namespace, f.Name, t)
			}
		}
		seen[f.Name] = true
	}
	return nil
}

// Process is what a handler may know and do about the calling process.
type Process interface {
	// ID is the calling process's id.
	ID() uint64
	// Names are the names the process is registered under, if any.
	Names() []string
	// Send sends a message from the calling process, as a guest's send
	// would.
	Send(to uint64, tag int64, data []byte) error
}

// Call is one guest call of a host function. It is valid only during the
// handler.
type Call struct {
	args    []int64
	results [MaxResults]int64
	nres    int
	mem     []byte
	proc    Process
	state   State
	cfg     environment.HostConfig
}

// NewCall is for the runtime (and for tests of handlers): a call with
// these arguments, the guest's memory, and the calling process.
func NewCall(args []int64, mem []byte, proc Process) *Call {
	return &Call{args: args, mem: mem, proc: proc}
}

// Reset makes c a new call with these arguments, memory and process, as
// NewCall does, in c's own storage: for the runtime, which serves a
// process's calls one at a time and so needs one Call per process rather
// than one per call. What a handler was given is valid only until it
// returns for this reason too.
func (c *Call) Reset(args []int64, mem []byte, proc Process) {
	*c = Call{args: args, mem: mem, proc: proc}
}

// Arg returns argument i (i32 arguments sign-extended). Pointers are i32s:
// pass them to Read and Write as they are, which take their low 32 bits as
// unsigned.
func (c *Call) Arg(i int) int64 { return c.args[i] }

// NumArgs returns the number of arguments.
func (c *Call) NumArgs() int { return len(c.args) }

// Process returns the calling process.
func (c *Call) Process() Process { return c.proc }

// State returns the module's state for the calling process, made by
// Module.NewState; nil for a module without one. Only the process's own
// handlers, one at a time, and then its Close, ever see it, so it needs no
// lock of its own.
func (c *Call) State() State { return c.state }

// Config returns the module's configuration in the calling process's
// environment (environment.Config.Host, or the module's DefaultConfig),
// nil if it has none.
func (c *Call) Config() environment.HostConfig { return c.cfg }

// SetState sets what State and Config return: for the runtime, and for
// tests of handlers.
func (c *Call) SetState(s State, cfg environment.HostConfig) {
	c.state, c.cfg = s, cfg
}

// Return sets the function's results.
func (c *Call) Return(vals ...int64) {
	c.nres = copy(c.results[:], vals)
}

// Results returns what Return set (for the runtime).
func (c *Call) Results() []int64 { return c.results[:c.nres] }

// ErrBadPointer is returned by the memory accessors for a range outside
// the guest's memory. Returned from a handler, it traps the guest.
var ErrBadPointer = errors.New("pointer range outside the guest's memory")

// Read returns the guest's memory at [ptr, ptr+n): a view, valid only
// during the handler; copy what you keep. ptr and n are Wasm i32s, taken as
// unsigned.
func (c *Call) Read(ptr, n int64) ([]byte, error) {
	start, size := uint64(uint32(ptr)), uint64(uint32(n))
	if start+size > uint64(len(c.mem)) {
		return nil, errs.Errorf("ward: %w: [%d, %d) in %d bytes", ErrBadPointer, start, start+size, len(c.mem))
	}
	return c.mem[start : start+size : start+size], nil
}

// ReadString returns a copy of the guest's memory at [ptr, ptr+n) as a
// string.
func (c *Call) ReadString(ptr, n int64) (string, error) {
	b, err := c.Read(ptr, n)
	return string(b), err
}

// Write copies b into the guest's memory at ptr.
func (c *Call) Write(ptr int64, b []byte) error {
	dst, err := c.Read(ptr, int64(len(b)))
	if err != nil {
		return err
	}
	copy(dst, b)
	return nil
}

// MemorySize returns the size of the guest's memory in bytes.
func (c *Call) MemorySize() int { return len(c.mem) }

// Status codes ward's own host functions return, for host modules that
// want their guests to see the same numbers (see docs/abi.md).
const (
	StatusOK         = abi.OK
	StatusLimit      = abi.ErrLimit
	StatusPermission = abi.ErrPermission
	StatusNotFound   = abi.ErrNotFound
	StatusInvalid    = abi.ErrInvalid
	StatusClosed     = abi.ErrClosed
	StatusTimeout    = abi.ErrTimeout
	StatusTaken      = abi.ErrTaken
)

// Func returns the module's function with that name, for tests of
// handlers.
func (m Module) Func(name string) (Func, bool) {
	for _, f := range m.Funcs {
		if f.Name == name {
			return f, true
		}
	}
	return Func{}, false
}
