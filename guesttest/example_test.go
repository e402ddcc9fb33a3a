package guesttest_test

import (
	"context"
	"fmt"
	"regexp"
	"testing"
	"time"

	"github.com/wardrt/ward/environment"
	"github.com/wardrt/ward/guesttest"
	"github.com/wardrt/ward/runtime"
)

// A Go test that runs a guest's test exports, each as a subtest: in a
// _test.go file, this is the whole of it. go test -v -run
// 'TestGuest/test_add' runs one.
func ExampleRun() {
	testGuest := func(t *testing.T) {
		ctx := context.Background()
		rt, err := runtime.New()
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { rt.Close(ctx) })
		mod, err := rt.LoadModuleFile(ctx, "testdata/guest.wasm")
		if err != nil {
			t.Fatal(err)
		}
		guesttest.Run(t, mod,
			guesttest.WithTimeout(10*time.Second),                         // a guest that hangs fails instead
			guesttest.WithConfig(environment.Config{MaxMemory: 16 << 20}), // each test's limits
			guesttest.WithFilter(regexp.MustCompile(`^test_`)),            // like -run
		)
	}
	_ = testGuest // func TestGuest(t *testing.T) { ... } in a real test file
}

// Tests lists what Run would run: the exports named test_*.
func ExampleTests() {
	ctx := context.Background()
	rt, err := runtime.New()
	if err != nil {
		fmt.Println(err)
		return
	}
	defer rt.Close(ctx)
	mod, err := rt.LoadModule(ctx, "guest", []byte(`(module
	  (func (export "test_add"))
	  (func (export "test_parse"))
	  (func (export "add") (param i32 i32) (result i32) (i32.add (local.get 0) (local.get 1))))`))
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(guesttest.Tests(mod))
	// Output: [test_add test_parse]
}
