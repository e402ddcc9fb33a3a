package wasm

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"
)

// The copy wasmtime maps cannot be changed by anyone, this process
// included: what was checked is what runs.
func TestSealedCopyCannotChange(t *testing.T) {
	want := bytes.Repeat([]byte("ward"), 5000)
	f, size, err := sealedCopy(bytes.NewReader(want))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if size != int64(len(want)) {
		t.Fatalf("size %d, want %d", size, len(want))
	}
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
	m2, err := e.DeserializeChecked(bytes.NewReader(b), func(code io.Reader) (err error) {
		seen, err = io.ReadAll(code)
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

// From a file, the copy is made in the kernel, from the file's offset on.
func TestSealedCopyOfAFile(t *testing.T) {
	want := bytes.Repeat([]byte("0123456789"), 100_000)
	path := filepath.Join(t.TempDir(), "entry")
	if err := os.WriteFile(path, append([]byte("header"), want...), 0o600); err != nil {
		t.Fatal(err)
	}
	src, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	if _, err := io.ReadFull(src, make([]byte, len("header"))); err != nil {
		t.Fatal(err)
	}
	f, size, err := sealedCopy(src)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	got, err := io.ReadAll(io.NewSectionReader(f, 0, size))
	if err != nil || !bytes.Equal(got, want) {
		t.Fatalf("copied %d bytes (%v), want the %d after the header", len(got), err, len(want))
	}
}
