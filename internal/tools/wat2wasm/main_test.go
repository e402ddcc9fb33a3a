package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const testWAT = `(module (func $f (export "f") (result i32) (i32.const 42)))`

// wasmMagic starts every binary module: "\0asm" and version 1.
var wasmMagic = []byte{0, 'a', 's', 'm', 1, 0, 0, 0}

func runCmd(t *testing.T, args ...string) (int, string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code := run(args, &out, &errOut)
	return code, out.String() + errOut.String()
}

func TestConvertThenCheck(t *testing.T) {
	dir := t.TempDir()
	wat := filepath.Join(dir, "f.wat")
	wasm := filepath.Join(dir, "f.wasm")
	if err := os.WriteFile(wat, []byte(testWAT), 0o644); err != nil {
		t.Fatal(err)
	}

	if code, out := runCmd(t, "-check", wat); code != 1 || !strings.Contains(out, "f.wasm: missing") {
		t.Fatalf("-check before building: exit %d, output %q; want 1 and f.wasm missing", code, out)
	}
	if _, err := os.Stat(wasm); err == nil {
		t.Fatal("-check wrote f.wasm")
	}

	if code, out := runCmd(t, wat); code != 0 {
		t.Fatalf("build: exit %d: %s", code, out)
	}
	built, err := os.ReadFile(wasm)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(built, wasmMagic) {
		t.Fatalf("f.wasm does not start with the wasm magic: % x", built[:min(len(built), 8)])
	}

	if code, out := runCmd(t, "-check", wat); code != 0 {
		t.Fatalf("-check after building: exit %d: %s", code, out)
	}
	// Unchanged content must not be rewritten: a rebuild reports nothing.
	if code, out := runCmd(t, wat); code != 0 || out != "" {
		t.Fatalf("rebuild of a current .wasm: exit %d, output %q; want 0 and silence", code, out)
	}
}

func TestCheckFindsStale(t *testing.T) {
	dir := t.TempDir()
	wat := filepath.Join(dir, "f.wat")
	if err := os.WriteFile(wat, []byte(testWAT), 0o644); err != nil {
		t.Fatal(err)
	}
	if code, out := runCmd(t, wat); code != 0 {
		t.Fatalf("build: exit %d: %s", code, out)
	}
	// Edit the source after building, as someone forgetting go generate would.
	edited := strings.Replace(testWAT, "42", "43", 1)
	if err := os.WriteFile(wat, []byte(edited), 0o644); err != nil {
		t.Fatal(err)
	}
	before, _ := os.ReadFile(filepath.Join(dir, "f.wasm"))

	if code, out := runCmd(t, "-check", wat); code != 1 || !strings.Contains(out, "f.wasm: stale") {
		t.Fatalf("-check of stale f.wasm: exit %d, output %q; want 1 and f.wasm stale", code, out)
	}
	if after, _ := os.ReadFile(filepath.Join(dir, "f.wasm")); !bytes.Equal(before, after) {
		t.Fatal("-check modified f.wasm")
	}
}

func TestGlobAndErrors(t *testing.T) {
	dir := t.TempDir()
	for _, name := range []string{"a.wat", "b.wat"} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(testWAT), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	// go:generate hands the pattern over unexpanded.
	if code, out := runCmd(t, filepath.Join(dir, "*.wat")); code != 0 {
		t.Fatalf("glob build: exit %d: %s", code, out)
	}
	for _, name := range []string{"a.wasm", "b.wasm"} {
		if _, err := os.Stat(filepath.Join(dir, name)); err != nil {
			t.Errorf("glob build did not write %s: %v", name, err)
		}
	}

	if code, _ := runCmd(t, filepath.Join(dir, "*.nothing.wat")); code != 2 {
		t.Errorf("pattern matching nothing: exit %d, want 2", code)
	}
	// Wat2Wasm alone accepts the second (it parses, but does not type-check).
	for name, src := range map[string]string{
		"syntax.wat":  "(module (func",
		"invalid.wat": "(module (func (i32.add)))",
	} {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
		if code, out := runCmd(t, path); code != 1 || !strings.Contains(out, name) {
			t.Errorf("%s: exit %d, output %q; want 1 naming it", name, code, out)
		}
		if _, err := os.Stat(strings.TrimSuffix(path, ".wat") + ".wasm"); err == nil {
			t.Errorf("%s produced a .wasm", name)
		}
	}
}
