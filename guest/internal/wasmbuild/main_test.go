package main

import (
	"errors"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// moduleRoot is the module root, seen from this package's directory.
const moduleRoot = "../../.."

// needWasip1 skips the test when this machine's Go cannot build wasip1
// guests; those are the only builds the checks need.
func needWasip1(t *testing.T) {
	t.Helper()
	if _, err := exec.LookPath("go"); err != nil {
		t.Skip("no go command in PATH: cannot rebuild Go guests")
	}
	out, err := exec.Command("go", "tool", "dist", "list").Output()
	if err != nil {
		t.Skipf("go tool dist list: %v: cannot tell whether this toolchain builds wasip1/wasm", err)
	}
	if !slices.Contains(strings.Fields(string(out)), "wasip1/wasm") {
		t.Skip("this Go toolchain has no wasip1/wasm port: cannot rebuild Go guests")
	}
}

// committedBuilds finds every build this tool made in the module: the
// .wasm files with a .wasm.inputs beside them.
func committedBuilds(t *testing.T) []string {
	t.Helper()
	var builds []string
	err := filepath.WalkDir(moduleRoot, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (d.Name() == ".git" || d.Name() == "node_modules") {
			return filepath.SkipDir
		}
		if wasm, ok := strings.CutSuffix(path, ".wasm.inputs"); ok {
			builds = append(builds, wasm+".wasm")
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return builds
}

// TestCommittedBuildsAreCurrent checks every committed Go guest build
// (guest/examples/hello/hello.wasm, the SDK's own test guest, and any
// other built with this tool): rebuilt with this toolchain it must be the
// same bytes, or, with another Go version, come from the same inputs.
func TestCommittedBuildsAreCurrent(t *testing.T) {
	needWasip1(t)
	builds := committedBuilds(t)
	for _, want := range []string{"guest/examples/hello/hello.wasm", "guest/internal/e2e/e2e.wasm"} {
		if !slices.Contains(builds, filepath.Join(moduleRoot, want)) {
			t.Errorf("%s (with its .inputs) is missing", want)
		}
	}
	for _, wasm := range builds {
		name, _ := filepath.Rel(moduleRoot, wasm)
		t.Run(filepath.ToSlash(name), func(t *testing.T) {
			t.Parallel()
			err := checkBuild(filepath.Dir(wasm), wasm)
			var stale staleError
			switch {
			case errors.As(err, &stale):
				t.Errorf("%s is stale: %s\nrebuild it with `go generate ./%s` and commit it with its .inputs",
					name, stale, filepath.ToSlash(filepath.Dir(name)))
			case err != nil:
				t.Fatal(err)
			}
		})
	}
}

// TestCheckCatchesStaleInputs tampers with a copy of a committed build's
// record: a wasm that is not the one recorded, and (under another Go
// version, where only the inputs can be compared) a changed source file.
func TestCheckCatchesStaleInputs(t *testing.T) {
	needWasip1(t)
	dir := filepath.Join(moduleRoot, "guest/examples/hello")
	wasm, err := os.ReadFile(filepath.Join(dir, "hello.wasm"))
	if err != nil {
		t.Fatal(err)
	}
	record, err := readInputs(filepath.Join(dir, "hello.wasm.inputs"))
	if err != nil {
		t.Fatal(err)
	}
	tmp := t.TempDir()
	out := filepath.Join(tmp, "hello.wasm")
	check := func(wasmBytes []byte, record []string) error {
		t.Helper()
		if err := os.WriteFile(out, wasmBytes, 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(out+".inputs", []byte(strings.Join(record, "\n")+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		return checkBuild(dir, out)
	}
	edit := func(key, value string) []string {
		r := slices.Clone(record)
		for i, l := range r {
			if k, _, _ := strings.Cut(l, " "); k == key {
				r[i] = key + " " + value
			}
		}
		return r
	}
	var stale staleError

	err = check(append(slices.Clone(wasm), 0), record)
	if !errors.As(err, &stale) || !strings.Contains(err.Error(), "SHA-256") {
		t.Errorf("a wasm that is not the recorded one: got %v, want a stale SHA-256", err)
	}

	// Another Go version, and a source file that changed since.
	r := edit("go", "go1.0")
	for i, l := range r {
		if strings.HasPrefix(l, "file guest/examples/hello/main.go ") {
			r[i] = "file guest/examples/hello/main.go 0000"
		}
	}
	err = check(wasm, r)
	if !errors.As(err, &stale) || !strings.Contains(err.Error(), "guest/examples/hello/main.go") {
		t.Errorf("changed inputs under another Go version: got %v, want stale naming main.go", err)
	}

	// Another Go version and the same inputs: nothing to hold against it.
	if err := check(wasm, edit("go", "go1.0")); err != nil {
		t.Errorf("same inputs under another Go version: %v", err)
	}
}
