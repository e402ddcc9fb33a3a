package wasm

import (
	"bytes"
	"errors"
	"testing"

	"github.com/bytecodealliance/wasmtime-go/v25"
)

func wat2wasm(t testing.TB, wat string) []byte {
	t.Helper()
	b, err := wasmtime.Wat2Wasm(wat)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// The derived module keeps the code, exports every mutable global it
// defines (and only those), and has no data: the segments are in the
// initial contents instead, at their offsets.
func TestImageSourceDerivesModule(t *testing.T) {
	b := wat2wasm(t, `(module
	  (import "m" "g" (global i32))
	  (memory (export "memory") 1 5)
	  (global $a (mut i32) (i32.const 1))
	  (global $b i64 (i64.const 2))
	  (global $c (mut f32) (f32.const 3))
	  (data (i32.const 16) "abc")
	  (data (i32.const 4) "xy")
	  (func (export "_initialize")))`)
	src, err := imageSource(b)
	if err != nil {
		t.Fatal(err)
	}
	want := []imageGlobal{{1, KindI32, imageGlobalPrefix + "1"}, {3, KindF32, imageGlobalPrefix + "3"}}
	if len(src.globals) != len(want) || src.globals[0] != want[0] || src.globals[1] != want[1] {
		t.Errorf("globals %+v, want %+v", src.globals, want)
	}
	wantData := append(append(make([]byte, 4), "xy"...), make([]byte, 10)...)
	wantData = append(wantData, "abc"...)
	if !bytes.Equal(src.data, wantData) || src.memMin != 65536 {
		t.Errorf("data %q (memory %d), want %q (65536)", src.data, src.memMin, wantData)
	}
	engine := wasmtime.NewEngine()
	defer engine.Close()
	m, err := wasmtime.NewModule(engine, src.derived)
	if err != nil {
		t.Fatalf("the derived module does not compile: %v", err)
	}
	defer m.Close()
	var globals []string
	for _, ex := range m.Exports() {
		if gt := ex.Type().GlobalType(); gt != nil {
			globals = append(globals, ex.Name())
			if !gt.Mutable() {
				t.Errorf("export %s is immutable", ex.Name())
			}
		}
	}
	if len(globals) != 2 || globals[0] != want[0].export || globals[1] != want[1].export {
		t.Errorf("global exports %v", globals)
	}
	if bytes.Contains(src.derived, []byte("abc")) {
		t.Error("the derived module still holds the data segment")
	}
}

// What an image cannot reproduce is refused, before anything runs.
func TestImageSourceRefuses(t *testing.T) {
	for name, wat := range map[string]string{
		"imported memory":  `(module (import "m" "mem" (memory 1)))`,
		"no memory":        `(module (func (export "f")))`,
		"start function":   `(module (memory 1) (func $s) (start $s) (export "s" (func $s)))`,
		"passive data":     `(module (memory 1) (data "x") (func (export "f")))`,
		"data by a global": `(module (import "m" "g" (global i32)) (memory 1) (data (global.get 0) "x") (func (export "f")))`,
		"mutable funcref":  `(module (memory 1) (global (mut funcref) (ref.null func)) (func (export "f")))`,
		"ward's names":     `(module (memory 1) (global (mut i32) (i32.const 0)) (export "ward.image.global.0" (global 0)))`,
		"huge data offset": `(module (memory 2000) (data (i32.const 0x7ffffff0) "x") (func (export "f")))`,
		"shared memory":    `(module (memory 1 1 shared) (func (export "f")))`,
	} {
		t.Run(name, func(t *testing.T) {
			if _, err := imageSource(wat2wasm(t, wat)); !errors.Is(err, errNoImage) && !errors.Is(err, errMalformed) {
				t.Errorf("imageSource: %v, want a refusal", err)
			}
		})
	}
}

// FuzzImageSource feeds imageSource arbitrary module bytes: it must not
// panic or allocate beyond its bound, and what it accepts must keep its
// promises (no data section left, contents within the memory).
func FuzzImageSource(f *testing.F) {
	f.Add(wat2wasm(f, `(module (memory 1) (global (mut i32) (i32.const 1)) (data (i32.const 8) "ab") (func (export "_initialize")))`)[8:])
	f.Add(wat2wasm(f, `(module (import "m" "g" (global (mut i64))) (memory 1) (export "g" (global 0)))`)[8:])
	f.Add([]byte("\x05\x03\x01\x00\x01\x0b\x07\x01\x00\x41\x00\x0b\x01\x61"))
	f.Fuzz(func(t *testing.T, b []byte) {
		src, err := imageSource(append([]byte("\x00asm\x01\x00\x00\x00"), b...))
		if err != nil {
			return
		}
		if uint64(len(src.data)) > src.memMin || len(src.data) > maxImageData {
			t.Fatalf("%d bytes of contents for a memory of %d", len(src.data), src.memMin)
		}
		r := reader{b: src.derived, i: 8}
		for r.i < len(r.b) && r.err == nil {
			id := r.byte()
			n := r.uleb()
			if id == 11 || id == 12 {
				t.Fatal("the derived module has a data or data count section")
			}
			r.skip(int(min(n, uint64(len(r.b)))))
		}
	})
}
