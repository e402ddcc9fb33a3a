package wasm

import (
	"testing"

	"github.com/bytecodealliance/wasmtime-go/v25"
)

func TestReadTables(t *testing.T) {
	for _, c := range []struct {
		name, wat     string
		tables, elems uint32
	}{
		{"none", `(module (memory 1))`, 0, 0},
		{"one", `(module (table 10 funcref))`, 1, 10 + tableHeadroom},
		{"largest of two", `(module (table 3 funcref) (table 700 100000 externref))`, 2, 700 + tableHeadroom},
		{"imported", `(module (import "m" "t" (table 5 funcref)) (import "m" "f" (func)) (import "m" "g" (global i32)) (import "m" "mem" (memory 1)))`, 1, 5 + tableHeadroom},
		{"capped", `(module (table 70000 funcref))`, 1, MaxTableElements},
		{"more than allowed", `(module (table 1 funcref) (table 1 funcref) (table 1 funcref))`, MaxTables, 1 + tableHeadroom},
	} {
		t.Run(c.name, func(t *testing.T) {
			bin, err := wasmtime.Wat2Wasm(c.wat)
			if err != nil {
				t.Fatal(err)
			}
			for _, src := range [][]byte{bin, []byte(c.wat)} {
				var m Module
				m.ReadTables(src)
				if m.Tables != c.tables || m.TableElements != c.elems {
					t.Errorf("ReadTables = %d tables of %d, want %d of %d", m.Tables, m.TableElements, c.tables, c.elems)
				}
			}
		})
	}
	// What cannot be read gets the most a module may have.
	var m Module
	m.ReadTables([]byte("\x00asm\x01\x00\x00\x00\x04\x05\x01"))
	if m.Tables != MaxTables || m.TableElements != MaxTableElements {
		t.Errorf("a truncated table section: %d tables of %d, want the maximum", m.Tables, m.TableElements)
	}
}

// FuzzReadTables: no input makes the reader panic or claim more than the
// maximum.
func FuzzReadTables(f *testing.F) {
	f.Add([]byte("\x00asm\x01\x00\x00\x00"))
	f.Add([]byte("\x00asm\x01\x00\x00\x00\x04\x04\x01\x70\x00\x0a"))
	f.Fuzz(func(t *testing.T, b []byte) {
		var m Module
		m.ReadTables(append([]byte("\x00asm\x01\x00\x00\x00"), b...))
		if m.Tables > MaxTables || m.TableElements > MaxTableElements {
			t.Fatalf("%d tables of %d", m.Tables, m.TableElements)
		}
	})
}
