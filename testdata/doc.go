// Package testdata holds the WebAssembly guests ward's tests run: small
// hand-written modules, one per behaviour under test (spinning, deep
// recursion, growing memory and tables, each trap kind, the ward_process
// host calls, a WASI command). Each X.wat is the source, with a header
// saying what it is for and what it exports; X.wasm is its build,
// committed so tests need no toolchain, and embed.go exports the builds.
//
// After editing a .wat, run go generate ./testdata; CI runs
// go run ./internal/tools/wat2wasm -check testdata/*.wat to catch a
// forgotten rebuild.
package testdata

//go:generate go run ../internal/tools/wat2wasm *.wat
