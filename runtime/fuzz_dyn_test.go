package runtime

import (
	"testing"

	"github.com/fxamacker/cbor/v2"

	"github.com/wardrt/ward/environment"
	"github.com/wardrt/ward/internal/abi"
	"github.com/wardrt/ward/testdata"
)

// FuzzModuleABI draws calls from ward_module and ward_environment alone,
// with the interpreter of fuzz_abi_test.go: loads of whatever the blob
// holds, spawns, takes and drops of tokens written or made up.
func FuzzModuleABI(f *testing.F) {
	f.Add(moduleSeed(len(testdata.Trivial), 0))
	f.Add(moduleSeed(len(testdata.Trivial)-1, 0))
	fuzzABI(f, abiOps(abi.NamespaceModule, abi.NamespaceEnvironment))
}

// moduleSeed is a program that loads the first n bytes of testdata.Trivial,
// which it carries as its blob, and spawns its run export from the handle.
// The ops are indexes into abiOps(ward_module, ward_environment): load is
// 0, spawn 1. extra more calls follow, each a load with zero arguments,
// for a test to replace.
func moduleSeed(n, extra int) []byte {
	b := []byte{byte(1 + extra)}
	// load(blob, n, slot 0)
	b = append(b, 0, 0x0d, 0x00, byte(n>>8)<<4|0x0f, byte(n), 0x0a, 0, 0, 0, 0)
	// spawn(the handle at slot 0, "run", 3, no params, env 0, slot 1)
	b = append(b, 1, 0x0b, 0x06, 0x07, 0, 0, 0, 0x1a)
	for range extra {
		b = append(b, 0, 0, 0, 0, 0, 0, 0, 0)
	}
	return append(b, testdata.Trivial...)
}

// The seed really loads and spawns: with the whole module the program
// ends normally, with one byte short the load is ErrInvalid.
func TestModuleSeedLoads(t *testing.T) {
	if len(testdata.Trivial) > abiMaxBlob {
		t.Fatalf("testdata.Trivial is %d bytes, more than a blob holds", len(testdata.Trivial))
	}
	ops := abiOps(abi.NamespaceModule, abi.NamespaceEnvironment)
	for _, c := range []struct {
		n    int
		want int
	}{{len(testdata.Trivial), abi.OK}, {len(testdata.Trivial) - 1, abi.ErrInvalid}} {
		reason := runABI(t, t.TempDir(), testTimeout, func(pids abiPids) ([]abiCall, []byte) {
			calls, blob, _ := decodeABIProgram(moduleSeed(c.n, 1), ops, pids)
			calls[2] = abiCallOf(t, "ward_process.exit", modeLast)
			if c.want != abi.OK {
				calls[1] = calls[2] // the spawn would see no handle
			}
			return calls, blob
		}).reason
		if !exitsWith(c.want)(reason) && !(c.want == abi.OK && reason == Normal) {
			t.Fatalf("%d bytes: %v, want status %d", c.n, reason, c.want)
		}
	}
}

// FuzzEnvConfig feeds ward_environment.create's decoder anything: it must
// not panic, and a config it accepts narrows a root into one that narrows
// it again unchanged (so it is within its parent).
func FuzzEnvConfig(f *testing.F) {
	for _, c := range []guestEnvConfig{
		{},
		{MaxMemory: 1 << 20, MaxProcesses: 3, Namespaces: []string{"ward_*"}},
		{MaxWallTimeMs: 1000, Spawn: 2, CompileModules: 2},
		{MaxMemory: 1000, MaxHandles: -1},
	} {
		b, err := cbor.Marshal(c)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte{0xa1, 0x6a, 'N', 'a', 'm', 'e', 's', 'p', 'a', 'c', 'e', 's', 0x80})
	parent, err := environment.Root(environment.Config{MaxMemory: 64 << 20})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := decodeEnvConfig(b)
		if err != nil {
			return
		}
		out, err := parent.Narrow(c)
		if err != nil {
			return
		}
		if out.MaxMemory > parent.MaxMemory || out.MaxProcesses > parent.MaxProcesses {
			t.Fatalf("narrowed to %+v, wider than the parent", out)
		}
		if _, err := parent.Narrow(out); err != nil {
			t.Fatalf("the narrowed config does not narrow the parent again: %v", err)
		}
	})
}
