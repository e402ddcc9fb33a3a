//go:build linux && (amd64 || arm64) && cgo

// Command wat2wasm builds WebAssembly text fixtures into the binaries tests
// embed, using the same wasmtime that runs them, so there is no external
// toolchain to install and no version of it to drift from.
//
// Usage:
//
//	go run ./internal/tools/wat2wasm [-check] file.wat...
//
// Each X.wat becomes X.wasm beside it, and must validate: wasmtime.Wat2Wasm
// only parses, so without the check a fixture that cannot compile would be
// committed and fail later, in some unrelated test. A .wasm is rewritten only when its
// content would change, so regenerating leaves timestamps and git alone.
// Arguments may be glob patterns, because go:generate passes "*.wat" through
// without a shell to expand it.
//
// With -check nothing is written; the command lists every .wasm that is
// missing or differs from what its .wat produces and exits 1 if there are
// any. CI runs it to check that the committed binaries are current.
package main

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/bytecodealliance/wasmtime-go/v25"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// run is the whole command, apart from exiting, so tests can call it. It
// returns the exit status: 0 done (or, with -check, everything current), 1
// a build failed or, with -check, something is stale, 2 bad usage.
func run(args []string, stdout, stderr io.Writer) int {
	flags := flag.NewFlagSet("wat2wasm", flag.ContinueOnError)
	flags.SetOutput(stderr)
	check := flags.Bool("check", false, "write nothing; list .wasm files that are missing or stale and exit 1 if any are")
	flags.Usage = func() {
		fmt.Fprintln(stderr, "usage: wat2wasm [-check] file.wat...")
		flags.PrintDefaults()
	}
	if err := flags.Parse(args); err != nil {
		return 2
	}
	files, err := expand(flags.Args())
	if err != nil {
		fmt.Fprintln(stderr, "wat2wasm:", err)
		return 2
	}
	if len(files) == 0 {
		flags.Usage()
		return 2
	}

	engine := wasmtime.NewEngine()
	status := 0
	for _, wat := range files {
		wasmPath := strings.TrimSuffix(wat, ".wat") + ".wasm"
		src, err := os.ReadFile(wat)
		if err != nil {
			fmt.Fprintln(stderr, "wat2wasm:", err)
			status = 1
			continue
		}
		want, err := wasmtime.Wat2Wasm(string(src))
		if err != nil {
			fmt.Fprintf(stderr, "wat2wasm: %s: %v\n", wat, err)
			status = 1
			continue
		}
		if err := wasmtime.ModuleValidate(engine, want); err != nil {
			fmt.Fprintf(stderr, "wat2wasm: %s: invalid module: %v\n", wat, err)
			status = 1
			continue
		}
		have, err := os.ReadFile(wasmPath)
		switch {
		case err == nil && bytes.Equal(have, want):
			continue
		case err != nil && !errors.Is(err, fs.ErrNotExist):
			fmt.Fprintln(stderr, "wat2wasm:", err)
			status = 1
			continue
		}
		if *check {
			what := "stale"
			if err != nil {
				what = "missing"
			}
			fmt.Fprintf(stdout, "%s: %s (run go generate)\n", wasmPath, what)
			status = 1
			continue
		}
		if err := os.WriteFile(wasmPath, want, 0o644); err != nil {
			fmt.Fprintln(stderr, "wat2wasm:", err)
			status = 1
			continue
		}
		fmt.Fprintln(stdout, "wrote", wasmPath)
	}
	return status
}

// expand turns the arguments into .wat paths, expanding glob patterns. A
// pattern that matches nothing is an error rather than silently nothing, so
// a go:generate line run from the wrong directory fails loudly.
func expand(args []string) ([]string, error) {
	var files []string
	for _, arg := range args {
		if !strings.ContainsAny(arg, `*?[`) {
			files = append(files, arg)
			continue
		}
		matches, err := filepath.Glob(arg)
		if err != nil {
			return nil, err
		}
		if len(matches) == 0 {
			return nil, fmt.Errorf("%s matches no files", arg)
		}
		files = append(files, matches...)
	}
	for _, f := range files {
		if filepath.Ext(f) != ".wat" {
			return nil, fmt.Errorf("%s: not a .wat file", f)
		}
	}
	return files, nil
}
