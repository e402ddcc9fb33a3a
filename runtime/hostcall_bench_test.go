package runtime

import (
	"context"
	"io"
	"log/slog"
	"testing"

	"github.com/wardrt/ward/hostapi"
)

// hostCallGuest calls bench.ping n times from one process.
const hostCallGuest = `(module
  (import "bench" "ping" (func $ping (param i32) (result i32)))
  (memory (export "memory") 1)
  (func (export "loop") (param $n i32)
    (loop $l
      (drop (call $ping (local.get $n)))
      (local.tee $n (i32.sub (local.get $n) (i32.const 1)))
      (br_if $l))))`

// benchHostCalls runs b.N calls of bench.ping, served by mod, in one
// process: ns/op is one host-module call, guest to Go handler and back.
func benchHostCalls(b *testing.B, mod hostapi.Module) {
	ctx := context.Background()
	r, err := New(WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil))), WithHostModule(mod))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { r.Close(ctx) })
	m, err := r.LoadModule(ctx, "hostcall", []byte(hostCallGuest))
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	if reason, err := r.Environment().Run(ctx, m, "loop", I32(int32(max(b.N, 1)))); err != nil || reason != Normal {
		b.Fatal(reason, err)
	}
}

// BenchmarkHostCall: a host module function with no state, permission or
// configuration, the path every hostapi call takes.
func BenchmarkHostCall(b *testing.B) {
	benchHostCalls(b, hostapi.Module{Namespace: "bench", Funcs: []hostapi.Func{{
		Name: "ping", Params: []hostapi.ValType{hostapi.I32}, Results: []hostapi.ValType{hostapi.I32},
		Handler: func(ctx context.Context, c *hostapi.Call) error { c.Return(c.Arg(0)); return nil },
	}}})
}
