package hostapi_test

import (
	"context"
	"fmt"
	"strings"
	"sync"

	"github.com/wardrt/ward/hostapi"
	"github.com/wardrt/ward/runtime"
)

// A host module is a namespace of Go functions guests import. This one
// gives guests a log line: log(ptr, len) reads the text from the
// caller's memory (a bad pointer fails the call, which traps only the
// caller) and keeps it with the caller's id.
func Example() {
	var mu sync.Mutex
	var lines []string
	logger := hostapi.Module{
		Namespace: "example_log",
		Doc:       "A log line per call.",
		Funcs: []hostapi.Func{{
			Name:    "log",
			Params:  []hostapi.ValType{hostapi.I32, hostapi.I32},
			Results: []hostapi.ValType{hostapi.I32},
			Doc:     "log(ptr, len) -> status: keeps the text at ptr.",
			Handler: func(ctx context.Context, c *hostapi.Call) error {
				text, err := c.ReadString(c.Arg(0), c.Arg(1))
				if err != nil {
					return err
				}
				mu.Lock()
				lines = append(lines, fmt.Sprintf("process %d: %s", c.Process().ID(), strings.ToUpper(text)))
				mu.Unlock()
				c.Return(hostapi.StatusOK)
				return nil
			},
		}},
	}

	ctx := context.Background()
	rt, err := runtime.New(runtime.WithHostModule(logger))
	if err != nil {
		fmt.Println(err)
		return
	}
	defer rt.Close(ctx)
	guest, err := rt.LoadModule(ctx, "guest", []byte(`(module
	  (import "example_log" "log" (func $log (param i32 i32) (result i32)))
	  (memory (export "memory") 1)
	  (data (i32.const 16) "hello from a guest")
	  (func (export "run") (drop (call $log (i32.const 16) (i32.const 18)))))`))
	if err != nil {
		fmt.Println(err)
		return
	}
	reason, err := rt.Environment().Run(ctx, guest, "run")
	fmt.Println(reason, err)
	fmt.Println(lines[0])
	// Output:
	// normal <nil>
	// process 1: HELLO FROM A GUEST
}
