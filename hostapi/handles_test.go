package hostapi

import (
	"errors"
	"slices"
	"testing"
)

func TestHandles(t *testing.T) {
	h := NewHandles[string](3)
	for i, want := range []int32{1, 2, 3} {
		got, err := h.Add(string(rune('a' + i)))
		if err != nil || got != want {
			t.Fatalf("Add #%d: %d %v, want %d", i, got, err, want)
		}
	}
	if _, err := h.Add("d"); !errors.Is(err, ErrHandleLimit) {
		t.Fatalf("Add past the bound: %v", err)
	}
	for _, bad := range []int32{0, -1, 4, 1 << 30} {
		if _, ok := h.Get(bad); ok {
			t.Errorf("Get(%d) found something", bad)
		}
		if _, ok := h.Remove(bad); ok {
			t.Errorf("Remove(%d) removed something", bad)
		}
	}
	if v, ok := h.Remove(2); !ok || v != "b" {
		t.Fatalf("Remove(2): %q %v", v, ok)
	}
	if _, ok := h.Get(2); ok {
		t.Fatal("a removed handle is still found")
	}
	if _, ok := h.Remove(2); ok {
		t.Fatal("a handle was removed twice")
	}
	if got, err := h.Add("e"); err != nil || got != 2 {
		t.Fatalf("Add after Remove: %d %v, want the freed 2", got, err)
	}
	var seen []string
	for hd, v := range h.All() {
		seen = append(seen, string(rune('0'+hd))+v)
	}
	if !slices.Equal(seen, []string{"1a", "2e", "3c"}) || h.Len() != 3 {
		t.Fatalf("All: %v, Len %d", seen, h.Len())
	}
	var closed []string
	h.Close(func(v string) { closed = append(closed, v) })
	if !slices.Equal(closed, []string{"c", "e", "a"}) || h.Len() != 0 {
		t.Fatalf("Close released %v, Len %d", closed, h.Len())
	}
	if got, err := h.Add("f"); err != nil || got != 1 {
		t.Fatalf("Add after Close: %d %v", got, err)
	}
}

// A table is per process: two tables hand out the same numbers, and one's
// handle in the other finds the other's own value or nothing.
func TestHandlesOfTwoProcessesAreApart(t *testing.T) {
	a, b := NewHandles[string](4), NewHandles[string](4)
	ha, _ := a.Add("a's socket")
	if _, ok := b.Get(ha); ok {
		t.Fatal("b found a's handle")
	}
	hb, _ := b.Add("b's socket")
	if v, _ := b.Get(ha); ha != hb || v != "b's socket" {
		t.Fatalf("b's handle %d: %q", ha, v)
	}
}

func TestValidateRefused(t *testing.T) {
	for i, f := range []Func{
		{Name: "f", Results: []ValType{I32}, Permission: "p", Refused: []int64{1, 2}, Handler: nop},
		{Name: "f", Results: []ValType{I32}, Refused: []int64{1}, Handler: nop},
	} {
		if err := (Module{Namespace: "m", Funcs: []Func{f}}).Validate(); !errors.Is(err, ErrInvalidModule) {
			t.Errorf("case %d: %v", i, err)
		}
	}
	ok := Func{Name: "f", Results: []ValType{I32}, Permission: "p", Refused: []int64{StatusPermission}, Handler: nop}
	if err := (Module{Namespace: "m", Funcs: []Func{ok}}).Validate(); err != nil {
		t.Fatal(err)
	}
}
