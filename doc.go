// Package ward runs sandboxed WebAssembly inside Go programs, as
// Erlang-style processes.
//
// Every process is its own Wasm instance: its own memory, its own limits,
// its own fate. A process that traps, loops forever, exhausts its memory or
// fuel, or misuses a host function ends alone, with a typed reason; the
// host and the other processes carry on. Processes wait without holding OS
// threads, so a program can keep a hundred thousand of them parked at once.
//
// The plugin call is one line: Environment.Call spawns a fresh process,
// hands it the input and returns its reply, killing it when the call is
// done or its context ends (README.md, "Your first plugin").
//
// The packages:
//
//   - [github.com/wardrt/ward/runtime]: the runtime, modules, environments
//     and processes. Start here.
//   - [github.com/wardrt/ward/environment]: the limits and permissions of
//     an environment (memory, fuel, host namespaces, process count, WASI).
//   - [github.com/wardrt/ward/module]: where modules come from (bytes,
//     files, readers, HTTP(S) URLs) and how they are checked before they
//     are compiled: SHA-256 pins and ed25519 signatures.
//   - [github.com/wardrt/ward/mailbox]: the per-process message queue.
//   - [github.com/wardrt/ward/registry]: versioned names for processes.
//   - [github.com/wardrt/ward/supervisor]: OTP-style supervisor trees.
//   - [github.com/wardrt/ward/hostapi]: the interface of host modules.
//   - [github.com/wardrt/ward/hostapi/metrics]: guests' metrics and the
//     runtime's own, exported through OpenTelemetry when the embedder asks.
//   - [github.com/wardrt/ward/hostapi/net]: ward_net, TCP, UDP, TLS and
//     DNS for guests under allow-lists in their environment.
//   - [github.com/wardrt/ward/hostapi/sqlite]: ward_sqlite, SQLite
//     databases under directories an environment preopens.
//   - [github.com/wardrt/ward/cluster]: several runtimes as nodes of one
//     cluster over NATS: remote processes, noconnection, remote spawn and
//     jobs, a global registry; [github.com/wardrt/ward/cluster/embed]
//     starts a NATS server inside the program, and
//     [github.com/wardrt/ward/cluster/standalone] joins a node to one it
//     starts.
//   - [github.com/wardrt/ward/guest]: the SDK for Go guests.
//   - [github.com/wardrt/ward/guest/c]: the SDK for C guests: ward.h,
//     generated from the ABI table, and ward_cbor.h for typed messages.
//   - [github.com/wardrt/ward/guesttest]: a guest's test_* exports run as
//     subtests of a Go test, each in a fresh process.
//
// Guests reach the host through the functions of the ward_process,
// ward_message, ward_registry, ward_module (modules compiled by guests) and
// ward_environment (narrower environments made by guests) namespaces and
// WASI preview 1, and those of the host modules the embedder registers
// (ward_net, ward_sqlite, ward_metrics); process
// ids name their node, so the same calls reach processes on other nodes.
// The embedder may add ward's host modules: ward_metrics (guests'
// counters, gauges and histograms, package hostapi/metrics).
//
// ward is built on wasmtime's asynchronous C API through a small cgo shim;
// docs/why.md says why.
package ward
