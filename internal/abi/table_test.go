package abi_test

import (
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/wardrt/ward/internal/abi"
	"github.com/wardrt/ward/internal/tools/abigen/gen"
)

// snakeIdent is the form of namespaces, names and param names: valid in
// WAT, C and Go, and as the C header's identifiers.
var snakeIdent = regexp.MustCompile(`^[a-z][a-z0-9_]*$`)

// cKeywords may not be param names: the header uses them as C identifiers.
var cKeywords = map[string]bool{}

func init() {
	for _, k := range strings.Fields(`auto break case char const continue default do double else enum
		extern float for goto if inline int long register restrict return short signed sizeof static
		struct switch typedef union unsigned void volatile while _Alignas _Alignof _Atomic _Bool
		_Complex _Generic _Imaginary _Noreturn _Static_assert _Thread_local bool true false
		alignas alignof static_assert thread_local nullptr typeof constexpr
		class delete new this template typename namespace operator private protected public
		virtual friend try catch throw using explicit mutable export`) {
		cKeywords[k] = true
	}
}

func TestTableIsConsistent(t *testing.T) {
	cs, err := gen.ReadConsts(root)
	if err != nil {
		t.Fatal(err)
	}
	namespaces := map[string]bool{}
	for _, k := range cs.Namespaces.Consts {
		namespaces[k.Str()] = true
	}
	perms := map[abi.Permission]bool{}
	for _, k := range cs.Perms.Consts {
		perms[abi.Permission(k.Str())] = true
	}
	maxParams, maxResults := shimLimits(t)

	seen := map[string]int{}
	for i, f := range abi.Funcs {
		key := f.Namespace + "." + f.Name
		if j, dup := seen[key]; dup {
			t.Errorf("%s is in the table twice (entries %d and %d)", key, j, i)
		}
		seen[key] = i
		if _, id, ok := abi.Lookup(f.Namespace, f.Name); !ok || id != i {
			t.Errorf("Lookup(%s) = %d, %v; want %d", key, id, ok, i)
		}
		if !namespaces[f.Namespace] {
			t.Errorf("%s: namespace %q is not one of abi's Namespace constants", key, f.Namespace)
		}
		if !snakeIdent.MatchString(f.Namespace) || !snakeIdent.MatchString(f.Name) {
			t.Errorf("%s: namespace and name must match %s", key, snakeIdent)
		}
		if f.Impl != abi.C && f.Impl != abi.Go && f.Impl != abi.Hosted && f.Impl != abi.Builtin {
			t.Errorf("%s: Impl %d is neither C, Go, Hosted nor Builtin", key, f.Impl)
		}
		if !perms[f.Permission] {
			t.Errorf("%s: permission %q is not one of abi's Permission constants", key, f.Permission)
		}
		if len(f.Params) > maxParams {
			t.Errorf("%s: %d params; the shim carries at most %d", key, len(f.Params), maxParams)
		}
		if len(f.Results) > maxResults {
			t.Errorf("%s: %d results; the shim carries at most %d", key, len(f.Results), maxResults)
		}
		if len(f.Results) > 1 {
			t.Errorf("%s: %d results; a C function returns at most one, so guest/c/ward.h could not declare it", key, len(f.Results))
		}
		names := map[string]bool{}
		for _, p := range append(append([]abi.Param(nil), f.Params...), f.Results...) {
			switch {
			case !snakeIdent.MatchString(p.Name):
				t.Errorf("%s: param or result name %q must match %s", key, p.Name, snakeIdent)
			case cKeywords[p.Name]:
				t.Errorf("%s: param name %q is a C or C++ keyword", key, p.Name)
			case names[p.Name]:
				t.Errorf("%s: name %q used twice", key, p.Name)
			}
			names[p.Name] = true
			if p.Type != abi.I32 && p.Type != abi.I64 {
				t.Errorf("%s: %s has type %d, neither I32 nor I64", key, p.Name, p.Type)
			}
		}
		if f.Doc == "" || !strings.HasSuffix(f.Doc, ".") {
			t.Errorf("%s: Doc must be one or more sentences, ending with a period: %q", key, f.Doc)
		}
	}
}

// shimLimits reads the most params and results a host function may have
// from internal/wasm/shim.h's ward_hostfn_t.
func shimLimits(t *testing.T) (params, results int) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(root, "internal", "wasm", "shim.h"))
	if err != nil {
		t.Fatal(err)
	}
	src := string(b)
	m := regexp.MustCompile(`WARD_MAX_HOST_ARGS\s*=\s*(\d+)`).FindStringSubmatch(src)
	if m == nil {
		t.Fatal("shim.h: no WARD_MAX_HOST_ARGS")
	}
	params, _ = strconv.Atoi(m[1])
	// ward_hostfn_t stores param and result types in fixed arrays.
	m = regexp.MustCompile(`typedef struct ward_hostfn \{[^}]*uint8_t params\[WARD_MAX_HOST_ARGS\];\s*uint8_t results\[(\d+)\];`).FindStringSubmatch(src)
	if m == nil {
		t.Fatal("shim.h: cannot find ward_hostfn_t's params and results arrays; update shimLimits")
	}
	results, _ = strconv.Atoi(m[1])
	return params, results
}

// TestCImplsMatchTable: the C shim registers its host functions by
// "namespace.name" in shim.c's c_impls table. Every Impl C function must be
// there, and everything there must be an Impl C function of the table, or
// the linker fails at engine start (missing) or the C code is dead (extra).
func TestCImplsMatchTable(t *testing.T) {
	b, err := os.ReadFile(filepath.Join(root, "internal", "wasm", "shim.c"))
	if err != nil {
		t.Fatal(err)
	}
	src := string(b)
	start := regexp.MustCompile(`c_impls\[\]\s*=\s*\{`).FindStringIndex(src)
	if start == nil {
		t.Fatal("shim.c: no c_impls table")
	}
	body := src[start[1]:]
	end := strings.Index(body, "};")
	if end < 0 {
		t.Fatal("shim.c: c_impls table does not end")
	}
	body = body[:end]
	entries := regexp.MustCompile(`\{\s*"([^"]*)"\s*,\s*([A-Za-z_]\w*)\s*\}`).FindAllStringSubmatch(body, -1)
	if len(entries) == 0 {
		t.Fatal("shim.c: c_impls has no entries the test can read")
	}

	inShim := map[string]bool{}
	for _, e := range entries {
		if inShim[e[1]] {
			t.Errorf("shim.c: c_impls lists %s twice", e[1])
		}
		inShim[e[1]] = true
	}
	inTable := map[string]bool{}
	for _, f := range abi.Funcs {
		if f.Impl == abi.C {
			inTable[f.Namespace+"."+f.Name] = true
		}
	}
	for name := range inTable {
		if !inShim[name] {
			t.Errorf("%s is Impl C in the table but has no entry in shim.c's c_impls", name)
		}
	}
	var extra []string
	for name := range inShim {
		if !inTable[name] {
			extra = append(extra, name)
		}
	}
	sort.Strings(extra)
	for _, name := range extra {
		ns, fn, _ := strings.Cut(name, ".")
		if _, _, ok := abi.Lookup(ns, fn); ok {
			t.Errorf("shim.c's c_impls has %s, which the table implements in Go", name)
		} else {
			t.Errorf("shim.c's c_impls has %s, which is not in the table", name)
		}
	}
}

// TestDocsNameRealConstants: constant names in the functions' docs (OK,
// ErrNotFound, TagExit, MaxMessageSize, ...) must exist, so a renamed or
// removed constant cannot linger in the reference page and the header.
func TestDocsNameRealConstants(t *testing.T) {
	cs, err := gen.ReadConsts(root)
	if err != nil {
		t.Fatal(err)
	}
	known := cs.ByName()
	word := regexp.MustCompile(`\b(OK|Err[A-Z]\w*|Tag[A-Z]\w*|Reason[A-Z]\w*|Max[A-Z]\w*|Perm[A-Z]\w*)\b`)
	for _, f := range abi.Funcs {
		for _, w := range word.FindAllString(f.Doc, -1) {
			if _, ok := known[w]; !ok {
				t.Errorf("%s.%s: Doc names %s, which package abi does not define", f.Namespace, f.Name, w)
			}
		}
	}
}

// TestShimMessageLimit: the C shim enforces MaxMessageSize in write_data
// with its own macro, WARD_MAX_MESSAGE in internal/wasm/shim.h; the two
// must agree.
func TestShimMessageLimit(t *testing.T) {
	b, err := os.ReadFile(filepath.Join(root, "internal", "wasm", "shim.h"))
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`#define\s+WARD_MAX_MESSAGE\s+\(?\s*(\d+)u?\s*<<\s*(\d+)\s*\)?`).FindStringSubmatch(string(b))
	if m == nil {
		t.Fatal("shim.h: no WARD_MAX_MESSAGE of the form (N << M); update this test")
	}
	n, _ := strconv.ParseInt(m[1], 10, 64)
	s, _ := strconv.ParseUint(m[2], 10, 6)
	if got := n << s; got != abi.MaxMessageSize {
		t.Errorf("shim.h's WARD_MAX_MESSAGE is %d, abi.MaxMessageSize %d", got, abi.MaxMessageSize)
	}
}

// TestShimReceiveConstants: the shim serves receives from its inbox in C
// with its own copies of MaxReceiveTags and OK.
func TestShimReceiveConstants(t *testing.T) {
	b, err := os.ReadFile(filepath.Join(root, "internal", "wasm", "shim.h"))
	if err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]int64{"WARD_MAX_RECEIVE_TAGS": abi.MaxReceiveTags, "WARD_STATUS_OK": abi.OK} {
		m := regexp.MustCompile(`#define\s+` + name + `\s+(\d+)`).FindStringSubmatch(string(b))
		if m == nil {
			t.Errorf("shim.h: no #define %s N; update this test", name)
			continue
		}
		if got, _ := strconv.ParseInt(m[1], 10, 64); got != want {
			t.Errorf("shim.h's %s is %d, the ABI's %d", name, got, want)
		}
	}
}
