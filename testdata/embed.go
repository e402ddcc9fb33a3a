package testdata

import _ "embed" // for the go:embed directives below

// The built fixtures. See each .wat for what its exports do.

// Trivial is trivial.wasm: run, add and id, the smallest useful guest.
//
//go:embed trivial.wasm
var Trivial []byte

// Spin is spin.wasm: spin loops forever, count(n) counts to n.
//
//go:embed spin.wasm
var Spin []byte

// Recurse is recurse.wasm: recurse recurses until the stack overflows.
//
//go:embed recurse.wasm
var Recurse []byte

// GrowMem is growmem.wasm: grow_forever, grow_then_exit and grow_n grow memory until refused.
//
//go:embed growmem.wasm
var GrowMem []byte

// BigMem is bigmem.wasm: its memory minimum is 1000 pages (64 MiB), so it needs that much to instantiate.
//
//go:embed bigmem.wasm
var BigMem []byte

// Traps is traps.wasm: one () -> () export per trap kind, named after it.
//
//go:embed traps.wasm
var Traps []byte

// StartTrap is start_trap.wasm: its start function traps, so instantiation fails.
//
//go:embed start_trap.wasm
var StartTrap []byte

// Procs is procs.wasm: sleeping, exiting, spawning and a spawn bomb through ward_process.
//
//go:embed procs.wasm
var Procs []byte

// TableGrow is tablegrow.wasm: grow_forever grows a table until refused, then traps.
//
//go:embed tablegrow.wasm
var TableGrow []byte

// WASIHello is wasi_hello.wasm: a WASI command writing to stdout and stderr and exiting with 7.
//
//go:embed wasi_hello.wasm
var WASIHello []byte

// HostileWASI is hostile_wasi.wasm: poll_oneoff and random_get with any arguments, clock waits, and stdout writers.
//
//go:embed hostile_wasi.wasm
var HostileWASI []byte

// MultiMem is multimem.wasm: four 1 MiB linear memories in one module.
//
//go:embed multimem.wasm
var MultiMem []byte

// ManyTables is manytables.wasm: sixteen tables that grow to 2^20 entries each.
//
//go:embed manytables.wasm
var ManyTables []byte

// TwoTables is twotables.wasm: two tables grown to ward's per-table bound.
//
//go:embed twotables.wasm
var TwoTables []byte

// HostileAccounting is hostile_accounting.wasm: leader tries every route by
// which a process can make the host hold memory, in all the processes its
// environment allows, until each is refused, and reports what was refused.
//
//go:embed hostile_accounting.wasm
var HostileAccounting []byte
