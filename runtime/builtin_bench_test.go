package runtime

import (
	"context"
	"io"
	"log/slog"
	"testing"

	"github.com/wardrt/ward/environment"
)

// builtinCallGuest calls one function of ward's own namespaces n times
// from one process, with arguments that find nothing: the cost of the
// call itself, guest to Go and back, not of the work behind it.
const builtinCallGuest = `(module
  (import "ward_module" "drop" (func $mdrop (param i64) (result i32)))
  (import "ward_environment" "drop" (func $edrop (param i64) (result i32)))
  (import "ward_registry" "lookup" (func $lookup (param i32 i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  (data (i32.const 0) "missing")
  (func (export "module_drop") (param $n i32)
    (loop $l
      (drop (call $mdrop (i64.const 0x1234567)))
      (local.tee $n (i32.sub (local.get $n) (i32.const 1)))
      (br_if $l)))
  (func (export "environment_drop") (param $n i32)
    (loop $l
      (drop (call $edrop (i64.const 0x1234567)))
      (local.tee $n (i32.sub (local.get $n) (i32.const 1)))
      (br_if $l)))
  (func (export "registry_lookup") (param $n i32)
    (loop $l
      (drop (call $lookup (i32.const 0) (i32.const 7) (i32.const 0) (i32.const 0) (i32.const 64)))
      (local.tee $n (i32.sub (local.get $n) (i32.const 1)))
      (br_if $l))))`

// benchBuiltin runs b.N calls of entry's function in one process: ns/op
// is one call.
func benchBuiltin(b *testing.B, entry string) {
	ctx := context.Background()
	r, err := New(WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil))),
		WithRootEnvironment(environment.Config{Permissions: environment.Permissions{
			Spawn: environment.Allow, CompileModules: environment.Allow, CreateEnvironments: environment.Allow,
		}}))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { r.Close(ctx) })
	m, err := r.LoadModule(ctx, "builtin", []byte(builtinCallGuest))
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	if reason, err := r.Environment().Run(ctx, m, entry, I32(int32(max(b.N, 1)))); err != nil || reason != Normal {
		b.Fatal(reason, err)
	}
}

// BenchmarkBuiltinModuleDrop: ward_module.drop of a token the caller
// does not hold.
func BenchmarkBuiltinModuleDrop(b *testing.B) { benchBuiltin(b, "module_drop") }

// BenchmarkBuiltinEnvironmentDrop: ward_environment.drop of a token the
// caller does not hold.
func BenchmarkBuiltinEnvironmentDrop(b *testing.B) { benchBuiltin(b, "environment_drop") }

// BenchmarkBuiltinRegistryLookup: ward_registry.lookup of a name nobody
// registered.
func BenchmarkBuiltinRegistryLookup(b *testing.B) { benchBuiltin(b, "registry_lookup") }
