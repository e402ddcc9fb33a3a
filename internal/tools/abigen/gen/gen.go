// Package gen derives ward's ABI reference page (docs/abi.md) and C guest
// header (guest/c/ward.h) from package abi: the functions from abi.Funcs,
// the constants and their comments from abi's source. Output depends on
// nothing else (no dates, no map order), so regenerating an unchanged table
// gives identical bytes and a check can compare them.
package gen

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/wardrt/ward/internal/abi"
)

// Output paths, relative to the module root.
const (
	DocPath    = "docs/abi.md"
	HeaderPath = "guest/c/ward.h"
)

// RegenerateCmd is the command that rewrites the generated files; failure
// messages quote it.
const RegenerateCmd = "go generate ./internal/abi"

// File is one generated file.
type File struct {
	Path string // relative to the module root, slash-separated
	Data []byte
}

// Generate returns every generated file, built from funcs and the
// constants of package abi under root (the module root).
func Generate(root string, funcs []abi.Func) ([]File, error) {
	cs, err := ReadConsts(root)
	if err != nil {
		return nil, err
	}
	if err := checkFuncs(funcs); err != nil {
		return nil, err
	}
	doc, err := Markdown(funcs, cs)
	if err != nil {
		return nil, err
	}
	hdr, err := Header(funcs, cs)
	if err != nil {
		return nil, err
	}
	return []File{{DocPath, doc}, {HeaderPath, hdr}}, nil
}

// checkFuncs refuses what the generated files cannot express.
func checkFuncs(funcs []abi.Func) error {
	for _, f := range funcs {
		if len(f.Results) > 1 {
			// A C function returns at most one value; wasm32's C ABI returns
			// structs through a hidden pointer parameter, a different
			// signature, so the header could not declare this import.
			return fmt.Errorf("%s.%s has %d results; the C header can declare at most one", f.Namespace, f.Name, len(f.Results))
		}
		if f.Impl != abi.C && f.Impl != abi.Go && f.Impl != abi.Hosted && f.Impl != abi.Builtin {
			return fmt.Errorf("%s.%s: unknown Impl %d", f.Namespace, f.Name, f.Impl)
		}
	}
	return nil
}

// Stale returns the generated files whose copy under root is missing or
// differs from want, by path.
func Stale(root string, want []File) ([]string, error) {
	var stale []string
	for _, f := range want {
		have, err := os.ReadFile(filepath.Join(root, filepath.FromSlash(f.Path)))
		switch {
		case errors.Is(err, fs.ErrNotExist):
			stale = append(stale, f.Path)
		case err != nil:
			return nil, err
		case !bytes.Equal(have, f.Data):
			stale = append(stale, f.Path)
		}
	}
	return stale, nil
}

// Write writes the files under root that are missing or differ, and
// returns their paths; files already current are left untouched.
func Write(root string, files []File) ([]string, error) {
	stale, err := Stale(root, files)
	if err != nil {
		return nil, err
	}
	for _, f := range files {
		if !contains(stale, f.Path) {
			continue
		}
		p := filepath.Join(root, filepath.FromSlash(f.Path))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return nil, err
		}
		if err := os.WriteFile(p, f.Data, 0o644); err != nil {
			return nil, err
		}
	}
	return stale, nil
}

func contains(ss []string, s string) bool {
	for _, x := range ss {
		if x == s {
			return true
		}
	}
	return false
}

// FindRoot returns the nearest directory at or above dir holding a go.mod.
func FindRoot(dir string) (string, error) {
	dir, err := filepath.Abs(dir)
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("no go.mod at or above the current directory")
		}
		dir = parent
	}
}

// namespaces returns the namespaces of funcs in order of first appearance,
// and each one's functions in table order.
func namespaces(funcs []abi.Func) ([]string, map[string][]abi.Func) {
	var order []string
	by := map[string][]abi.Func{}
	for _, f := range funcs {
		if _, ok := by[f.Namespace]; !ok {
			order = append(order, f.Namespace)
		}
		by[f.Namespace] = append(by[f.Namespace], f)
	}
	return order, by
}

// CName is the C function name of a host function: namespace_name, with a
// ward_ prefix unless the namespace already has one (ward_process.spawn ->
// ward_process_spawn).
func CName(f abi.Func) string {
	ns := f.Namespace
	if !strings.HasPrefix(ns, "ward_") {
		ns = "ward_" + ns
	}
	return ns + "_" + f.Name
}

// CConst is the C macro name of an abi constant.
func CConst(group string, k Const) string {
	if group == "valtype" {
		return "WARD_TYPE_" + snake(k.Name)
	}
	return "WARD_" + snake(k.Name)
}

// implText says where a function runs, briefly.
func implText(i abi.Impl) string {
	switch i {
	case abi.C:
		return "C (hot path)"
	case abi.Hosted:
		return "Go (async), by its host module when the embedder registers it"
	case abi.Builtin:
		return "Go (async), by ward's built-in host module"
	}
	return "Go (async)"
}

func permText(p abi.Permission) string {
	if p == abi.PermNone {
		return "—"
	}
	return "`" + string(p) + "`"
}

// wrap breaks text into lines of at most width runes after prefix.
func wrap(text string, width int, prefix string) []string {
	var lines []string
	line := ""
	for _, w := range strings.Fields(text) {
		if line != "" && len([]rune(line))+1+len([]rune(w)) > width {
			lines = append(lines, prefix+line)
			line = ""
		}
		if line == "" {
			line = w
		} else {
			line += " " + w
		}
	}
	if line != "" {
		lines = append(lines, prefix+line)
	}
	return lines
}
