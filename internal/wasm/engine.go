//go:build linux && (amd64 || arm64) && cgo

package wasm

// #cgo CFLAGS: -O2 -Wall
// #include <stdlib.h>
// #include "shim.h"
import "C"

import (
	"errors"
	"fmt"
	"reflect"
	goruntime "runtime"
	"sync"
	"time"
	"unsafe"

	"github.com/bytecodealliance/wasmtime-go/v25"

	"github.com/wardrt/ward/internal/abi"
)

// rawPtr returns the C pointer wasmtime-go keeps in the unexported first
// field `_ptr` of its objects. It checks the layout it relies on and fails
// loudly (an error at runtime.New) if a wasmtime-go upgrade changed it.
func rawPtr(obj any) (unsafe.Pointer, error) {
	v := reflect.ValueOf(obj)
	if v.Kind() != reflect.Pointer || v.IsNil() || v.Elem().Kind() != reflect.Struct {
		return nil, fmt.Errorf("ward: %T is not a pointer to a struct", obj)
	}
	t := v.Type().Elem()
	if t.NumField() == 0 {
		return nil, fmt.Errorf("ward: wasmtime-go %v has no fields; ward needs wasmtime-go v25.0.0", t)
	}
	f := t.Field(0)
	if f.Name != "_ptr" || f.Offset != 0 || f.Type.Kind() != reflect.Pointer {
		return nil, fmt.Errorf("ward: wasmtime-go %v does not start with a _ptr pointer field; ward needs wasmtime-go v25.0.0", t)
	}
	p := *(*unsafe.Pointer)(v.UnsafePointer())
	if p == nil {
		return nil, fmt.Errorf("ward: wasmtime-go %v is closed", t)
	}
	return p, nil
}

// EngineConfig sizes an engine.
type EngineConfig struct {
	StackSize     int           // fiber stack per running or parked call
	MaxWasmStack  int           // Wasm frames may use this much of it
	MaxStacks     int           // fiber stacks alive at once, across processes
	EpochInterval time.Duration // how often running guests yield
	// MemoryReserve is address space reserved beyond each linear memory so
	// it grows in place; 0 relocates and copies the memory on every grow.
	MemoryReserve uint64
	// Extra host functions, all served by Go; their ids follow abi.Funcs.
	Extra []HostFunc
	// RunSlots is the size of the runtime's run semaphore (RunGate); with
	// fewer than 2, receives never spin.
	RunSlots int
}

// HostFunc describes a host function defined outside abi.Funcs.
type HostFunc struct {
	Namespace, Name string
	Params, Results []abi.ValType
}

// Engine is a wasmtime engine configured for async execution, with a linker
// holding every host function in abi.Funcs and WASI preview1.
type Engine struct {
	gw        *wasmtime.Engine
	ptr       *C.wasm_engine_t
	stacks    *C.ward_stacks_t
	linker    *C.wasmtime_linker_t
	ticker    unsafe.Pointer
	descs     *C.ward_hostfn_t // C array, one per abi.Funcs entry; the linker points into it
	gate      *RunGate         // nil: receives never spin
	closeOnce sync.Once
}

// NewEngine builds the engine, its fiber stack pool, its epoch ticker and
// its linker.
func NewEngine(cfg EngineConfig) (*Engine, error) {
	if cfg.StackSize <= cfg.MaxWasmStack {
		return nil, fmt.Errorf("ward: fiber stack size %d must exceed the max Wasm stack %d", cfg.StackSize, cfg.MaxWasmStack)
	}
	// The hand-declared layouts in wt_types.h are checked against wasmtime's
	// headers by layout_test.go; this guards the Go view of them.
	if unsafe.Sizeof(C.wt_val_t{}) != 24 || unsafe.Sizeof(C.wt_extern_t{}) != 24 {
		return nil, errors.New("ward: internal/wasm/wt_types.h layouts are not those of wasmtime v25")
	}
	if C.WARD_MAX_TABLES != MaxTables || C.WARD_MAX_TABLE_ELEMENTS != MaxTableElements {
		return nil, errors.New("ward: internal/wasm: shim.h's table bounds differ from wasi.go's")
	}
	if C.WARD_PROCESS_COST != ProcessCost {
		return nil, errors.New("ward: internal/wasm: shim.h's WARD_PROCESS_COST differs from budget.go's ProcessCost")
	}
	wcfg := wasmtime.NewConfig()
	cp, err := rawPtr(wcfg)
	if err != nil {
		return nil, err
	}
	stacks := C.ward_config((*C.wasm_config_t)(cp), C.size_t(cfg.StackSize), C.size_t(cfg.MaxWasmStack), C.size_t(cfg.MaxStacks), C.uint64_t(cfg.MemoryReserve))
	if stacks == nil {
		return nil, errors.New("ward: out of memory configuring the engine")
	}
	gw := wasmtime.NewEngineWithConfig(wcfg) // now owns the config and the stack pool
	ep, err := rawPtr(gw)
	if err != nil {
		return nil, err
	}
	e := &Engine{gw: gw, ptr: (*C.wasm_engine_t)(ep), stacks: stacks}
	if cfg.RunSlots >= 2 {
		e.gate = newRunGate(cfg.RunSlots)
	}
	if err := e.link(cfg.Extra); err != nil {
		e.Close()
		return nil, err
	}
	e.ticker = C.ward_ticker_start(e.ptr, C.long(cfg.EpochInterval/time.Microsecond))
	if e.ticker == nil {
		e.Close()
		return nil, errors.New("ward: cannot start the epoch ticker thread")
	}
	return e, nil
}

func (e *Engine) link(extra []HostFunc) error {
	e.linker = C.wasmtime_linker_new(e.ptr)
	if err := cerr(C.wasmtime_linker_define_wasi(e.linker)); err != nil {
		return fmt.Errorf("ward: defining WASI: %w", err)
	}
	// Ids are positions in abi.Funcs, then len(abi.Funcs)+k for the k-th
	// extra function. Hosted and Builtin functions come as extras, served
	// by host modules: Builtin ones always, from the runtime, and Hosted
	// ones when registered.
	var funcs []abi.Func
	var ids []int
	for i, f := range abi.Funcs {
		if f.Impl == abi.C || f.Impl == abi.Go {
			funcs = append(funcs, f)
			ids = append(ids, i)
		}
	}
	for k, h := range extra {
		f := abi.Func{Namespace: h.Namespace, Name: h.Name, Impl: abi.Go}
		for _, t := range h.Params {
			f.Params = append(f.Params, abi.Param{Type: t})
		}
		for _, t := range h.Results {
			f.Results = append(f.Results, abi.Param{Type: t})
		}
		funcs = append(funcs, f)
		ids = append(ids, len(abi.Funcs)+k)
	}
	for i, w := range WASIShadows {
		f := abi.Func{Namespace: WASIModule, Name: w.Name, Impl: abi.Go}
		for _, t := range w.Params {
			f.Params = append(f.Params, abi.Param{Type: t})
		}
		for _, t := range w.Results {
			f.Results = append(f.Results, abi.Param{Type: t})
		}
		funcs = append(funcs, f)
		ids = append(ids, WASIBase+i)
	}
	n := len(funcs)
	e.descs = (*C.ward_hostfn_t)(C.calloc(C.size_t(n), C.size_t(unsafe.Sizeof(C.ward_hostfn_t{}))))
	descs := unsafe.Slice(e.descs, n)
	for i, f := range funcs {
		d := &descs[i]
		if len(f.Params) > C.WARD_MAX_HOST_ARGS || len(f.Results) > 4 {
			return fmt.Errorf("ward: host function %s.%s has too many params or results", f.Namespace, f.Name)
		}
		d.id = C.int32_t(ids[i])
		if f.Namespace == abi.NamespaceMessage && f.Name == "receive" {
			d.receive = 1 // see inbox.go
			if e.gate != nil {
				d.gate = e.gate.c // see spin.go
			}
		}
		if f.Namespace == abi.NamespaceMessage && f.Name == "send" {
			d.send = 1 // see inbox.go
		}
		d.nparams = C.uint8_t(len(f.Params))
		d.nresults = C.uint8_t(len(f.Results))
		for j, p := range f.Params {
			d.params[j] = C.uint8_t(p.Type)
		}
		for j, r := range f.Results {
			d.results[j] = C.uint8_t(r.Type)
		}
		ns, name := C.CString(f.Namespace), C.CString(f.Name)
		var err error
		if f.Impl == abi.C {
			impl := C.CString(f.Namespace + "." + f.Name)
			err = cerr(C.ward_define_c(e.linker, ns, name, impl, d))
			C.free(unsafe.Pointer(impl))
		} else {
			// A WASI shadow replaces wasmtime's definition of the same
			// name (see wasi.go); nothing else may be defined twice.
			shadow := f.Namespace == WASIModule
			C.wasmtime_linker_allow_shadowing(e.linker, C.bool(shadow))
			err = cerr(C.ward_define_async(e.linker, ns, name, d))
			C.wasmtime_linker_allow_shadowing(e.linker, false)
		}
		C.free(unsafe.Pointer(ns))
		C.free(unsafe.Pointer(name))
		if err != nil {
			return fmt.Errorf("ward: defining %s.%s: %w", f.Namespace, f.Name, err)
		}
	}
	return nil
}

// RunGate returns the run semaphore's count that spinning receives watch,
// or nil when they never spin (EngineConfig.RunSlots).
func (e *Engine) RunGate() *RunGate { return e.gate }

// StacksInUse reports fiber stacks held by live calls, and stacks mapped.
func (e *Engine) StacksInUse() (inUse, mapped int) {
	return int(C.ward_stacks_in_use(e.stacks)), int(C.ward_stacks_mapped(e.stacks))
}

// codeSettings names what the code wasmtime compiles depends on, besides
// the module: wasmtime's version and the settings ward_config (shim.c)
// makes that change the code (async, fuel and epoch checks, explicit
// bounds checks with no guard regions, no copy-on-write images). Update
// it with either, so that a compile cache keyed to it never hands code
// made for other settings to this engine.
const codeSettings = "wasmtime 25.0.0; async; fuel; epoch; static_memory_maximum_size=0; static_memory_guard_size=0; dynamic_memory_guard_size=0; dynamic_memory_reserved_for_growth=0; memory_init_cow=false"

// Fingerprint identifies, for a compile cache, the engines whose compiled
// code this engine can run: codeSettings and the architecture. The sizes
// EngineConfig sets (stacks, the Wasm stack bound, the memory reserve) are
// checked as the code runs, not compiled into it, so they are left out and
// changing them does not throw the cache away; wasmtime itself refuses
// code made under settings it cannot run.
func (e *Engine) Fingerprint() string {
	return codeSettings + "; " + goruntime.GOARCH
}

// Close stops the ticker and frees the linker and the engine. Every module
// and process of the engine must be freed first.
func (e *Engine) Close() {
	e.closeOnce.Do(func() {
		if e.ticker != nil {
			C.ward_ticker_stop(e.ticker)
		}
		if e.linker != nil {
			C.wasmtime_linker_delete(e.linker)
		}
		e.gw.Close() // drops the stack and memory pools through their finalizers
		if e.descs != nil {
			C.free(unsafe.Pointer(e.descs))
		}
		C.ward_trim()
	})
}

func cerr(e *C.wasmtime_error_t) error {
	if e == nil {
		return nil
	}
	s := C.ward_error_message(e)
	defer C.free(unsafe.Pointer(s))
	return errors.New(C.GoString(s))
}
