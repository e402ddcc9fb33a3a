package abi_test

import (
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/wardrt/ward/internal/abi"
)

// The Go guest SDK declares its host functions in one file; these tests
// hold it to the table.
const (
	guestSDKDir     = "../../guest"
	guestImports    = "imports_wasip1.go" // every //go:wasmimport of the SDK
	guestImportStub = "imports_other.go"  // the same functions, for other platforms
)

// goImport is one //go:wasmimport declaration.
type goImport struct {
	Namespace, Name string
	GoFunc          string
	Params, Results []abi.ValType
	Pos             token.Position
	Bad             bool // a type has no Wasm equivalent (already reported)
}

func (g goImport) key() string { return g.Namespace + "." + g.Name }

// wasmTypes maps the Go types the SDK may use in a raw import to Wasm
// types. Pointers are deliberately absent: the SDK passes linear-memory
// offsets as uint32, so each signature is exactly the table's.
var wasmTypes = map[string]abi.ValType{
	"int32":  abi.I32,
	"uint32": abi.I32,
	"int64":  abi.I64,
	"uint64": abi.I64,
}

func parseGoFile(t *testing.T, name string) (*token.FileSet, *ast.File) {
	t.Helper()
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, filepath.Join(guestSDKDir, name), nil, parser.ParseComments|parser.SkipObjectResolution)
	if err != nil {
		t.Fatal(err)
	}
	return fset, f
}

// wasmTypeList flattens a parameter or result list into Wasm types, with
// an error naming the first Go type that has no Wasm equivalent.
func wasmTypeList(fl *ast.FieldList) ([]abi.ValType, error) {
	var out []abi.ValType
	if fl == nil {
		return nil, nil
	}
	for _, field := range fl.List {
		vt, ok := wasmTypes[typeString(field.Type)]
		if !ok {
			return nil, fmt.Errorf("type %s is not one of int32, uint32, int64, uint64 (pass pointers as uint32)", typeString(field.Type))
		}
		for range max(len(field.Names), 1) {
			out = append(out, vt)
		}
	}
	return out, nil
}

func typeString(e ast.Expr) string {
	switch e := e.(type) {
	case *ast.Ident:
		return e.Name
	case *ast.StarExpr:
		return "*" + typeString(e.X)
	case *ast.SelectorExpr:
		return typeString(e.X) + "." + e.Sel.Name
	case *ast.ArrayType:
		return "[]" + typeString(e.Elt)
	}
	return fmt.Sprintf("%T", e)
}

// sigString renders a signature the way the table documents it.
func sigString(params, results []abi.ValType) string {
	s := "(" + joinTypes(params) + ")"
	if len(results) > 0 {
		s += " -> " + joinTypes(results)
	}
	return s
}

func joinTypes(ts []abi.ValType) string {
	parts := make([]string, len(ts))
	for i, t := range ts {
		parts[i] = t.String()
	}
	return strings.Join(parts, ", ")
}

func tableTypes(ps []abi.Param) []abi.ValType {
	out := make([]abi.ValType, len(ps))
	for i, p := range ps {
		out[i] = p.Type
	}
	return out
}

// guestSDKImports parses every //go:wasmimport of imports_wasip1.go. It
// fails the test for a function there without one, a directive that is not
// on a function, or a type that does not map to a Wasm type.
func guestSDKImports(t *testing.T) []goImport {
	t.Helper()
	fset, f := parseGoFile(t, guestImports)
	var imports []goImport
	for _, decl := range f.Decls {
		fd, ok := decl.(*ast.FuncDecl)
		if !ok {
			continue
		}
		pos := fset.Position(fd.Pos())
		var directive []string
		if fd.Doc != nil {
			for _, c := range fd.Doc.List {
				if rest, ok := strings.CutPrefix(c.Text, "//go:wasmimport "); ok {
					directive = strings.Fields(rest)
				}
			}
		}
		if len(directive) != 2 {
			t.Errorf("%s: func %s has no //go:wasmimport namespace name line; %s holds the raw imports only", pos, fd.Name.Name, guestImports)
			continue
		}
		if fd.Body != nil {
			t.Errorf("%s: func %s (%s.%s) has a body; a //go:wasmimport function has none", pos, fd.Name.Name, directive[0], directive[1])
		}
		g := goImport{Namespace: directive[0], Name: directive[1], GoFunc: fd.Name.Name, Pos: pos}
		var err error
		if g.Params, err = wasmTypeList(fd.Type.Params); err != nil {
			t.Errorf("%s: %s (func %s) parameter: %v", pos, g.key(), g.GoFunc, err)
			g.Bad = true
		}
		if g.Results, err = wasmTypeList(fd.Type.Results); err != nil {
			t.Errorf("%s: %s (func %s) result: %v", pos, g.key(), g.GoFunc, err)
			g.Bad = true
		}
		imports = append(imports, g)
	}
	// A directive anywhere else (on a var, or loose in the file) would be a
	// mistake the loop above does not see.
	if n := countDirectives(f); n != len(imports) {
		t.Errorf("%s has %d //go:wasmimport lines but %d import functions", guestImports, n, len(imports))
	}
	return imports
}

func countDirectives(f *ast.File) int {
	n := 0
	for _, cg := range f.Comments {
		for _, c := range cg.List {
			if strings.HasPrefix(c.Text, "//go:wasmimport") {
				n++
			}
		}
	}
	return n
}

// TestGuestSDKImportsMatchTable checks every raw import of the Go guest SDK
// against abi.Funcs: the function must exist in the table with exactly its
// signature, and every function of the table must be imported, so the SDK
// is complete.
func TestGuestSDKImportsMatchTable(t *testing.T) {
	imports := guestSDKImports(t)
	if len(imports) == 0 {
		t.Fatalf("no //go:wasmimport functions found in %s", guestImports)
	}
	seen := map[string]goImport{}
	for _, g := range imports {
		if prev, dup := seen[g.key()]; dup {
			t.Errorf("%s: %s imported twice, as %s and as %s (at %s)", g.Pos, g.key(), g.GoFunc, prev.GoFunc, prev.Pos)
			continue
		}
		seen[g.key()] = g
		f, _, ok := abi.Lookup(g.Namespace, g.Name)
		if !ok {
			t.Errorf("%s: %s (func %s) is not in abi.Funcs", g.Pos, g.key(), g.GoFunc)
			continue
		}
		want := sigString(tableTypes(f.Params), tableTypes(f.Results))
		if g.Bad {
			continue
		}
		if got := sigString(g.Params, g.Results); got != want {
			t.Errorf("%s: %s (func %s) is declared %s; abi.Funcs has %s", g.Pos, g.key(), g.GoFunc, got, want)
		}
	}
	for _, f := range abi.Funcs {
		if _, ok := seen[f.Namespace+"."+f.Name]; !ok {
			t.Errorf("%s.%s is in abi.Funcs but the guest SDK does not import it (add it to guest/%s and wrap it)",
				f.Namespace, f.Name, guestImports)
		}
	}
}

// TestGuestSDKImportsInOneFile checks that no other file of the SDK
// declares host imports, which this test would not see.
func TestGuestSDKImportsInOneFile(t *testing.T) {
	files, err := filepath.Glob(filepath.Join(guestSDKDir, "*.go"))
	if err != nil {
		t.Fatal(err)
	}
	for _, path := range files {
		if filepath.Base(path) == guestImports {
			continue
		}
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		for i, line := range strings.Split(string(b), "\n") {
			if strings.HasPrefix(strings.TrimSpace(line), "//go:wasmimport") {
				t.Errorf("%s:%d: //go:wasmimport outside %s", path, i+1, guestImports)
			}
		}
	}
}

// TestGuestSDKStubsMatchImports checks that the stand-ins the SDK compiles
// with off wasip1 declare the same functions with the same Go signatures.
func TestGuestSDKStubsMatchImports(t *testing.T) {
	sigs := func(name string) map[string]string {
		_, f := parseGoFile(t, name)
		out := map[string]string{}
		for _, decl := range f.Decls {
			if fd, ok := decl.(*ast.FuncDecl); ok {
				out[fd.Name.Name] = goSig(fd.Type)
			}
		}
		return out
	}
	imports, stubs := sigs(guestImports), sigs(guestImportStub)
	names := slices.Concat(slices.Collect(maps.Keys(imports)), slices.Collect(maps.Keys(stubs)))
	slices.Sort(names)
	for _, n := range slices.Compact(names) {
		imp, inImports := imports[n]
		stub, inStubs := stubs[n]
		switch {
		case !inStubs:
			t.Errorf("func %s is in %s but not in %s", n, guestImports, guestImportStub)
		case !inImports:
			t.Errorf("func %s is in %s but not in %s", n, guestImportStub, guestImports)
		case imp != stub:
			t.Errorf("func %s is %s in %s but %s in %s", n, imp, guestImports, stub, guestImportStub)
		}
	}
}

// goSig renders a Go function type's parameter and result types.
func goSig(ft *ast.FuncType) string {
	list := func(fl *ast.FieldList) string {
		if fl == nil {
			return ""
		}
		var parts []string
		for _, f := range fl.List {
			for range max(len(f.Names), 1) {
				parts = append(parts, typeString(f.Type))
			}
		}
		return strings.Join(parts, ", ")
	}
	return "func(" + list(ft.Params) + ") (" + list(ft.Results) + ")"
}
