package runtime_test

import (
	"context"
	"fmt"

	"github.com/wardrt/ward/runtime"
)

// Process starts and ends go to a hook, here a buffered channel a logger
// could drain; Stats counts them by how they ended.
func ExampleWithEvents() {
	ctx := context.Background()
	events := make(chan runtime.Event, 16) // the hook must not block
	rt, _ := runtime.New(runtime.WithLogger(quietLogger()), runtime.WithEvents(func(e runtime.Event) {
		select {
		case events <- e:
		default: // full: drop rather than stall the process
		}
	}))
	defer rt.Close(ctx)
	mod, _ := rt.LoadModule(ctx, "guest", []byte(guest))

	p, _ := rt.Environment().Spawn(ctx, mod, "crash")
	p.Wait(ctx)
	for range 2 {
		e := <-events
		if e.Kind == runtime.EventStart {
			fmt.Println("start", e.Module, e.Entry)
		} else {
			fmt.Println("end", e.Module, e.Entry, e.End)
		}
	}
	s := rt.Stats()
	fmt.Println("spawned", s.Spawned, "trapped", s.Ended[runtime.EndTrap])
	// Output:
	// start guest crash
	// end guest crash trap
	// spawned 1 trapped 1
}
