// Package c is ward's SDK for guests written in C: the header ward.h,
// generated from the ABI table (internal/abi), declares every host function
// and constant; ward_cbor.h is a small bounds-checked CBOR writer and
// reader, with send, receive and request helpers, for the typed messages Go
// code exchanges with runtime.EncodeMessage and runtime.DecodeMessage.
// README.md shows complete programs and how to build them with clang, lld
// and wasi-libc (build.sh). This Go package only holds the tests that run
// the examples (examples/*.c, built to the committed examples/*.wasm) in a
// ward runtime.
package c

// build.sh needs clang, lld and wasi-libc; without them it warns and leaves
// the committed builds alone.
//go:generate sh build.sh -if-available
