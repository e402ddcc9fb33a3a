//go:build linux && (amd64 || arm64) && cgo

package wasm

// #include <stdlib.h>
// #include "shim.h"
import "C"

import (
	"bytes"
	"fmt"
	"sync"
	"unsafe"

	"github.com/bytecodealliance/wasmtime-go/v25"
)

// Import is one import of a module.
type Import struct{ Module, Name string }

// FuncType is an exported function's signature, as value kinds.
type FuncType struct {
	Params  []ValKind
	Results []ValKind
}

// ValKind is a Wasm value type.
type ValKind uint8

// Value kinds, numbered as wasmtime numbers them.
const (
	KindI32 ValKind = 0
	KindI64 ValKind = 1
	KindF32 ValKind = 2
	KindF64 ValKind = 3
	KindRef ValKind = 255 // anything else: spawn cannot pass it
)

func (k ValKind) String() string {
	switch k {
	case KindI32:
		return "i32"
	case KindI64:
		return "i64"
	case KindF32:
		return "f32"
	case KindF64:
		return "f64"
	}
	return "ref"
}

// Module is a compiled module with its imports resolved once against the
// engine's linker (an InstancePre), so spawning does no import resolution.
type Module struct {
	engine  *Engine
	gw      *wasmtime.Module
	pre     *C.wasmtime_instance_pre_t
	Imports []Import
	Exports map[string]FuncType // exported functions only
	// HasInit is true for reactors (an _initialize export, run before entry).
	HasInit bool
	// UsesWASI is true when the module imports wasi_snapshot_preview1.
	UsesWASI bool
	// IsGo is true for a module the Go toolchain built (ReadTables): its
	// runtime reports panics only on stderr.
	IsGo bool
	// Tables and TableElements are the tables a process of the module may
	// have and the elements each may hold (see ReadTables): the limit
	// NewProc sets and charges to the budget.
	Tables, TableElements uint32
	// pool holds stores its processes returned in, for the next ones
	// (shim.c, "Store reuse"); nil for WASI modules, whose stores hold
	// their processes' WASI contexts.
	pool *C.ward_storepool_t
	// cNames holds the entry names its processes were started with, in C
	// (string to *C.char), until Close: a spawn then costs no malloc and
	// free in C, two cgo calls, for its entry's name. Entries are exports,
	// so the names are few.
	cNames    sync.Map
	closeOnce sync.Once
}

// cName returns name in C memory that lives until Close.
func (m *Module) cName(name string) *C.char {
	if c, ok := m.cNames.Load(name); ok {
		return c.(*C.char)
	}
	c := C.CString(name)
	if old, loaded := m.cNames.LoadOrStore(name, c); loaded {
		C.free(unsafe.Pointer(c))
		return old.(*C.char)
	}
	return c
}

// Compile compiles Wasm bytes (or WAT text) for this engine.
func (e *Engine) Compile(wasm []byte) (*Module, error) {
	if !bytes.HasPrefix(wasm, []byte("\x00asm")) {
		bin, err := wasmtime.Wat2Wasm(string(wasm))
		if err != nil {
			return nil, fmt.Errorf("neither a Wasm binary nor valid WAT: %w", err)
		}
		wasm = bin
	}
	gm, err := wasmtime.NewModule(e.gw, wasm)
	if err != nil {
		return nil, err
	}
	return e.prepare(gm)
}

func (e *Engine) prepare(gm *wasmtime.Module) (*Module, error) {
	m := &Module{engine: e, gw: gm, Exports: map[string]FuncType{}, Tables: MaxTables, TableElements: MaxTableElements}
	for _, it := range gm.Imports() {
		name := ""
		if it.Name() != nil {
			name = *it.Name()
		}
		m.Imports = append(m.Imports, Import{Module: it.Module(), Name: name})
		if it.Module() == "wasi_snapshot_preview1" {
			m.UsesWASI = true
		}
	}
	for _, ex := range gm.Exports() {
		ft := ex.Type().FuncType()
		if ft == nil {
			continue
		}
		m.Exports[ex.Name()] = FuncType{Params: kinds(ft.Params()), Results: kinds(ft.Results())}
	}
	if ft, ok := m.Exports["_initialize"]; ok && len(ft.Params) == 0 {
		m.HasInit = true
	}
	mp, err := rawPtr(gm)
	if err != nil {
		gm.Close()
		return nil, err
	}
	if err := cerr(C.wasmtime_linker_instantiate_pre(e.linker, (*C.wasmtime_module_t)(mp), &m.pre)); err != nil {
		gm.Close()
		return nil, fmt.Errorf("resolving imports: %w", err)
	}
	if !m.UsesWASI {
		m.pool = C.ward_storepool_new()
	}
	return m, nil
}

func kinds(vs []*wasmtime.ValType) []ValKind {
	out := make([]ValKind, len(vs))
	for i, v := range vs {
		switch v.Kind() {
		case wasmtime.KindI32:
			out[i] = KindI32
		case wasmtime.KindI64:
			out[i] = KindI64
		case wasmtime.KindF32:
			out[i] = KindF32
		case wasmtime.KindF64:
			out[i] = KindF64
		default:
			out[i] = KindRef
		}
	}
	return out
}

// Serialize returns the compiled machine code, for a disk cache.
func (m *Module) Serialize() ([]byte, error) { return m.gw.Serialize() }

// Close frees the module. Processes already instantiated from it keep
// their own references inside wasmtime.
func (m *Module) Close() {
	m.closeOnce.Do(func() {
		C.ward_storepool_close(m.pool)
		if m.pre != nil {
			C.wasmtime_instance_pre_delete(m.pre)
		}
		m.gw.Close()
		// Every process of the module is freed by now.
		for _, c := range m.cNames.Range {
			C.free(unsafe.Pointer(c.(*C.char)))
		}
	})
}

var cInitName = C.CString("_initialize") // lives as long as the program
