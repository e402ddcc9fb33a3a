//go:build !(linux && (amd64 || arm64) && cgo)

package main

// See internal/wasm/unsupported.go: this tool links wasmtime-go too.
var _ = ward_supports_only_linux_amd64_and_linux_arm64_built_with_CGO_ENABLED_1
