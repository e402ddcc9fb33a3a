package abi_test

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/wardrt/ward/internal/abi"
	"github.com/wardrt/ward/internal/tools/abigen/gen"
)

// callerC is a C guest that includes guest/c/ward.h and calls every host
// function of the table by its C name, with as many arguments as the table
// says, so it compiles only if the header declares each one to match.
func callerC() string {
	var b strings.Builder
	b.WriteString("#include \"ward.h\"\n\nint64_t ward_test_sink;\n\n")
	b.WriteString("__attribute__((export_name(\"run\"))) void run(void) {\n")
	for _, f := range abi.Funcs {
		args := make([]string, len(f.Params))
		for i := range args {
			args[i] = "0"
		}
		call := fmt.Sprintf("%s(%s)", gen.CName(f), strings.Join(args, ", "))
		if len(f.Results) > 0 {
			call = "ward_test_sink += (int64_t)" + call
		}
		fmt.Fprintf(&b, "  %s;\n", call)
	}
	b.WriteString("  ward_test_sink += WARD_OK + WARD_TAG_EXIT + WARD_MAX_MESSAGE_SIZE + sizeof(ward_spawn_param_t);\n")
	b.WriteString("}\n")
	return b.String()
}

func writeCaller(t *testing.T) (dir, src string) {
	t.Helper()
	dir = t.TempDir()
	src = filepath.Join(dir, "caller.c")
	if err := os.WriteFile(src, []byte(callerC()), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir, src
}

func headerDir(t *testing.T) string {
	t.Helper()
	d, err := filepath.Abs(filepath.Join(root, filepath.Dir(gen.HeaderPath)))
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func runCmd(name string, args ...string) (string, error) {
	out, err := exec.Command(name, args...).CombinedOutput()
	return string(out), err
}

// TestHeaderHostSyntax checks guest/c/ward.h with the host's C compiler,
// as C and, when there is one, as C++. The Wasm import attributes mean
// nothing off wasm32, so warnings about attributes are off; every other
// warning is an error.
func TestHeaderHostSyntax(t *testing.T) {
	t.Parallel()
	_, src := writeCaller(t)
	inc := "-I" + headerDir(t)
	flags := []string{"-fsyntax-only", "-Wall", "-Wextra", "-Werror", "-Wno-attributes", "-Wno-unknown-attributes", inc}
	cc := "cc"
	if _, err := exec.LookPath(cc); err != nil {
		t.Skipf("no host C compiler (cc) on PATH: %v", err)
	}
	for _, std := range []string{"c99", "c11", "gnu17"} {
		if out, err := runCmd(cc, append([]string{"-std=" + std, "-x", "c", src}, flags...)...); err != nil {
			t.Errorf("cc -std=%s rejects ward.h: %v\n%s", std, err, out)
		}
	}
	if out, err := runCmd(cc, append([]string{"-std=c11", "-pedantic", "-x", "c", src}, flags...)...); err != nil {
		t.Errorf("cc -std=c11 -pedantic rejects ward.h: %v\n%s", err, out)
	}
	if cxx, err := exec.LookPath("c++"); err == nil {
		if out, err := runCmd(cxx, append([]string{"-std=c++11", "-x", "c++", src}, flags...)...); err != nil {
			t.Errorf("c++ rejects ward.h: %v\n%s", err, out)
		}
	} else {
		t.Logf("no c++ on PATH; ward.h not checked as C++")
	}
}

// TestHeaderBuildsWasmGuest compiles and links a C guest against
// guest/c/ward.h for wasm32 with clang, then loads it into ward: the
// imports clang emits from the header's attributes must all resolve
// against ward's linker with the right signatures. It needs clang with the
// WebAssembly target and wasm-ld; without them it is skipped, for that
// reason only.
func TestHeaderBuildsWasmGuest(t *testing.T) {
	t.Parallel()
	clang, err := exec.LookPath("clang")
	if err != nil {
		t.Skip("clang is not installed; the wasm32 build of ward.h is not checked")
	}
	dir, src := writeCaller(t)
	flags := []string{"--target=wasm32", "-ffreestanding", "-nostdlib", "-O1",
		"-Wl,--no-entry", "-Wl,--allow-undefined", "-Wl,--export=run"}

	// Can this clang build a wasm32 module at all? If not, the toolchain
	// is missing (no WebAssembly target, no wasm-ld): skip.
	probe := filepath.Join(dir, "probe.c")
	if err := os.WriteFile(probe, []byte("#include <stdint.h>\n__attribute__((export_name(\"run\"))) int32_t run(void) { return 0; }\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := runCmd(clang, append(flags, "-o", filepath.Join(dir, "probe.wasm"), probe)...); err != nil {
		t.Skipf("clang cannot build wasm32 modules here (no WebAssembly target or no wasm-ld): %v\n%s", err, out)
	}

	wasmPath := filepath.Join(dir, "caller.wasm")
	args := append(flags, "-std=c11", "-Wall", "-Wextra", "-Werror", "-I"+headerDir(t), "-o", wasmPath, src)
	if out, err := runCmd(clang, args...); err != nil {
		t.Fatalf("clang --target=wasm32 with ward.h: %v\n%s", err, out)
	}
	bin, err := os.ReadFile(wasmPath)
	if err != nil {
		t.Fatal(err)
	}
	rt := newRuntime(t)
	m, err := rt.LoadModule(ctx(t), "caller.wasm", bin)
	if err != nil {
		t.Fatalf("ward rejects the imports clang made from ward.h: %v", err)
	}
	got := map[string]bool{}
	for _, im := range m.Imports() {
		got[im.Module+"."+im.Name] = true
	}
	for _, f := range abi.Funcs {
		if !got[f.Namespace+"."+f.Name] {
			t.Errorf("the C guest does not import %s.%s", f.Namespace, f.Name)
		}
	}
	if len(got) != len(abi.Funcs) {
		t.Errorf("the C guest has %d imports, the table %d functions: %v", len(got), len(abi.Funcs), got)
	}
}
