package hostapi_test

import (
	"context"
	"errors"
	"fmt"

	"github.com/wardrt/ward/environment"
	"github.com/wardrt/ward/hostapi"
	"github.com/wardrt/ward/runtime"
)

// counterConfig is the counter module's configuration in an environment:
// how many counters a process may hold, and whether it may reset one.
type counterConfig struct {
	Max   int
	Reset bool
}

// Permits grants "reset" where Reset is set.
func (c counterConfig) Permits(perm string) bool { return perm == "reset" && c.Reset }

// Narrow lets a child hold fewer counters, and keep or drop Reset; asking
// for more is an ErrWiden.
func (c counterConfig) Narrow(child environment.HostConfig) (environment.HostConfig, error) {
	n, ok := child.(counterConfig)
	switch {
	case !ok:
		return nil, fmt.Errorf("%w: %T is not the counter module's configuration", environment.ErrInvalid, child)
	case n.Max > c.Max:
		return nil, fmt.Errorf("%w: Max %d is more than the parent's %d", environment.ErrWiden, n.Max, c.Max)
	case n.Reset && !c.Reset:
		return nil, fmt.Errorf("%w: Reset is not granted to the parent", environment.ErrWiden)
	}
	return n, nil
}

// counters is one process's state: its counters, by handle.
type counters struct {
	pid     uint64
	handles *hostapi.Handles[*int64]
}

// Close runs when the process ends, however it ends.
func (s *counters) Close(context.Context) {
	fmt.Printf("process %d ended holding %d counter(s)\n", s.pid, s.handles.Len())
	s.handles.Close(nil) // a real module closes its sockets here
}

// A host module with resources: each process has its own counters, named
// by handles no other process can use; the environment's configuration
// bounds how many it may hold and whether it may reset one; and what a
// process holds is released when it ends.
func Example_counter() {
	counter := hostapi.Module{
		Namespace:     "counter",
		DefaultConfig: counterConfig{}, // nothing allowed by default
		NewState: func(ctx context.Context, c *hostapi.Call) (hostapi.State, error) {
			cfg := c.Config().(counterConfig)
			return &counters{pid: c.Process().ID(), handles: hostapi.NewHandles[*int64](cfg.Max)}, nil
		},
		Funcs: []hostapi.Func{{
			Name:    "new",
			Results: []hostapi.ValType{hostapi.I32},
			Doc:     "new() -> handle, or -StatusLimit",
			Handler: func(ctx context.Context, c *hostapi.Call) error {
				h, err := c.State().(*counters).handles.Add(new(int64))
				if errors.Is(err, hostapi.ErrHandleLimit) {
					c.Return(-hostapi.StatusLimit)
					return nil
				}
				c.Return(int64(h))
				return err
			},
		}, {
			Name:    "add",
			Params:  []hostapi.ValType{hostapi.I32, hostapi.I64},
			Results: []hostapi.ValType{hostapi.I64},
			Doc:     "add(handle, n) -> the new value, or -StatusNotFound",
			Handler: func(ctx context.Context, c *hostapi.Call) error {
				v, ok := c.State().(*counters).handles.Get(int32(c.Arg(0)))
				if !ok {
					c.Return(-hostapi.StatusNotFound)
					return nil
				}
				*v += c.Arg(1)
				c.Return(*v)
				return nil
			},
		}, {
			Name:       "reset",
			Params:     []hostapi.ValType{hostapi.I32},
			Results:    []hostapi.ValType{hostapi.I32},
			Doc:        "reset(handle) -> status",
			Permission: "reset",
			Refused:    []int64{hostapi.StatusPermission},
			Handler: func(ctx context.Context, c *hostapi.Call) error {
				if v, ok := c.State().(*counters).handles.Get(int32(c.Arg(0))); ok {
					fmt.Printf("process %d: counter %d is %d, reset\n", c.Process().ID(), c.Arg(0), *v)
					*v = 0
					c.Return(hostapi.StatusOK)
				} else {
					c.Return(hostapi.StatusNotFound)
				}
				return nil
			},
		}},
	}

	ctx := context.Background()
	rt, err := runtime.New(runtime.WithHostModule(counter), runtime.WithRootEnvironment(environment.Config{
		Host: map[string]environment.HostConfig{"counter": counterConfig{Max: 4, Reset: true}},
	}))
	if err != nil {
		fmt.Println(err)
		return
	}
	defer rt.Close(ctx)
	// The guest opens a counter, adds 2 and 3, and exits with what reset
	// returns: 0 (StatusOK) where resetting is allowed.
	guest, err := rt.LoadModule(ctx, "guest", []byte(`(module
	  (import "counter" "new" (func $new (result i32)))
	  (import "counter" "add" (func $add (param i32 i64) (result i64)))
	  (import "counter" "reset" (func $reset (param i32) (result i32)))
	  (import "ward_process" "exit" (func $exit (param i32)))
	  (memory (export "memory") 1)
	  (func (export "run") (local $h i32)
	    (local.set $h (call $new))
	    (drop (call $add (local.get $h) (i64.const 2)))
	    (drop (call $add (local.get $h) (i64.const 3)))
	    (call $exit (call $reset (local.get $h)))))`))
	if err != nil {
		fmt.Println(err)
		return
	}
	reason, err := rt.Environment().Run(ctx, guest, "run")
	fmt.Println(reason, err)

	// A child environment may narrow the module's configuration: here,
	// one counter and no resetting. Its guest is refused with
	// StatusPermission (2), and the handler never runs.
	child, err := rt.NewEnvironment(environment.Config{
		Host: map[string]environment.HostConfig{"counter": counterConfig{Max: 1}},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	reason, err = child.Run(ctx, guest, "run")
	fmt.Println(reason, err)

	// It cannot widen it.
	_, err = child.NewChild(environment.Config{
		Host: map[string]environment.HostConfig{"counter": counterConfig{Max: 2}},
	})
	fmt.Println(errors.Is(err, environment.ErrWiden), err)
	// Output:
	// process 1: counter 1 is 5, reset
	// process 1 ended holding 1 counter(s)
	// normal <nil>
	// process 2 ended holding 1 counter(s)
	// process 2 exited with code 2 <nil>
	// true ward: new environment: a child environment would widen its parent: Host["counter"]: Max 2 is more than the parent's 1
}
