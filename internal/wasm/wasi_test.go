package wasm

import (
	"fmt"
	"strings"
	"testing"

	"github.com/bytecodealliance/wasmtime-go/v25"

	"github.com/wardrt/ward/internal/abi"
)

// TestWASIShadowSignatures checks every shadow's name and signature
// against wasmtime's own WASI definitions: a module importing it with the
// table's signature must link with wasmtime's linker (a wrong name or type
// fails as an unknown or incompatible import), so a guest built for WASI
// links with ward's shadow too.
func TestWASIShadowSignatures(t *testing.T) {
	engine := wasmtime.NewEngine()
	linker := wasmtime.NewLinker(engine)
	if err := linker.DefineWasi(); err != nil {
		t.Fatal(err)
	}
	types := func(ts []abi.ValType) string {
		var b strings.Builder
		for _, v := range ts {
			b.WriteString(" " + map[abi.ValType]string{abi.I32: "i32", abi.I64: "i64"}[v])
		}
		return b.String()
	}
	for _, s := range WASIShadows {
		wat := fmt.Sprintf(`(module (import %q %q (func (param%s) (result%s))) (memory (export "memory") 1))`,
			WASIModule, s.Name, types(s.Params), types(s.Results))
		bin, err := wasmtime.Wat2Wasm(wat)
		if err != nil {
			t.Fatal(err)
		}
		m, err := wasmtime.NewModule(engine, bin)
		if err != nil {
			t.Fatal(err)
		}
		store := wasmtime.NewStore(engine)
		store.SetWasi(wasmtime.NewWasiConfig())
		if _, err := linker.Instantiate(store, m); err != nil {
			t.Errorf("%s.%s with the shadow table's signature does not link with wasmtime's WASI: %v", WASIModule, s.Name, err)
		}
	}
}

// TestWASIShadowsLinked checks that ward's engine routes each shadow to Go:
// a guest calling it stops at a host call with the shadow's id.
func TestWASIShadowsLinked(t *testing.T) {
	e := newTestEngine(t)
	for i, s := range WASIShadows {
		var args strings.Builder
		for range s.Params {
			args.WriteString(" (i32.const 0)")
		}
		wat := fmt.Sprintf(`(module (import %q %q (func $f (param%s) (result%s))) (memory (export "memory") 1)
			(func (export "run") (drop (call $f%s))))`, WASIModule, s.Name,
			strings.Repeat(" i32", len(s.Params)), strings.Repeat(" i32", len(s.Results)), args.String())
		m, err := e.Compile([]byte(wat))
		if err != nil {
			t.Fatal(err)
		}
		p, err := m.NewProc(1, 1<<20, 1<<40, nil)
		if err != nil {
			t.Fatal(err)
		}
		if err := p.SetWASI(WASI{}); err != nil {
			t.Fatal(err)
		}
		if err := p.SetEntry("run", nil, 0); err != nil {
			t.Fatal(err)
		}
		st := p.Start()
		for st == Yield {
			st = p.Poll()
		}
		if st != Host {
			t.Errorf("%s: status %v, want a host call", s.Name, st)
		} else if p.HostID() != WASIBase+i {
			t.Errorf("%s: host id %d, want %d", s.Name, p.HostID(), WASIBase+i)
		} else {
			p.Return(0)
			for st = p.Poll(); st == Yield; st = p.Poll() {
			}
			if o := p.Outcome(); st != Done || o.Kind != Returned {
				t.Errorf("%s: after the host call: %v %+v", s.Name, st, o)
			}
		}
		p.Free()
		m.Close()
	}
}
