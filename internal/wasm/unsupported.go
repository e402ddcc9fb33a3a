//go:build !(linux && (amd64 || arm64) && cgo)

package wasm

// ward runs only where wasmtime-go ships a library the shim can use and the
// shim's own calls exist: Linux (mremap, madvise) on amd64 or arm64, built
// with cgo. Elsewhere the build would stop at an obscure undefined name or a
// link error; this undefined name says what is wrong instead.
var _ = ward_supports_only_linux_amd64_and_linux_arm64_built_with_CGO_ENABLED_1
