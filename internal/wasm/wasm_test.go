package wasm

import (
	"strings"
	"testing"
	"time"

	"github.com/wardrt/ward/internal/abi"
)

const testWAT = `(module
  (import "ward_process" "self" (func $self (result i64)))
  (import "ward_process" "exit" (func $exit (param i32)))
  (import "ward_process" "sleep_ms" (func $sleep (param i64)))
  (memory (export "memory") 1)
  (func (export "id") (result i64) (call $self))
  (func (export "add") (param i32 i64) (result i64) (i64.add (i64.extend_i32_s (local.get 0)) (local.get 1)))
  (func (export "sleepy") (call $sleep (i64.const 5)))
  (func (export "bye") (call $exit (i32.const 7)))
  (func (export "spin") (loop $l (br $l)))
  (func (export "boom") unreachable)
)`

func newTestEngine(t testing.TB) *Engine {
	t.Helper()
	e, err := NewEngine(EngineConfig{StackSize: 2 << 20, MaxWasmStack: 512 << 10, MaxStacks: 4096, EpochInterval: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(e.Close)
	return e
}

// drive runs p to the end, serving host calls like the runtime would, and
// giving up after maxYields epoch yields.
func drive(t testing.TB, p *Proc, maxYields int) (Outcome, int) {
	st, yields := p.Start(), 0
	for st != Done {
		switch st {
		case Yield:
			yields++
			if yields > maxYields {
				p.Cancel()
				return Outcome{Kind: -1}, yields
			}
			st = p.Poll()
		case Host:
			id, args := p.HostCall()
			if abi.Funcs[id].Name != "sleep_ms" {
				t.Fatalf("unexpected host call %v", abi.Funcs[id].Name)
			}
			time.Sleep(time.Duration(args[0]) * time.Millisecond)
			p.Return()
			st = p.Poll()
		}
	}
	return p.Outcome(), yields
}

func TestShimBasics(t *testing.T) {
	e := newTestEngine(t)
	m, err := e.Compile([]byte(testWAT))
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	run := func(entry string, args ...Value) (Outcome, *Proc) {
		p, err := m.NewProc(42, 1<<20, 1<<40, nil)
		if err != nil {
			t.Fatal(err)
		}
		ft := m.Exports[entry]
		if err := p.SetEntry(entry, args, len(ft.Results)); err != nil {
			t.Fatal(err)
		}
		o, _ := drive(t, p, 50)
		return o, p
	}
	o, p := run("id")
	if o.Kind != Returned || p.Result(0) != 42 {
		t.Fatalf("id: %+v", o)
	}
	p.Free()
	o, p = run("add", Value{KindI32, -3}, Value{KindI64, 10})
	if o.Kind != Returned || p.Result(0) != 7 {
		t.Fatalf("add: %+v", o)
	}
	p.Free()
	o, p = run("sleepy")
	if o.Kind != Returned {
		t.Fatalf("sleepy: %+v", o)
	}
	p.Free()
	o, p = run("bye")
	if o.Kind != CalledExt || o.ExitStatus != 7 {
		t.Fatalf("bye: %+v", o)
	}
	p.Free()
	o, p = run("boom")
	if o.Kind != Trapped || !strings.Contains(o.Message, "unreachable") || len(o.Trace) == 0 || o.Phase != "call" {
		t.Fatalf("boom: %+v", o)
	}
	p.Free()
	o, p = run("spin")
	if o.Kind != -1 {
		t.Fatalf("spin should have been cancelled after 50 yields: %+v", o)
	}
	p.Free()
	o, p = run("missing")
	if o.Kind != NoExport {
		t.Fatalf("missing: %+v", o)
	}
	p.Free()
}
