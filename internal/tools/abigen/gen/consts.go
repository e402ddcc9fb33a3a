package gen

import (
	"fmt"
	"go/ast"
	"go/constant"
	"go/importer"
	"go/parser"
	"go/token"
	"go/types"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// AbiDir is where package abi lives, relative to the module root.
const AbiDir = "internal/abi"

// Const is one exported constant of package abi, read from its source: Go
// cannot reflect on constants, and their doc comments are part of the ABI's
// documentation.
type Const struct {
	Name  string
	Type  string         // the named type, or "" when untyped
	Value constant.Value // exact, as the compiler computes it
	Doc   string         // the doc or line comment, as one paragraph
}

// Int returns the constant's value as an int64; it panics on non-integers.
func (c Const) Int() int64 {
	v, ok := constant.Int64Val(constant.ToInt(c.Value))
	if !ok {
		panic("abigen: " + c.Name + " is not an integer constant")
	}
	return v
}

// Str returns a string constant's value.
func (c Const) Str() string { return constant.StringVal(c.Value) }

// Group is a class of constants, with the doc comment of the first const
// block that declares one of them.
type Group struct {
	Doc    string
	Consts []Const
}

// Consts are package abi's exported constants, classified. Every exported
// constant lands in exactly one group, or ReadConsts fails: a constant
// added to abi.go must be placed in the generated files deliberately, not
// silently left out of them.
type Consts struct {
	Namespaces Group // Namespace*: Wasm import module names
	Status     Group // OK, Err*: status codes
	Tags       Group // Tag*: reserved message tags
	Reasons    Group // Reason*: reason kinds
	Limits     Group // Max*, *Size: size limits
	ValTypes   Group // constants of type ValType
	Impls      Group // constants of type Impl
	Perms      Group // constants of type Permission
}

// ByName returns every constant, by name.
func (c *Consts) ByName() map[string]Const {
	m := map[string]Const{}
	for _, g := range c.groups() {
		for _, k := range g.Consts {
			m[k.Name] = k
		}
	}
	return m
}

func (c *Consts) groups() []*Group {
	return []*Group{&c.Namespaces, &c.Status, &c.Tags, &c.Reasons, &c.Limits, &c.ValTypes, &c.Impls, &c.Perms}
}

// classify returns the group a constant belongs in, or nil.
func (c *Consts) classify(k Const) *Group {
	switch k.Type {
	case "ValType":
		return &c.ValTypes
	case "Impl":
		return &c.Impls
	case "Permission":
		return &c.Perms
	case "":
	default:
		return nil
	}
	switch {
	case strings.HasPrefix(k.Name, "Namespace"):
		return &c.Namespaces
	case k.Name == "OK", strings.HasPrefix(k.Name, "Err"):
		return &c.Status
	case strings.HasPrefix(k.Name, "Tag"):
		return &c.Tags
	case strings.HasPrefix(k.Name, "Reason"):
		return &c.Reasons
	case strings.HasPrefix(k.Name, "Max"), strings.HasSuffix(k.Name, "Size"):
		return &c.Limits
	}
	return nil
}

// ReadConsts parses and type-checks the non-test Go files of package abi
// under root and classifies its exported constants, in source order.
func ReadConsts(root string) (*Consts, error) {
	dir := filepath.Join(root, AbiDir)
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var names []string
	for _, e := range entries {
		n := e.Name()
		if strings.HasSuffix(n, ".go") && !strings.HasSuffix(n, "_test.go") {
			names = append(names, n)
		}
	}
	sort.Strings(names)
	fset := token.NewFileSet()
	var files []*ast.File
	for _, n := range names {
		f, err := parser.ParseFile(fset, filepath.Join(dir, n), nil, parser.ParseComments)
		if err != nil {
			return nil, err
		}
		files = append(files, f)
	}
	info := &types.Info{Defs: map[*ast.Ident]types.Object{}}
	conf := types.Config{Importer: importer.ForCompiler(fset, "source", nil)}
	if _, err := conf.Check("abi", fset, files, info); err != nil {
		return nil, fmt.Errorf("type-checking %s: %w", dir, err)
	}

	out := &Consts{}
	for _, f := range files {
		for _, decl := range f.Decls {
			gd, ok := decl.(*ast.GenDecl)
			if !ok || gd.Tok != token.CONST {
				continue
			}
			blockDoc := ""
			if gd.Lparen.IsValid() {
				blockDoc = text(gd.Doc)
			}
			for _, spec := range gd.Specs {
				vs := spec.(*ast.ValueSpec)
				doc := text(vs.Doc)
				if doc == "" {
					doc = text(vs.Comment)
				}
				if doc == "" && !gd.Lparen.IsValid() {
					doc = text(gd.Doc)
				}
				for _, id := range vs.Names {
					if !id.IsExported() {
						continue
					}
					obj, ok := info.Defs[id].(*types.Const)
					if !ok {
						return nil, fmt.Errorf("%s: no constant object", id.Name)
					}
					k := Const{Name: id.Name, Value: obj.Val(), Doc: doc}
					if named, ok := obj.Type().(*types.Named); ok {
						k.Type = named.Obj().Name()
					}
					g := out.classify(k)
					if g == nil {
						return nil, fmt.Errorf("%s: abigen does not know where constant %s belongs; "+
							"teach internal/tools/abigen/gen (Consts.classify) before adding it", fset.Position(id.Pos()), id.Name)
					}
					if g.Doc == "" {
						g.Doc = blockDoc
					}
					g.Consts = append(g.Consts, k)
				}
			}
		}
	}
	return out, nil
}

// text flattens a comment group into one paragraph.
func text(cg *ast.CommentGroup) string {
	if cg == nil {
		return ""
	}
	return strings.Join(strings.Fields(cg.Text()), " ")
}

// stripName removes a leading "Name: " from a constant's doc, the style
// abi.go uses for multi-line docs inside a const block.
func stripName(k Const) string {
	d := strings.TrimPrefix(k.Doc, k.Name+": ")
	if d != k.Doc && d != "" {
		d = strings.ToUpper(d[:1]) + d[1:]
	}
	return d
}

// snake turns a Go name into UPPER_SNAKE_CASE: ErrNotFound -> ERR_NOT_FOUND,
// ReasonOutOfFuel -> REASON_OUT_OF_FUEL, I32 -> I32.
func snake(s string) string {
	var b strings.Builder
	r := []rune(s)
	for i, c := range r {
		up := c >= 'A' && c <= 'Z'
		if i > 0 && up {
			prevLower := r[i-1] >= 'a' && r[i-1] <= 'z' || r[i-1] >= '0' && r[i-1] <= '9'
			nextLower := i+1 < len(r) && r[i+1] >= 'a' && r[i+1] <= 'z'
			prevUpper := r[i-1] >= 'A' && r[i-1] <= 'Z'
			if prevLower || prevUpper && nextLower {
				b.WriteByte('_')
			}
		}
		b.WriteString(strings.ToUpper(string(c)))
	}
	return b.String()
}
