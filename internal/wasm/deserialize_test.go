package wasm

import (
	"bytes"
	"errors"
	"io"
	"testing"
)

// The copy wasmtime maps cannot be changed by anyone, this process
// included: what was checked is what runs.
func TestSealedCopyCannotChange(t *testing.T) {
	want := bytes.Repeat([]byte("ward"), 5000)
	f, err := sealedCopy(bytes.NewReader(want))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	got, err := io.ReadAll(io.NewSectionReader(f, 0, 1<<62))
	if err != nil || !bytes.Equal(got, want) {
		t.Fatalf("the sealed copy holds %d bytes that differ from the %d given (%v)", len(got), len(want), err)
	}
	if _, err := f.WriteAt([]byte("x"), 0); err == nil {
		t.Fatal("wrote into the sealed copy")
	}
	if _, err := f.WriteAt([]byte("x"), int64(len(want))); err == nil {
		t.Fatal("grew the sealed copy")
	}
	if err := f.Truncate(1); err == nil {
		t.Fatal("shrank the sealed copy")
	}
}

// A module read back runs like the original, and check sees its bytes
// and can refuse them.
func TestDeserializeChecked(t *testing.T) {
	e := newTestEngine(t)
	m, err := e.Compile([]byte(`(module (func (export "run")))`))
	if err != nil {
		t.Fatal(err)
	}
	b, err := m.Serialize()
	m.Close()
	if err != nil {
		t.Fatal(err)
	}
	var seen []byte
	m2, err := e.DeserializeChecked(bytes.NewReader(b), func(r io.Reader) (err error) {
		seen, err = io.ReadAll(r)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	defer m2.Close()
	if _, ok := m2.Exports["run"]; !ok {
		t.Fatalf("exports %v", m2.Exports)
	}
	if !bytes.Equal(seen, b) {
		t.Fatalf("check saw %d bytes, not the %d serialized", len(seen), len(b))
	}
	no := errors.New("no")
	if _, err := e.DeserializeChecked(bytes.NewReader(b), func(io.Reader) error { return no }); err != no {
		t.Fatalf("refused by check: %v", err)
	}
	if _, err := e.Deserialize(nil); err == nil {
		t.Fatal("deserialized nothing")
	}
}
