package runtime_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/wardrt/ward/runtime"
)

// echoGuest answers every message with the same tag and data, to its
// sender, using the ward_message host functions.
const echoGuest = `(module
  (import "ward_message" "receive" (func $receive (param i32 i32 i64) (result i32)))
  (import "ward_message" "read_data" (func $read (param i32 i32) (result i32)))
  (import "ward_message" "create_data" (func $create (param i64)))
  (import "ward_message" "write_data" (func $write (param i32 i32) (result i32)))
  (import "ward_message" "get_tag" (func $tag (result i64)))
  (import "ward_message" "sender" (func $sender (result i64)))
  (import "ward_message" "send" (func $send (param i64) (result i32)))
  (memory (export "memory") 1)
  (func (export "echo") (local $n i32)
    (loop $l
      (drop (call $receive (i32.const 0) (i32.const 0) (i64.const -1)))
      (local.set $n (call $read (i32.const 0) (i32.const 65536)))
      (call $create (call $tag))
      (drop (call $write (i32.const 0) (local.get $n)))
      (drop (call $send (call $sender)))
      (br $l)))
  ;; crash_on_message: trap at the first message
  (func (export "crash_on_message")
    (drop (call $receive (i32.const 0) (i32.const 0) (i64.const -1)))
    unreachable))`

// Go code asks a Wasm process and waits for its answer: Request sends under
// a fresh tag and returns the first message back with that tag.
func ExampleRuntime_Request() {
	ctx := context.Background()
	rt, _ := runtime.New(runtime.WithLogger(quietLogger()))
	defer rt.Close(ctx)
	mod, _ := rt.LoadModule(ctx, "echo", []byte(echoGuest))
	echo, _ := rt.Environment().Spawn(ctx, mod, "echo")

	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	reply, err := rt.Request(ctx, echo.ID(), runtime.Message{Data: []byte("ping")})
	fmt.Printf("%s %v\n", reply.Data, err)
	// Output: ping <nil>
}

// A Go-native process has a mailbox and an id like a Wasm process, so the
// two message each other both ways. Here it sends a typed (CBOR) request to
// a Wasm echo and decodes the answer.
func ExampleEnvironment_SpawnGo() {
	ctx := context.Background()
	rt, _ := runtime.New(runtime.WithLogger(quietLogger()))
	defer rt.Close(ctx)
	mod, _ := rt.LoadModule(ctx, "echo", []byte(echoGuest))
	env := rt.Environment()
	echo, _ := env.Spawn(ctx, mod, "echo")

	type point struct{ X, Y int }
	client, _ := env.SpawnGo(ctx, "client", func(ctx context.Context, self *runtime.Self) error {
		req, err := runtime.EncodeMessage(0, point{X: 3, Y: 4})
		if err != nil {
			return err
		}
		reply, err := self.Request(ctx, echo.ID(), req)
		if err != nil {
			return err
		}
		var p point
		if err := runtime.DecodeMessage(reply, &p); err != nil {
			return err
		}
		fmt.Println("echoed", p)
		return nil
	})
	reason, _ := client.Wait(ctx)
	fmt.Println(reason)
	// Output:
	// echoed {3 4}
	// normal
}

// A monitor delivers one DOWN message when the watched process ends, with
// its reason: here a Wasm process that traps when told to. (Monitoring a
// process that has already ended delivers DOWN with NoProc at once.)
func ExampleSelf_Monitor() {
	ctx := context.Background()
	rt, _ := runtime.New(runtime.WithLogger(quietLogger()))
	defer rt.Close(ctx)
	mod, _ := rt.LoadModule(ctx, "echo", []byte(echoGuest))
	env := rt.Environment()

	watcher, _ := env.SpawnGo(ctx, "watcher", func(ctx context.Context, self *runtime.Self) error {
		crasher, err := env.Spawn(ctx, mod, "crash_on_message")
		if err != nil {
			return err
		}
		if _, err := self.Monitor(crasher.ID()); err != nil {
			return err
		}
		if err := self.Send(crasher.ID(), runtime.Message{}); err != nil {
			return err
		}
		m, err := self.Receive(ctx, runtime.TagDown)
		if err != nil {
			return err
		}
		down, _ := runtime.ParseDown(m)
		var trap *runtime.TrapError
		if errors.As(down.Reason, &trap) {
			fmt.Println("down:", trap.Code, "in", trap.Entry)
		}
		return nil
	})
	watcher.Wait(ctx)
	// Output: down: unreachable in crash_on_message
}

// A link ties two processes' fates; a process that traps exits gets the
// peer's end as a message instead of ending with it.
func ExampleSelf_TrapExit() {
	ctx := context.Background()
	rt, _ := runtime.New(runtime.WithLogger(quietLogger()))
	defer rt.Close(ctx)
	mod, _ := rt.LoadModule(ctx, "echo", []byte(echoGuest))
	env := rt.Environment()

	supervisor, _ := env.SpawnGo(ctx, "supervisor", func(ctx context.Context, self *runtime.Self) error {
		self.TrapExit(true)
		worker, err := env.Spawn(ctx, mod, "echo")
		if err != nil {
			return err
		}
		if err := self.Link(worker.ID()); err != nil {
			return err
		}
		worker.Kill()
		m, err := self.Receive(ctx, runtime.TagExit)
		if err != nil {
			return err
		}
		exit, _ := runtime.ParseExit(m)
		fmt.Println("worker ended:", exit.Reason)
		return nil
	})
	reason, _ := supervisor.Wait(ctx)
	fmt.Println("supervisor:", reason)
	// Output:
	// worker ended: killed
	// supervisor: normal
}

// SendAfter is a timer: the message arrives after the delay unless
// CancelTimer stops it first.
func ExampleRuntime_SendAfter() {
	ctx := context.Background()
	rt, _ := runtime.New(runtime.WithLogger(quietLogger()))
	defer rt.Close(ctx)

	p, _ := rt.Environment().SpawnGo(ctx, "sleeper", func(ctx context.Context, self *runtime.Self) error {
		m, err := self.Receive(ctx, 7)
		if err != nil {
			return err
		}
		fmt.Printf("woken by %q\n", m.Data)
		return nil
	})
	cancelled, _ := rt.SendAfter(time.Hour, p.ID(), runtime.Message{Tag: 7, Data: []byte("never")})
	rt.CancelTimer(cancelled)
	rt.SendAfter(10*time.Millisecond, p.ID(), runtime.Message{Tag: 7, Data: []byte("timer")})
	p.Wait(ctx)
	// Output: woken by "timer"
}
