package ward_test

import (
	"context"
	"fmt"
	"os"

	"github.com/wardrt/ward/environment"
	"github.com/wardrt/ward/runtime"
)

// A Go program runs an untrusted module in a process with 1 MiB of memory
// and a fuel budget, and reads why it ended.
func Example() {
	ctx := context.Background()
	rt, err := runtime.New()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return
	}
	defer rt.Close(ctx)

	mod, err := rt.LoadModule(ctx, "plugin", []byte(`(module
	  (memory 1)
	  (func (export "run") (param i32) (result i32)
	    (i32.mul (local.get 0) (i32.const 2))))`))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return
	}
	env, err := rt.NewEnvironment(environment.Config{MaxMemory: 1 << 20, MaxFuel: 1_000_000})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return
	}
	p, err := env.Spawn(ctx, mod, "run", runtime.I32(21))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return
	}
	reason, _ := p.Wait(ctx)
	fmt.Println("plugin ended:", reason)
	// Output: plugin ended: normal
}
