package hostapi

import (
	"context"
	"errors"
	"testing"
)

func nop(context.Context, *Call) error { return nil }

func TestValidate(t *testing.T) {
	ok := Module{Namespace: "kv", Funcs: []Func{{Name: "get", Params: []ValType{I32, I32}, Results: []ValType{I64}, Handler: nop}}}
	if err := ok.Validate(); err != nil {
		t.Fatal(err)
	}
	bad := []Module{
		{Namespace: "k v", Funcs: ok.Funcs},
		{Namespace: "kv", Funcs: []Func{{Name: "get", Handler: nop}, {Name: "get", Handler: nop}}},
		{Namespace: "kv", Funcs: []Func{{Name: "get"}}},
		{Namespace: "kv", Funcs: []Func{{Name: "get", Params: make([]ValType, 9), Handler: nop}}},
		{Namespace: "kv", Funcs: []Func{{Name: "get", Results: []ValType{7}, Handler: nop}}},
		{Namespace: "kv", Funcs: []Func{{Name: "1get", Handler: nop}}},
	}
	for i, m := range bad {
		if err := m.Validate(); !errors.Is(err, ErrInvalidModule) {
			t.Errorf("case %d: %v", i, err)
		}
	}
}

func TestMemoryAccessIsBoundsChecked(t *testing.T) {
	mem := make([]byte, 16)
	c := NewCall([]int64{1, -1}, mem, nil)
	if err := c.Write(12, []byte("abcd")); err != nil {
		t.Fatal(err)
	}
	if s, err := c.ReadString(12, 4); err != nil || s != "abcd" {
		t.Fatalf("%q %v", s, err)
	}
	for _, r := range [][2]int64{{13, 4}, {16, 1}, {-1, 1}, {0, -1}, {0x7fffffff, 2}} {
		if _, err := c.Read(r[0], r[1]); !errors.Is(err, ErrBadPointer) {
			t.Errorf("Read(%d, %d): %v", r[0], r[1], err)
		}
	}
	if err := c.Write(15, []byte("xy")); !errors.Is(err, ErrBadPointer) {
		t.Fatalf("Write past the end: %v", err)
	}
	if b, _ := c.Read(0, 4); cap(b) != 4 {
		t.Fatal("a view must not reach past its range")
	}
	c.Return(1, 2)
	if r := c.Results(); len(r) != 2 || r[1] != 2 || c.Arg(1) != -1 || c.NumArgs() != 2 {
		t.Fatalf("results %v", r)
	}
}

type stubState struct{}

func (stubState) Close(context.Context) {}

// Reset makes a used Call a new one: nothing of the previous call's
// results, state, configuration or memory is left for the next handler.
func TestResetLeavesNothingOfTheLastCall(t *testing.T) {
	c := NewCall([]int64{7, 8}, make([]byte, 16), nil)
	c.SetState(stubState{}, nil)
	c.Return(1, 2, 3)
	c.Reset([]int64{9}, make([]byte, 4), nil)
	if c.NumArgs() != 1 || c.Arg(0) != 9 || c.MemorySize() != 4 {
		t.Fatalf("after Reset: %d args, arg 0 %d, %d bytes of memory; want 1, 9, 4", c.NumArgs(), c.Arg(0), c.MemorySize())
	}
	if c.State() != nil || c.Config() != nil || len(c.Results()) != 0 {
		t.Fatalf("after Reset: state %v, config %v, results %v; want none", c.State(), c.Config(), c.Results())
	}
	if _, err := c.Read(4, 1); err == nil {
		t.Fatal("after Reset, a read past the new memory succeeded")
	}
}
