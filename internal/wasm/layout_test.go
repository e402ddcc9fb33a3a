package wasm

// layout_test.go checks the hand-written wasmtime declarations in wt_types.h
// and wt.h against the real wasmtime v25 headers that wasmtime-go ships in the
// module cache. The headers are never copied into the repo: the test finds
// them with `go list -m`, generates C files in a temp dir and lets the C
// compiler evaluate _Static_asserts on sizes, alignments, field offsets, field
// sizes and constants, and take the address of every function wt.h declares.

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
)

const layoutWasmtimeModule = "github.com/bytecodealliance/wasmtime-go/v25"

// layoutField pairs a field of one of our wt_ types with the field of the
// real wasmtime type it mirrors.
type layoutField struct{ ours, real string }

// layoutPair is one of our wt_ types and the real type it must match.
type layoutPair struct {
	ours, real string
	fields     []layoutField
}

func layoutSameFields(names ...string) []layoutField {
	fs := make([]layoutField, len(names))
	for i, n := range names {
		fs[i] = layoutField{n, n}
	}
	return fs
}

// layoutPairs lists every struct and union of wt_types.h with the real type
// (or types) it mirrors. TestLayoutTablesCoverWtTypes checks that it stays
// complete when wt_types.h changes.
var layoutPairs = []layoutPair{
	{"wt_byte_vec_t", "wasm_byte_vec_t", layoutSameFields("size", "data")},
	{"wt_ptr_vec_t", "wasm_valtype_vec_t", layoutSameFields("size", "data")},
	{"wt_ptr_vec_t", "wasm_frame_vec_t", layoutSameFields("size", "data")},
	{"wt_func_t", "wasmtime_func_t", []layoutField{{"store_id", "store_id"}, {"private_index", "__private"}}},
	{"wt_memory_t", "wasmtime_memory_t", []layoutField{{"store_id", "store_id"}, {"private_index", "__private"}}},
	{"wt_global_t", "wasmtime_global_t", []layoutField{{"store_id", "store_id"}, {"private_index", "__private"}}},
	{"wt_instance_t", "wasmtime_instance_t", layoutSameFields("store_id", "index")},
	{"wt_valunion_t", "wasmtime_valunion_t", layoutSameFields("i32", "i64", "f32", "f64", "funcref", "v128")},
	{"wt_val_t", "wasmtime_val_t", layoutSameFields("kind", "of")},
	{"wt_val_raw_t", "wasmtime_val_raw_t", layoutSameFields("i32", "i64", "f32", "f64", "v128", "funcref")},
	{"wt_extern_union_t", "wasmtime_extern_union_t", layoutSameFields("func", "global", "memory", "sharedmemory")},
	{"wt_extern_t", "wasmtime_extern_t", layoutSameFields("kind", "of")},
	{"wt_async_continuation_t", "wasmtime_async_continuation_t", layoutSameFields("callback", "env", "finalizer")},
	{"wt_stack_memory_t", "wasmtime_stack_memory_t", layoutSameFields("env", "get_stack_memory", "finalizer")},
	{"wt_stack_creator_t", "wasmtime_stack_creator_t", layoutSameFields("env", "new_stack", "finalizer")},
	{"wt_linear_memory_t", "wasmtime_linear_memory_t", layoutSameFields("env", "get_memory", "grow_memory", "finalizer")},
	{"wt_memory_creator_t", "wasmtime_memory_creator_t", layoutSameFields("env", "new_memory", "finalizer")},
}

// layoutConsts maps every enum constant of wt_types.h to the real constant.
var layoutConsts = [][2]string{
	{"WT_I32", "WASMTIME_I32"},
	{"WT_I64", "WASMTIME_I64"},
	{"WT_EXTERN_FUNC", "WASMTIME_EXTERN_FUNC"},
	{"WT_EXTERN_GLOBAL", "WASMTIME_EXTERN_GLOBAL"},
	{"WT_EXTERN_MEMORY", "WASMTIME_EXTERN_MEMORY"},
	{"WT_UPDATE_DEADLINE_YIELD", "WASMTIME_UPDATE_DEADLINE_YIELD"},
	{"WT_TRAP_OUT_OF_FUEL", "WASMTIME_TRAP_CODE_OUT_OF_FUEL"},
}

// layoutToolchain returns the C compiler and the directory holding
// wasmtime.h, skipping the test (with the reason) if go or cc is missing.
func layoutToolchain(t *testing.T) (cc, include string) {
	t.Helper()
	gobin, err := exec.LookPath("go")
	if err != nil {
		t.Skipf("skipping: the go command is not on PATH (needed to find %s in the module cache): %v", layoutWasmtimeModule, err)
	}
	for _, name := range []string{"cc", "gcc"} {
		if p, err := exec.LookPath(name); err == nil {
			cc = p
			break
		}
	}
	if cc == "" {
		t.Skip("skipping: no C compiler (cc or gcc) on PATH")
	}
	cmd := exec.Command(gobin, "list", "-m", "-f", "{{.Dir}}", layoutWasmtimeModule)
	cmd.Dir = "." // the package directory, inside the ward module
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list -m %s: %v\n%s", layoutWasmtimeModule, err, stderr.String())
	}
	dir := strings.TrimSpace(string(out))
	if dir == "" {
		t.Fatalf("go list -m %s printed no directory (module not downloaded? run go mod download)", layoutWasmtimeModule)
	}
	include = filepath.Join(dir, "build", "include")
	if _, err := os.Stat(filepath.Join(include, "wasmtime.h")); err != nil {
		t.Fatalf("wasmtime.h not found in %s: %v", include, err)
	}
	return cc, include
}

// layoutCompile compiles src as C11 with warnings as errors, returning the
// compiler's combined output and its error (nil if it compiled).
func layoutCompile(t *testing.T, cc, src string, includes ...string) (string, error) {
	t.Helper()
	f, err := os.CreateTemp(t.TempDir(), "layout-*.c")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteString(src); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	args := []string{"-c", "-std=c11", "-Werror"}
	for _, inc := range includes {
		args = append(args, "-I", inc)
	}
	args = append(args, "-o", os.DevNull, f.Name())
	out, err := exec.Command(cc, args...).CombinedOutput()
	return string(out), err
}

func layoutReadFile(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// layoutPrelude is the start of every generated file: the real API next to
// our layouts (wt_types.h only; wt.h's opaque typedefs are not needed).
const layoutPrelude = `#include <stddef.h>
#include <wasmtime.h>
#include "wt_types.h"

`

func layoutAsserts() string {
	var b strings.Builder
	check := func(ours, real string) {
		fmt.Fprintf(&b, "_Static_assert(%s == %s, %q);\n", ours, real, ours+" != "+real)
	}
	for _, p := range layoutPairs {
		fmt.Fprintf(&b, "// %s vs %s\n", p.ours, p.real)
		check("sizeof("+p.ours+")", "sizeof("+p.real+")")
		check("_Alignof("+p.ours+")", "_Alignof("+p.real+")")
		for _, f := range p.fields {
			check("offsetof("+p.ours+", "+f.ours+")", "offsetof("+p.real+", "+f.real+")")
			check("sizeof(((("+p.ours+" *)0)->"+f.ours+"))", "sizeof(((("+p.real+" *)0)->"+f.real+"))")
		}
	}
	b.WriteString("// constants\n")
	for _, c := range layoutConsts {
		check(c[0], c[1])
	}
	return b.String()
}

func layoutSymbols(funcs []string) string {
	var b strings.Builder
	b.WriteString("// every function wt.h declares must exist in the real API\n")
	b.WriteString("void *const ward_wt_h_symbols[] = {\n")
	for _, f := range funcs {
		fmt.Fprintf(&b, "  (void *)&%s,\n", f)
	}
	b.WriteString("};\n")
	return b.String()
}

func TestLayoutMatchesWasmtimeHeaders(t *testing.T) {
	cc, include := layoutToolchain(t)
	pkg, err := filepath.Abs(".")
	if err != nil {
		t.Fatal(err)
	}
	funcs, err := layoutDeclaredFuncs(layoutReadFile(t, "wt.h"))
	if err != nil {
		t.Fatalf("parsing wt.h: %v", err)
	}
	// Guard the parser: a few functions ward certainly calls must be found.
	for _, want := range []string{"wasmtime_func_call_async", "wasmtime_call_future_poll", "wasmtime_store_new", "wasi_config_delete"} {
		if !layoutContains(funcs, want) {
			t.Fatalf("parsing wt.h found %d functions but not %s: %v", len(funcs), want, funcs)
		}
	}

	src := layoutPrelude + layoutAsserts() + "\n" + layoutSymbols(funcs)
	if out, err := layoutCompile(t, cc, src, include, pkg); err != nil {
		t.Fatalf("wt_types.h / wt.h disagree with wasmtime's headers in %s (%v):\n%s\ngenerated C:\n%s", include, err, out, src)
	}
	t.Logf("checked %d type pairs, %d constants and %d functions against %s", len(layoutPairs), len(layoutConsts), len(funcs), include)

	// Negative self-checks: the same harness must reject a false assertion
	// and an unknown function, or the checks above prove nothing.
	bad := layoutPrelude + `_Static_assert(sizeof(wt_val_t) == sizeof(wasmtime_val_t) + 1, "ward_layout_selfcheck");` + "\n"
	out, err := layoutCompile(t, cc, bad, include, pkg)
	if err == nil {
		t.Fatalf("harness broken: a deliberately false _Static_assert compiled:\n%s", bad)
	}
	if !strings.Contains(out, "ward_layout_selfcheck") {
		t.Fatalf("harness broken: the false _Static_assert failed for another reason (%v):\n%s", err, out)
	}
	bad = layoutPrelude + layoutSymbols([]string{"wasmtime_func_call_async", "ward_no_such_wasmtime_function"})
	out, err = layoutCompile(t, cc, bad, include, pkg)
	if err == nil {
		t.Fatalf("harness broken: taking the address of an undeclared function compiled:\n%s", bad)
	}
	if !strings.Contains(out, "ward_no_such_wasmtime_function") {
		t.Fatalf("harness broken: the unknown-function check failed for another reason (%v):\n%s", err, out)
	}
}

// TestLayoutTablesCoverWtTypes keeps layoutPairs and layoutConsts in step
// with wt_types.h: every struct/union typedef, every field and every WT_
// constant there must be checked. It needs no compiler.
func TestLayoutTablesCoverWtTypes(t *testing.T) {
	types, consts, err := layoutWtTypes(layoutReadFile(t, "wt_types.h"))
	if err != nil {
		t.Fatalf("parsing wt_types.h: %v", err)
	}
	if len(types) == 0 || len(consts) == 0 {
		t.Fatalf("parsing wt_types.h found %d types and %d constants; parser broken?", len(types), len(consts))
	}
	for name, fields := range types {
		found := false
		for _, p := range layoutPairs {
			if p.ours != name {
				continue
			}
			found = true
			var ours []string
			for _, f := range p.fields {
				ours = append(ours, f.ours)
			}
			if strings.Join(ours, ",") != strings.Join(fields, ",") {
				t.Errorf("layoutPairs entry %s vs %s checks fields %v, but wt_types.h declares %v", p.ours, p.real, ours, fields)
			}
		}
		if !found {
			t.Errorf("wt_types.h declares %s (fields %v) but layoutPairs does not check it against a wasmtime type", name, fields)
		}
	}
	for _, p := range layoutPairs {
		if _, ok := types[p.ours]; !ok {
			t.Errorf("layoutPairs checks %s, which wt_types.h does not declare as a struct or union", p.ours)
		}
	}
	for _, c := range consts {
		found := false
		for _, lc := range layoutConsts {
			found = found || lc[0] == c
		}
		if !found {
			t.Errorf("wt_types.h declares constant %s but layoutConsts does not check it", c)
		}
	}
	for _, lc := range layoutConsts {
		if !layoutContains(consts, lc[0]) {
			t.Errorf("layoutConsts checks %s, which wt_types.h does not declare", lc[0])
		}
	}
}

func TestLayoutDeclaredFuncsParser(t *testing.T) {
	src := `// leading comment with a fake decl: void nope(int);
#ifndef X
#define X(a) foo(a)
#define Y \
   bar(1)
#include "wt_types.h"
typedef struct a a_t; /* block comment: int also_nope(void); */
typedef void (*cb_t)(void *env,
                     int x);
typedef struct s { int (*f)(int); } s_t;
void f1(a_t *, bool);
const wt_byte_vec_t *f2(const a_t *);
wasmtime_error_t *f3(a_t *, const char *module,
                     size_t len, void (*finalizer)(void *));
void *
f4 (void);
uint8_t *f5(const char *argv[]);
void f1(a_t *, bool);
#endif
`
	got, err := layoutDeclaredFuncs(src)
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"f1", "f2", "f3", "f4", "f5"}; strings.Join(got, ",") != strings.Join(want, ",") {
		t.Fatalf("declaredFuncs = %v, want %v", got, want)
	}
	for _, bad := range []string{
		"extern int some_variable;\n",
		"static inline int g(void) { return 1; }\nvoid h(void);\n",
		"void (*returns_fp(int))(void);\n",
		"void unterminated(int)\n",
	} {
		if got, err := layoutDeclaredFuncs(bad); err == nil {
			t.Errorf("declaredFuncs(%q) = %v, want an error", bad, got)
		}
	}
}

var (
	layoutBlockComment = regexp.MustCompile(`(?s)/\*.*?\*/`)
	layoutLineComment  = regexp.MustCompile(`//[^\n]*`)
	// A plain function declaration: return type, name, one parameter list.
	layoutFuncDecl = regexp.MustCompile(`(?s)^([^(){}\[\]=]*?)\b([A-Za-z_]\w*)\s*\((.*)\)$`)
	layoutIdent    = regexp.MustCompile(`^[A-Za-z_]\w*$`)
)

var layoutCKeywords = map[string]bool{
	"void": true, "char": true, "short": true, "int": true, "long": true, "float": true, "double": true,
	"signed": true, "unsigned": true, "bool": true, "_Bool": true, "const": true, "volatile": true,
	"struct": true, "union": true, "enum": true, "typedef": true, "extern": true, "static": true,
	"inline": true, "return": true, "sizeof": true, "restrict": true,
}

// layoutTopLevel strips comments and preprocessor lines from a C header and
// splits what remains into top-level declarations (split at ';' outside
// braces and parentheses), each with whitespace collapsed.
func layoutTopLevel(src string) ([]string, error) {
	src = layoutBlockComment.ReplaceAllString(src, " ")
	src = layoutLineComment.ReplaceAllString(src, "")
	src = strings.ReplaceAll(src, "\\\n", " ")
	var lines []string
	for _, l := range strings.Split(src, "\n") {
		if !strings.HasPrefix(strings.TrimSpace(l), "#") {
			lines = append(lines, l)
		}
	}
	src = strings.Join(lines, "\n")

	var decls []string
	var cur strings.Builder
	braces, parens := 0, 0
	for _, r := range src {
		switch r {
		case '{':
			braces++
		case '}':
			braces--
		case '(':
			parens++
		case ')':
			parens--
		}
		if braces < 0 || parens < 0 {
			return nil, errors.New("unbalanced braces or parentheses")
		}
		if r == ';' && braces == 0 && parens == 0 {
			decls = append(decls, strings.Join(strings.Fields(cur.String()), " "))
			cur.Reset()
			continue
		}
		cur.WriteRune(r)
	}
	if rest := strings.TrimSpace(cur.String()); rest != "" {
		return nil, fmt.Errorf("text after the last declaration: %q", rest)
	}
	if braces != 0 || parens != 0 {
		return nil, errors.New("unbalanced braces or parentheses")
	}
	return decls, nil
}

// layoutDeclaredFuncs returns, sorted and deduplicated, the names of the functions
// a header declares. Typedefs are skipped; anything that is neither a typedef
// nor a plain function prototype is an error, so that the caller never
// silently misses a declaration.
func layoutDeclaredFuncs(src string) ([]string, error) {
	decls, err := layoutTopLevel(src)
	if err != nil {
		return nil, err
	}
	seen := map[string]bool{}
	var names []string
	for _, d := range decls {
		if d == "" || strings.HasPrefix(d, "typedef ") {
			continue
		}
		m := layoutFuncDecl.FindStringSubmatch(d)
		if m == nil || strings.TrimSpace(m[1]) == "" || layoutCKeywords[m[2]] ||
			strings.ContainsAny(d, "{}=") || !layoutOneParamList(m[3]) {
			return nil, fmt.Errorf("not a typedef or a plain function declaration: %q", d)
		}
		if !seen[m[2]] {
			seen[m[2]] = true
			names = append(names, m[2])
		}
	}
	sort.Strings(names)
	return names, nil
}

// layoutOneParamList reports whether params (the text between a function
// name's '(' and the final ')') is a single balanced parameter list, i.e. the
// name's '(' is closed by the declaration's last ')'.
func layoutOneParamList(params string) bool {
	depth := 0
	for _, r := range params {
		switch r {
		case '(':
			depth++
		case ')':
			depth--
			if depth < 0 {
				return false
			}
		}
	}
	return depth == 0
}

var (
	layoutTypedefAggregate = regexp.MustCompile(`(?s)^typedef (?:struct|union)\s*\w*\s*\{(.*)\}\s*(\w+)$`)
	layoutFuncPtrField     = regexp.MustCompile(`\(\s*\*\s*([A-Za-z_]\w*)\s*\)`)
	layoutArraySuffix      = regexp.MustCompile(`\s*(\[[^\]]*\]\s*)+$`)
	layoutEnumBody         = regexp.MustCompile(`(?s)^enum\s*\w*\s*\{(.*)\}$`)
)

// layoutWtTypes returns the struct/union typedefs of wt_types.h with their
// field names in order, and its enum constants.
func layoutWtTypes(src string) (types map[string][]string, consts []string, err error) {
	decls, err := layoutTopLevel(src)
	if err != nil {
		return nil, nil, err
	}
	types = map[string][]string{}
	for _, d := range decls {
		if m := layoutTypedefAggregate.FindStringSubmatch(d); m != nil {
			var fields []string
			for _, f := range strings.Split(m[1], ";") {
				f = strings.TrimSpace(f)
				if f == "" {
					continue
				}
				if strings.Contains(f, ",") && !strings.Contains(f, "(") {
					return nil, nil, fmt.Errorf("%s: several fields in one declaration: %q", m[2], f)
				}
				var name string
				if fm := layoutFuncPtrField.FindStringSubmatch(f); fm != nil {
					name = fm[1]
				} else {
					f = layoutArraySuffix.ReplaceAllString(f, "")
					name = f[strings.LastIndexAny(f, " *")+1:]
				}
				if !layoutIdent.MatchString(name) || layoutCKeywords[name] {
					return nil, nil, fmt.Errorf("%s: cannot find the field name in %q", m[2], f)
				}
				fields = append(fields, name)
			}
			types[m[2]] = fields
			continue
		}
		if m := layoutEnumBody.FindStringSubmatch(d); m != nil {
			for _, e := range strings.Split(m[1], ",") {
				e = strings.TrimSpace(e)
				if e == "" {
					continue
				}
				name := strings.TrimSpace(strings.SplitN(e, "=", 2)[0])
				if !layoutIdent.MatchString(name) {
					return nil, nil, fmt.Errorf("cannot parse enum constant %q", e)
				}
				consts = append(consts, name)
			}
			continue
		}
		if strings.Contains(d, "{") {
			return nil, nil, fmt.Errorf("unrecognised definition in wt_types.h: %q", d)
		}
	}
	return types, consts, nil
}

func layoutContains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
