package abi_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/bytecodealliance/wasmtime-go/v25"

	"github.com/wardrt/ward/hostapi"
	"github.com/wardrt/ward/internal/abi"
	"github.com/wardrt/ward/internal/hoststub"
	"github.com/wardrt/ward/internal/tools/abigen/gen"
	"github.com/wardrt/ward/runtime"
)

// importsWAT is a module importing every function in funcs with exactly the
// signature given there. It does nothing else; it exports a memory, like
// any real guest.
func importsWAT(funcs []abi.Func) string {
	var b strings.Builder
	b.WriteString("(module\n")
	for i, f := range funcs {
		fmt.Fprintf(&b, "  %s\n", gen.WATImport(f, fmt.Sprintf("f%d", i)))
	}
	b.WriteString("  (memory (export \"memory\") 1)\n")
	b.WriteString("  (func (export \"main\"))\n")
	b.WriteString(")\n")
	return b.String()
}

// compileWAT turns WAT into Wasm and checks, with a plain wasmtime engine
// and no linker, that the result is a valid module: a LoadModule failure
// afterwards is then about its imports, not its form.
func compileWAT(t *testing.T, wat string) []byte {
	t.Helper()
	bin, err := wasmtime.Wat2Wasm(wat)
	if err != nil {
		t.Fatalf("wat2wasm: %v\n%s", err, wat)
	}
	m, err := wasmtime.NewModule(wasmtime.NewEngine(), bin)
	if err != nil {
		t.Fatalf("wasmtime rejects the module itself: %v\n%s", err, wat)
	}
	m.Close()
	return bin
}

func newRuntime(t *testing.T) *runtime.Runtime {
	t.Helper()
	opts := []runtime.Option{runtime.WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil)))}
	for _, m := range hostedStubs(t) {
		opts = append(opts, runtime.WithHostModule(m))
	}
	rt, err := runtime.New(opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := rt.Close(ctx); err != nil {
			t.Errorf("closing the runtime: %v", err)
		}
	})
	return rt
}

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(cancel)
	return c
}

// TestAllImports is the all-imports signature test: one module importing
// every function of abi.Funcs with the table's signature must load, which
// resolves each import against ward's real linker. It is built from the
// table rather than kept as a file, so it cannot drift from it (lunatic's
// hand-kept all_imports.wat did).
func TestAllImports(t *testing.T) {
	rt := newRuntime(t)
	bin := compileWAT(t, importsWAT(abi.Funcs))
	m, err := rt.LoadModule(ctx(t), "all", bin)
	if err != nil {
		t.Fatalf("ward's linker rejects the table's own signatures: %v", err)
	}
	imports := m.Imports()
	if len(imports) != len(abi.Funcs) {
		t.Fatalf("module has %d imports, table has %d functions", len(imports), len(abi.Funcs))
	}
	for i, f := range abi.Funcs {
		if imports[i].Module != f.Namespace || imports[i].Name != f.Name {
			t.Errorf("import %d is %s.%s, want %s.%s", i, imports[i].Module, imports[i].Name, f.Namespace, f.Name)
		}
	}
}

// flip returns f with its first param's type changed (i32 <-> i64), or its
// result's if it has no params.
func flip(f abi.Func) abi.Func {
	other := func(t abi.ValType) abi.ValType {
		if t == abi.I32 {
			return abi.I64
		}
		return abi.I32
	}
	if len(f.Params) > 0 {
		f.Params = append([]abi.Param(nil), f.Params...)
		f.Params[0].Type = other(f.Params[0].Type)
	} else {
		f.Results = append([]abi.Param(nil), f.Results...)
		f.Results[0].Type = other(f.Results[0].Type)
	}
	return f
}

// namesImport reports whether err names f as wasmtime spells an import,
// `namespace::name`.
func namesImport(err error, f abi.Func) bool {
	return strings.Contains(err.Error(), "`"+f.Namespace+"::"+f.Name+"`")
}

// TestAllImportsCatchesWrongSignature proves the signature test can fail:
// for every function in turn, the all-imports module with that one
// function's first param (or its result) switched between i32 and i64 must
// not load, and the error must name the import.
func TestAllImportsCatchesWrongSignature(t *testing.T) {
	rt := newRuntime(t)
	for i, f := range abi.Funcs {
		if len(f.Params) == 0 && len(f.Results) == 0 {
			continue // nothing to flip; the extra-param case below covers it
		}
		funcs := append([]abi.Func(nil), abi.Funcs...)
		funcs[i] = flip(f)
		_, err := rt.LoadModule(ctx(t), "wrong", compileWAT(t, importsWAT(funcs)))
		if err == nil {
			t.Errorf("%s.%s with a flipped type loaded", f.Namespace, f.Name)
			continue
		}
		if !namesImport(err, f) {
			t.Errorf("%s.%s with a flipped type: error does not name the import: %v", f.Namespace, f.Name, err)
		}
		if i == 0 {
			t.Logf("e.g. %s.%s: %v", f.Namespace, f.Name, err)
		}
	}

	// An extra param is a mismatch too.
	funcs := append([]abi.Func(nil), abi.Funcs...)
	f := funcs[0]
	f.Params = append(append([]abi.Param(nil), f.Params...), abi.Param{Name: "extra", Type: abi.I32})
	funcs[0] = f
	if _, err := rt.LoadModule(ctx(t), "extra", compileWAT(t, importsWAT(funcs))); err == nil {
		t.Errorf("%s.%s with an extra param loaded", f.Namespace, f.Name)
	}
}

// TestAllImportsCatchesUnknownFunction: a function the table does not have,
// in a namespace it has and in one it does not, must not load.
func TestAllImportsCatchesUnknownFunction(t *testing.T) {
	rt := newRuntime(t)
	for _, extra := range []abi.Func{
		{Namespace: abi.NamespaceProcess, Name: "no_such_function", Params: []abi.Param{{Name: "x", Type: abi.I32}}},
		{Namespace: "ward_no_such_namespace", Name: "self", Results: []abi.Param{{Name: "id", Type: abi.I64}}},
	} {
		if _, _, ok := abi.Lookup(extra.Namespace, extra.Name); ok {
			t.Fatalf("%s.%s is in the table; pick another name", extra.Namespace, extra.Name)
		}
		funcs := append(append([]abi.Func(nil), abi.Funcs...), extra)
		_, err := rt.LoadModule(ctx(t), "unknown", compileWAT(t, importsWAT(funcs)))
		if err == nil {
			t.Errorf("a module importing %s.%s loaded", extra.Namespace, extra.Name)
			continue
		}
		if !namesImport(err, extra) {
			t.Errorf("importing %s.%s: error does not name the import: %v", extra.Namespace, extra.Name, err)
		}
		t.Logf("%s.%s: %v", extra.Namespace, extra.Name, err)
	}
}

// hostedStubs links every hosted namespace of the table (hoststub).
func hostedStubs(t *testing.T) []hostapi.Module {
	t.Helper()
	mods, err := hoststub.Modules()
	if err != nil {
		t.Fatal(err)
	}
	return mods
}
