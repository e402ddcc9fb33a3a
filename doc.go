// Package ward runs sandboxed WebAssembly inside Go programs, as
// Erlang-style processes.
//
// Every process is its own Wasm instance: its own memory, its own limits,
// its own fate. A process that traps, loops forever, exhausts its memory or
// fuel, or misuses a host function ends alone, with a typed reason; the
// host and the other processes carry on. Processes wait without holding OS
// threads, so a program can keep a hundred thousand of them parked at once.
//
// The packages:
//
//   - [github.com/wardrt/ward/runtime]: the runtime, modules, environments
//     and processes. Start here.
//   - [github.com/wardrt/ward/environment]: the limits and permissions of
//     an environment (memory, fuel, host namespaces, process count, WASI).
//   - [github.com/wardrt/ward/mailbox]: the per-process message queue.
//   - [github.com/wardrt/ward/registry]: versioned names for processes.
//
// Guests reach the host through the functions of the ward_process
// namespace (self, exit, spawn, sleep_ms) and WASI preview 1.
//
// ward is built on wasmtime's asynchronous C API through a small cgo shim;
// docs/why.md says why.
package ward
