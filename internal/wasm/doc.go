// Package wasm is ward's bridge to wasmtime's asynchronous C API.
//
// Why it exists: wasmtime-go v25 is synchronous, so a guest blocked in a Go
// host function pins an OS thread (about 10k parked processes exhaust Go's
// thread limit) and a message round trip costs 41-90 µs. wasmtime's async C
// API, present in the libwasmtime.a wasmtime-go links, runs each call on a
// fiber instead; a probe measured 200k parked processes on
// 11 OS threads and about 2 µs a round trip.
//
// The rules this package keeps:
//
//   - No Go code runs on a fiber stack (Go dies there with "morestack on
//     g0"). Host functions that need Go are C async functions that record the
//     call and return a pending continuation; the poll returns, and Go serves
//     the call on the goroutine's own stack before polling again.
//   - Hot paths are plain C host functions.
//   - Stores are created in C with no finalizer, so deleting one never calls
//     back into Go; callers still bound concurrent teardown, which otherwise
//     piles up OS threads in long cgo calls.
//   - A future is always deleted before its store.
//   - wasmtime-go is used for the Config (patched through its unexported
//     pointer, checked at start), the Engine and Module compilation and
//     serialization; everything per process is ours.
package wasm
