package gen

import (
	"bytes"
	"strings"
	"testing"

	"github.com/wardrt/ward/internal/abi"
)

func TestDeterministic(t *testing.T) {
	a, err := Generate("../../../..", abi.Funcs)
	if err != nil {
		t.Fatal(err)
	}
	for range 3 {
		b, err := Generate("../../../..", abi.Funcs)
		if err != nil {
			t.Fatal(err)
		}
		for i := range a {
			if !bytes.Equal(a[i].Data, b[i].Data) {
				t.Fatalf("%s differs between two runs", a[i].Path)
			}
		}
	}
}

func TestEveryFunctionAndConstantAppears(t *testing.T) {
	files, err := Generate("../../../..", abi.Funcs)
	if err != nil {
		t.Fatal(err)
	}
	doc, hdr := string(files[0].Data), string(files[1].Data)
	for _, f := range abi.Funcs {
		if !strings.Contains(doc, "### `"+f.Namespace+"."+f.Name+"`") {
			t.Errorf("docs/abi.md has no section for %s.%s", f.Namespace, f.Name)
		}
		attr := `__attribute__((import_module("` + f.Namespace + `"), import_name("` + f.Name + `")))` + "\n" + cProto(f) + ";"
		if !strings.Contains(hdr, attr) {
			t.Errorf("ward.h does not declare %s.%s as\n%s", f.Namespace, f.Name, attr)
		}
	}
	cs, err := ReadConsts("../../../..")
	if err != nil {
		t.Fatal(err)
	}
	for name := range cs.ByName() {
		if !strings.Contains(doc, "`"+name+"`") && !strings.Contains(doc, "`abi."+name+"`") {
			t.Errorf("docs/abi.md does not mention constant %s", name)
		}
	}
}

func TestConstsMatchCompiled(t *testing.T) {
	cs, err := ReadConsts("../../../..")
	if err != nil {
		t.Fatal(err)
	}
	by := cs.ByName()
	for name, want := range map[string]int64{
		"OK": abi.OK, "ErrTimeout": abi.ErrTimeout, "TagExit": abi.TagExit, "TagDown": abi.TagDown,
		"ReasonGoError": abi.ReasonGoError, "MaxMessageSize": abi.MaxMessageSize,
		"SpawnParamSize": abi.SpawnParamSize, "I64": int64(abi.I64), "Go": int64(abi.Go),
	} {
		if got := by[name].Int(); got != want {
			t.Errorf("%s = %d from source, %d compiled", name, got, want)
		}
	}
	if got := by["NamespaceProcess"].Str(); got != abi.NamespaceProcess {
		t.Errorf("NamespaceProcess = %q", got)
	}
}

func TestNames(t *testing.T) {
	for in, want := range map[string]string{
		"OK": "OK", "ErrNotFound": "ERR_NOT_FOUND", "ReasonOutOfFuel": "REASON_OUT_OF_FUEL",
		"I32": "I32", "MaxMessageSize": "MAX_MESSAGE_SIZE", "WASIFoo": "WASI_FOO",
	} {
		if got := snake(in); got != want {
			t.Errorf("snake(%q) = %q, want %q", in, got, want)
		}
	}
	if got := CName(abi.Func{Namespace: "ward_process", Name: "spawn"}); got != "ward_process_spawn" {
		t.Errorf("CName = %q", got)
	}
	if got := CName(abi.Func{Namespace: "wasi_snapshot_preview1", Name: "fd_write"}); got != "ward_wasi_snapshot_preview1_fd_write" {
		t.Errorf("CName = %q", got)
	}
	if got := slug("ward_process.sleep_ms"); got != "ward_processsleep_ms" {
		t.Errorf("slug = %q", got)
	}
}

func TestMultipleResultsRefused(t *testing.T) {
	funcs := []abi.Func{{Namespace: "ward_x", Name: "two", Results: []abi.Param{{Name: "a", Type: abi.I32}, {Name: "b", Type: abi.I32}}}}
	if _, err := Generate("../../../..", funcs); err == nil || !strings.Contains(err.Error(), "ward_x.two") {
		t.Errorf("Generate with two results: %v", err)
	}
}
