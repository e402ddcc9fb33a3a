package runtime_test

import (
	"context"
	"errors"
	"fmt"

	"github.com/wardrt/ward/runtime"
)

// counterWAT is a counter service: it counts the messages it gets, and on
// one under tag 2 upgrades, handing its count over; "resume" takes the
// count back. Version 2 counts in tens, and exits with its count when
// asked (tag 3), which lets the example see it.
func counterWAT(step int) string {
	return fmt.Sprintf(`(module
  (import "ward_process" "exit" (func $exit (param i32)))
  (import "ward_process" "upgrade" (func $upgrade (param i32 i32 i32 i32) (result i32)))
  (import "ward_message" "receive" (func $recv (param i32 i32 i64) (result i32)))
  (import "ward_message" "get_tag" (func $tag (result i64)))
  (import "ward_message" "read_data" (func $read (param i32 i32) (result i32)))
  (memory (export "memory") 1)
  (data (i32.const 64) "resume")
  (func $serve (loop $l
    (drop (call $recv (i32.const 0) (i32.const 0) (i64.const -1)))
    (if (i64.eq (call $tag) (i64.const 2))
      (then (drop (call $upgrade (i32.const 64) (i32.const 6) (i32.const 0) (i32.const 4))) (br $l)))
    (if (i64.eq (call $tag) (i64.const 3)) (then (call $exit (i32.load (i32.const 0)))))
    (i32.store (i32.const 0) (i32.add (i32.load (i32.const 0)) (i32.const %d)))
    (br $l)))
  (func (export "main") (call $serve))
  (func (export "resume")
    (drop (call $read (i32.const 0) (i32.const 4)))
    (call $serve)))`, step)
}

// Install gives a module name a current version; a running process moves
// to it when it asks, keeping its id, its mailbox and its state.
func ExampleRuntime_Install() {
	ctx := context.Background()
	rt, _ := runtime.New()
	defer rt.Close(ctx)

	v1, _ := rt.LoadModule(ctx, "counter", []byte(counterWAT(1)))
	rt.Install(ctx, "counter", "1.0.0", v1)
	v1.Close() // the runtime keeps a handle of its own
	current, _, _ := rt.Current("counter")
	p, _ := rt.Environment().Spawn(ctx, current, "main")
	for range 3 {
		rt.Send(ctx, p.ID(), runtime.Message{Tag: 1})
	}

	v2, _ := rt.LoadModule(ctx, "counter", []byte(counterWAT(10)))
	rt.Install(ctx, "counter", "2.0.0", v2)
	v2.Close()
	rt.Send(ctx, p.ID(), runtime.Message{Tag: 2}) // upgrade
	rt.Send(ctx, p.ID(), runtime.Message{Tag: 1})
	rt.Send(ctx, p.ID(), runtime.Message{Tag: 3}) // exit with the count

	reason, _ := p.Wait(ctx)
	var exit *runtime.ExitError
	if errors.As(reason, &exit) {
		fmt.Println("count:", exit.Code)
	}
	_, version, _ := rt.Current("counter")
	fmt.Println("ran", version, "at the end:", p.Module().Hash() == v2.Hash())
	// Output:
	// count: 13
	// ran 2.0.0 at the end: true
}
