// Package abi is the single definition of every host function ward offers
// guests: namespace, name, signature, how it is implemented, the permission
// it needs and its documentation. The runtime's linker, the reference page,
// the C header and the guest SDK are all derived from or checked against
// Funcs, so they cannot drift apart (lunatic's all_imports.wat did).
package abi

// ValType is a Wasm value type in a host function signature.
type ValType uint8

// The value types host functions use. Their numbers are wasmtime's
// wasm_valkind_t values, so the C shim can use them as they are.
const (
	I32 ValType = 0
	I64 ValType = 1
)

func (t ValType) String() string {
	if t == I32 {
		return "i32"
	}
	return "i64"
}

// Impl says where a host function runs.
type Impl uint8

const (
	// C functions run on the guest's fiber without leaving C: the hot paths
	// (ids, message bytes), about 11 ns a call.
	C Impl = iota
	// Go functions suspend the guest; the process goroutine serves the call
	// on its own stack between polls, so it may block without pinning an OS
	// thread. About 250 ns a call.
	Go
)

// Param is one named parameter or result.
type Param struct {
	Name string
	Type ValType
}

// Func describes one host function.
type Func struct {
	Namespace  string
	Name       string
	Params     []Param
	Results    []Param
	Impl       Impl
	Permission Permission
	Doc        string
}

// Permission names an environment permission a host function needs beyond
// its namespace being allowed.
type Permission string

// Permissions host functions can require.
const (
	PermNone  Permission = ""
	PermSpawn Permission = "spawn"
)

// Host function namespaces (Wasm import module names).
const (
	NamespaceProcess = "ward_process"
	NamespaceWASI    = "wasi_snapshot_preview1"
)

// Status codes host functions return to guests (i32). They are part of the
// ABI: guests compare against these numbers.
const (
	OK            = 0 // success
	ErrLimit      = 1 // an environment limit was reached (processes, mailbox size)
	ErrPermission = 2 // the environment does not permit this
	ErrNotFound   = 3 // no such export, process or name
	ErrInvalid    = 4 // malformed arguments (bad pointer ranges trap instead)
	ErrClosed     = 5 // the runtime is shutting down
)

// SpawnParamSize is the size of one spawn parameter record in guest memory:
// an i32 value type (0 = i32, 1 = i64) at offset 0, four bytes of padding,
// and the value as a little-endian i64 at offset 8.
const SpawnParamSize = 16

// MaxSpawnParams bounds the parameters of a spawned entry function.
const MaxSpawnParams = 16

// MaxNameLen bounds export names and other strings passed by guests.
const MaxNameLen = 1024

func p(name string, t ValType) Param { return Param{name, t} }

// Funcs is the table. Order matters: a function's index is its id in the
// linker, so append; never reorder.
var Funcs = []Func{
	{
		Namespace: NamespaceProcess, Name: "self",
		Results: []Param{p("id", I64)},
		Impl:    C,
		Doc:     "Returns the calling process's id.",
	},
	{
		Namespace: NamespaceProcess, Name: "exit",
		Params: []Param{p("code", I32)},
		Impl:   C,
		Doc:    "Ends the calling process. Code 0 is a normal exit; any other code is an abnormal exit with that status. Does not return.",
	},
	{
		Namespace: NamespaceProcess, Name: "spawn",
		Params: []Param{
			p("entry_ptr", I32), p("entry_len", I32),
			p("params_ptr", I32), p("params_count", I32),
			p("id_ptr", I32),
		},
		Results:    []Param{p("status", I32)},
		Impl:       Go,
		Permission: PermSpawn,
		Doc: "Spawns a new process running the export entry of the caller's module, in the caller's environment. " +
			"params_ptr points to params_count 16-byte records (i32 type: 0 i32, 1 i64; 4 bytes padding; i64 value). " +
			"On OK the new id is written as an i64 at id_ptr. Returns ErrLimit when the environment's process limit is reached, " +
			"ErrPermission when spawning is not permitted, ErrNotFound or ErrInvalid when entry does not exist or does not take those params. " +
			"Pointers outside the caller's memory trap the caller.",
	},
	{
		Namespace: NamespaceProcess, Name: "sleep_ms",
		Params: []Param{p("ms", I64)},
		Impl:   Go,
		Doc:    "Suspends the calling process for ms milliseconds without holding an OS thread.",
	},
}

// Lookup returns the function with that namespace and name and its id.
func Lookup(namespace, name string) (Func, int, bool) {
	for i, f := range Funcs {
		if f.Namespace == namespace && f.Name == name {
			return f, i, true
		}
	}
	return Func{}, -1, false
}
