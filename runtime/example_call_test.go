package runtime_test

import (
	"context"
	"fmt"

	"github.com/wardrt/ward/runtime"
)

// A plugin that upper-cases what it is sent: it takes the first message
// and replies under its tag to its sender, as any guest language can.
const upperWAT = `(module
  (import "ward_message" "receive" (func $receive (param i32 i32 i64) (result i32)))
  (import "ward_message" "read_data" (func $read (param i32 i32) (result i32)))
  (import "ward_message" "get_tag" (func $tag (result i64)))
  (import "ward_message" "sender" (func $sender (result i64)))
  (import "ward_message" "create_data" (func $create (param i64)))
  (import "ward_message" "write_data" (func $write (param i32 i32) (result i32)))
  (import "ward_message" "send" (func $send (param i64) (result i32)))
  (memory (export "memory") 1)
  (func (export "upper") (local $n i32) (local $i i32)
    (drop (call $receive (i32.const 0) (i32.const 0) (i64.const -1)))
    (local.set $n (call $read (i32.const 0) (i32.const 65536)))
    (block $d (loop $l
      (br_if $d (i32.ge_u (local.get $i) (local.get $n)))
      (if (i32.and (i32.ge_u (i32.load8_u (local.get $i)) (i32.const 97)) (i32.le_u (i32.load8_u (local.get $i)) (i32.const 122)))
        (then (i32.store8 (local.get $i) (i32.sub (i32.load8_u (local.get $i)) (i32.const 32)))))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br $l)))
    (call $create (call $tag))
    (drop (call $write (i32.const 0) (local.get $n)))
    (drop (call $send (call $sender)))))`

// Call is the plugin call: a fresh process, the input in, the reply out.
func ExampleEnvironment_Call() {
	ctx := context.Background()
	rt, _ := runtime.New()
	defer rt.Close(ctx)
	plugin, _ := rt.LoadModule(ctx, "upper", []byte(upperWAT))
	out, err := rt.Environment().Call(ctx, plugin, "upper", []byte("hello, plugin"))
	fmt.Println(string(out), err)
	// Output: HELLO, PLUGIN <nil>
}
