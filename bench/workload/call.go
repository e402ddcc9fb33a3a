package workload

import (
	"bytes"
	"context"
	"fmt"

	extism "github.com/extism/go-sdk"
	"github.com/wardrt/ward/runtime"
)

// The plugin call: 8 bytes in, the same 8 bytes out, through a fresh
// instance each time, on ward (Environment.Call) and on Extism
// (Plugin.Call on a new instance of a compiled plugin).

// WardCallWAT answers the first message with its data, under its tag, to
// its sender: the plugin side of Environment.Call.
const WardCallWAT = `(module
  (import "ward_message" "receive" (func $receive (param i32 i32 i64) (result i32)))
  (import "ward_message" "read_data" (func $read (param i32 i32) (result i32)))
  (import "ward_message" "get_tag" (func $tag (result i64)))
  (import "ward_message" "sender" (func $sender (result i64)))
  (import "ward_message" "create_data" (func $create (param i64)))
  (import "ward_message" "write_data" (func $write (param i32 i32) (result i32)))
  (import "ward_message" "send" (func $send (param i64) (result i32)))
  (memory (export "memory") 1)
  (func (export "echo") (local $n i32)
    (drop (call $receive (i32.const 0) (i32.const 0) (i64.const -1)))
    (local.set $n (call $read (i32.const 0) (i32.const 65536)))
    (call $create (call $tag))
    (drop (call $write (i32.const 0) (local.get $n)))
    (drop (call $send (call $sender)))))`

// ExtismEchoWAT is the same plugin for Extism's kernel: its input, copied
// 8 bytes at a time, becomes its output.
const ExtismEchoWAT = `(module
  (import "extism:host/env" "input_length" (func $input_length (result i64)))
  (import "extism:host/env" "input_load_u64" (func $input_load_u64 (param i64) (result i64)))
  (import "extism:host/env" "alloc" (func $alloc (param i64) (result i64)))
  (import "extism:host/env" "store_u64" (func $store_u64 (param i64 i64)))
  (import "extism:host/env" "output_set" (func $output_set (param i64 i64)))
  (memory (export "memory") 1)
  (func (export "echo") (result i32) (local $n i64) (local $off i64) (local $i i64)
    (local.set $n (call $input_length))
    (local.set $off (call $alloc (local.get $n)))
    (block $d (loop $l
      (br_if $d (i64.ge_u (local.get $i) (local.get $n)))
      (call $store_u64 (i64.add (local.get $off) (local.get $i)) (call $input_load_u64 (local.get $i)))
      (local.set $i (i64.add (local.get $i) (i64.const 8)))
      (br $l)))
    (call $output_set (local.get $off) (local.get $n))
    (i32.const 0)))`

var callInput = []byte("8 bytes!")

// Caller makes plugin calls on ward.
type Caller struct {
	rt  *runtime.Runtime
	mod *runtime.Module
}

// NewCaller loads the echo plugin into a runtime of w.
func (w *Ward) NewCaller() (*Caller, error) {
	m, err := w.rt.LoadModule(context.Background(), "echo", []byte(WardCallWAT))
	if err != nil {
		return nil, err
	}
	return &Caller{rt: w.rt, mod: m}, nil
}

// Call makes one Environment.Call and checks the answer.
func (c *Caller) Call() error {
	out, err := c.rt.Environment().Call(context.Background(), c.mod, "echo", callInput)
	if err != nil {
		return err
	}
	if !bytes.Equal(out, callInput) {
		return fmt.Errorf("call answered %q", out)
	}
	return nil
}

// ExtismCaller makes plugin calls on Extism.
type ExtismCaller struct{ cp *extism.CompiledPlugin }

// NewExtismCaller compiles the Extism echo plugin.
func NewExtismCaller() (*ExtismCaller, error) {
	bin, err := wat2wasm(ExtismEchoWAT)
	if err != nil {
		return nil, err
	}
	manifest := extism.Manifest{Wasm: []extism.Wasm{extism.WasmData{Data: bin}}}
	cp, err := extism.NewCompiledPlugin(context.Background(), manifest, extism.PluginConfig{}, nil)
	if err != nil {
		return nil, err
	}
	return &ExtismCaller{cp: cp}, nil
}

// Call makes one Plugin.Call on a fresh instance and checks the answer.
func (c *ExtismCaller) Call() error {
	ctx := context.Background()
	p, err := c.cp.Instance(ctx, extism.PluginInstanceConfig{})
	if err != nil {
		return err
	}
	defer p.Close(ctx)
	rc, out, err := p.Call("echo", callInput)
	if err != nil {
		return err
	}
	if rc != 0 || !bytes.Equal(out, callInput) {
		return fmt.Errorf("call answered %d, %q", rc, out)
	}
	return nil
}

// Close closes the compiled plugin.
func (c *ExtismCaller) Close() error { return c.cp.Close(context.Background()) }
