// Package guesttest runs a guest module's test exports as subtests of a Go
// test, so guest code is tested with go test, -run, -v and -timeout like any
// other.
//
// A test export is an exported function whose name starts with "test_"
// (TestPrefix) and that takes no parameters; its result, if any, is
// ignored. The prefix is lower-case with an underscore because that is how
// WAT, C and Rust name exports; a Go guest names one with
// //go:wasmexport test_something. The subtest carries the export's full
// name, so go test -run 'TestGuest/test_add' picks one.
//
// Each test export runs in its own fresh process, in its own child
// environment, so no test sees another's memory, names or leftovers. A
// test fails when its process ends abnormally: a trap (reported with its
// backtrace), a nonzero exit code, exhausted fuel or memory, or a kill by
// the per-test timeout. On failure the guest's WASI standard output and
// error are printed with the reason; a passing test's output is logged,
// which go test shows only with -v.
//
// The runtime logs every abnormal end as well, to its own logger; a test
// that wants only guesttest's report gives runtime.New a quiet one
// (runtime.WithLogger). A test export that takes parameters cannot be
// spawned without arguments, and fails saying so.
//
//	func TestGuest(t *testing.T) {
//		rt, _ := runtime.New()
//		t.Cleanup(func() { rt.Close(context.Background()) })
//		mod, _ := rt.LoadModuleFile(context.Background(), "testdata/guest.wasm")
//		guesttest.Run(t, mod, guesttest.WithTimeout(5*time.Second))
//	}
package guesttest
