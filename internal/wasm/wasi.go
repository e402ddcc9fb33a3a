package wasm

import "github.com/wardrt/ward/internal/abi"

// WASIModule is the import module of WASI preview1.
const WASIModule = "wasi_snapshot_preview1"

// WASIBase is the host call id of WASIShadows[0]; shadow i reports
// WASIBase+i from Proc.HostID. It is far above abi.Funcs and any extra
// host functions, so the ranges never meet.
const WASIBase = 1 << 20

// WASIShadow is a WASI preview1 function that ward defines in place of
// wasmtime's own: served by Go on the process goroutine, between polls,
// like ward's own async host functions.
type WASIShadow struct {
	Name            string
	Params, Results []abi.ValType
}

// WASIShadows lists the WASI functions ward shadows, in host call id
// order. Their signatures must be those of wasmtime's definitions
// (TestWASIShadowSignatures checks them against wasmtime's linker): a
// shadow is found by name, and a guest importing it with WASI's signature
// must still link.
//
// Why these (docs/why.md, "Why ward shadows some WASI functions"):
// wasmtime v25 runs them on the guest's fiber, holding a run slot, and
// sizes or times host work by guest arguments before checking them.
var WASIShadows = []WASIShadow{
	// poll_oneoff(in, out, nsubscriptions, nevents_out) -> errno:
	// allocates from nsubscriptions before reading guest memory (a huge
	// count aborts the host), and sleeps on the OS thread.
	{Name: "poll_oneoff", Params: []abi.ValType{abi.I32, abi.I32, abi.I32, abi.I32}, Results: []abi.ValType{abi.I32}},
	// random_get(buf, len) -> errno: fills a host buffer of len bytes
	// before checking buf, in one call Kill cannot cut short.
	{Name: "random_get", Params: []abi.ValType{abi.I32, abi.I32}, Results: []abi.ValType{abi.I32}},
	// fd_renumber(from, to) -> errno: can leave wasmtime's descriptor
	// table inconsistent, and the next path_open panics the host.
	{Name: "fd_renumber", Params: []abi.ValType{abi.I32, abi.I32}, Results: []abi.ValType{abi.I32}},
}

// Table bounds per process, the same as shim.h's (checked in NewEngine).
// wasmtime's store limiter bounds each table and memory on its own, so ward
// allows one linear memory (it gets all of MaxMemory) and at most
// MaxTables tables of MaxTableElements, which hold at most TableBytes
// beyond MaxMemory: wasmtime v25 uses 8 bytes a table element. A module's
// own bound is smaller: its largest declared table plus a little headroom
// (Module.ReadTables), and that is what the budget is charged.
const (
	MaxTables        = 2
	MaxTableElements = 1 << 16
	TableBytes       = MaxTables * MaxTableElements * 8
)
