package runtime

import (
	"math"

	"github.com/wardrt/ward/internal/wasm"
)

// Value is an argument to a process's entry function.
type Value struct{ v wasm.Value }

// I32 makes an i32 argument.
func I32(v int32) Value { return Value{wasm.Value{Kind: wasm.KindI32, Bits: int64(v)}} }

// I64 makes an i64 argument.
func I64(v int64) Value { return Value{wasm.Value{Kind: wasm.KindI64, Bits: v}} }

// F32 makes an f32 argument.
func F32(v float32) Value {
	return Value{wasm.Value{Kind: wasm.KindF32, Bits: int64(math.Float32bits(v))}}
}

// F64 makes an f64 argument.
func F64(v float64) Value {
	return Value{wasm.Value{Kind: wasm.KindF64, Bits: int64(math.Float64bits(v))}}
}
