package environment

import (
	"bytes"
	"errors"
	"io"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func TestRootDefaults(t *testing.T) {
	root, err := Root(Config{})
	if err != nil {
		t.Fatalf("Root(Config{}): %v", err)
	}
	if root.MaxMemory != DefaultMaxMemory {
		t.Errorf("MaxMemory = %d, want DefaultMaxMemory %d", root.MaxMemory, uint64(DefaultMaxMemory))
	}
	if root.MaxFuel != UnlimitedFuel {
		t.Errorf("MaxFuel = %d, want UnlimitedFuel", root.MaxFuel)
	}
	if !reflect.DeepEqual(root.Namespaces, DefaultNamespaces) {
		t.Errorf("Namespaces = %q, want DefaultNamespaces %q", root.Namespaces, DefaultNamespaces)
	}
	if root.MaxProcesses != DefaultMaxProcesses {
		t.Errorf("MaxProcesses = %d, want DefaultMaxProcesses %d", root.MaxProcesses, DefaultMaxProcesses)
	}
	// Spawn, and nothing that reaches further into the host: compiling
	// and making environments are asked for.
	want := Permissions{Spawn: Allow, CreateEnvironments: Deny, CompileModules: Deny}
	if root.Permissions != want {
		t.Errorf("Permissions = %+v, want %+v", root.Permissions, want)
	}
	if root.WASI.Stdout != io.Discard || root.WASI.Stderr != io.Discard {
		t.Errorf("WASI writers = %v, %v, want io.Discard for both", root.WASI.Stdout, root.WASI.Stderr)
	}
	if root.WASI.Args != nil || root.WASI.Env != nil || root.WASI.Dirs != nil {
		t.Errorf("WASI = %+v, want no args, env or dirs", root.WASI)
	}
}

func TestRootKeepsWhatIsSet(t *testing.T) {
	var out bytes.Buffer
	in := Config{
		MaxMemory:    16 * PageSize,
		MaxFuel:      1_000_000,
		Namespaces:   []string{"ward_process"},
		MaxProcesses: 10,
		Permissions:  Permissions{Spawn: Deny, CompileModules: Allow},
		WASI: WASI{
			Args:   []string{"prog", "-v"},
			Env:    map[string]string{"HOME": "/home/guest"},
			Dirs:   []Dir{{HostPath: "/srv/data", GuestPath: "/data"}},
			Stdout: &out,
		},
	}
	root, err := Root(in)
	if err != nil {
		t.Fatalf("Root: %v", err)
	}
	if root.MaxMemory != in.MaxMemory || root.MaxFuel != in.MaxFuel || root.MaxProcesses != in.MaxProcesses {
		t.Errorf("limits = %d/%d/%d, want %d/%d/%d", root.MaxMemory, root.MaxFuel, root.MaxProcesses, in.MaxMemory, in.MaxFuel, in.MaxProcesses)
	}
	if !reflect.DeepEqual(root.Namespaces, in.Namespaces) {
		t.Errorf("Namespaces = %q, want %q", root.Namespaces, in.Namespaces)
	}
	// Inherit still means the root default for the permission not mentioned.
	want := Permissions{Spawn: Deny, CreateEnvironments: Deny, CompileModules: Allow}
	if root.Permissions != want {
		t.Errorf("Permissions = %+v, want %+v", root.Permissions, want)
	}
	if !reflect.DeepEqual(root.WASI.Args, in.WASI.Args) || !reflect.DeepEqual(root.WASI.Env, in.WASI.Env) {
		t.Errorf("Args/Env = %q/%q, want %q/%q", root.WASI.Args, root.WASI.Env, in.WASI.Args, in.WASI.Env)
	}
	if wantDirs := []Dir{{HostPath: hostAbs("/srv/data"), GuestPath: "/data"}}; !reflect.DeepEqual(root.WASI.Dirs, wantDirs) {
		t.Errorf("Dirs = %+v, want %+v", root.WASI.Dirs, wantDirs)
	}
	if root.WASI.Stdout != &out {
		t.Errorf("Stdout = %v, want the buffer given", root.WASI.Stdout)
	}
	if root.WASI.Stderr != io.Discard {
		t.Errorf("Stderr = %v, want io.Discard", root.WASI.Stderr)
	}
}

// An empty but non-nil slice is a value, not "inherit": it must not turn
// into the defaults, or "allow nothing" would silently allow everything.
func TestRootEmptyNamespacesAllowNone(t *testing.T) {
	root, err := Root(Config{Namespaces: []string{}})
	if err != nil {
		t.Fatalf("Root: %v", err)
	}
	if root.Namespaces == nil || len(root.Namespaces) != 0 {
		t.Fatalf("Namespaces = %#v, want empty and non-nil", root.Namespaces)
	}
	if root.Allows("ward_process") {
		t.Error(`Allows("ward_process") = true with no namespaces`)
	}
}

// The environment must not change when the caller reuses what it passed in.
func TestRootCopiesInput(t *testing.T) {
	in := Config{
		Namespaces: []string{"ward_process"},
		WASI: WASI{
			Args: []string{"a"},
			Env:  map[string]string{"K": "v"},
			Dirs: []Dir{{HostPath: "/data"}},
		},
	}
	root, err := Root(in)
	if err != nil {
		t.Fatalf("Root: %v", err)
	}
	in.Namespaces[0] = "ward_*"
	in.WASI.Args[0] = "b"
	in.WASI.Env["K"] = "w"
	in.WASI.Dirs[0].HostPath = "/"
	if root.Namespaces[0] != "ward_process" || root.WASI.Args[0] != "a" || root.WASI.Env["K"] != "v" || root.WASI.Dirs[0].HostPath != hostAbs("/data") {
		t.Errorf("root changed with its input: %+v", root)
	}

	saved := DefaultNamespaces[0]
	defer func() { DefaultNamespaces[0] = saved }()
	root, err = Root(Config{})
	if err != nil {
		t.Fatalf("Root: %v", err)
	}
	DefaultNamespaces[0] = "anything"
	if root.Namespaces[0] != saved {
		t.Errorf("root shares DefaultNamespaces: Namespaces[0] = %q", root.Namespaces[0])
	}
}

func TestRootInvalid(t *testing.T) {
	tests := []struct {
		name string
		c    Config
		want string // in the message
	}{
		{"memory not whole pages", Config{MaxMemory: PageSize + 1}, "MaxMemory 65537 is not a whole number of 65536-byte Wasm pages (65536 is)"},
		{"memory below a page", Config{MaxMemory: 1000}, "MaxMemory 1000 is not a whole number of 65536-byte Wasm pages (65536 is)"},
		{"memory above wasm32", Config{MaxMemory: MaxWasm32Memory + PageSize}, "MaxMemory 4295032832 is more than a wasm32 memory can address (4294967296)"},
		{"negative processes", Config{MaxProcesses: -1}, "MaxProcesses -1 is negative"},
		{"empty namespace", Config{Namespaces: []string{"ward_process", ""}}, `Namespaces[1] "" is empty`},
		{"star inside namespace", Config{Namespaces: []string{"ward_*_x"}}, `Namespaces[0] "ward_*_x" has a "*" before its end`},
		{"leading star", Config{Namespaces: []string{"*_process"}}, `Namespaces[0] "*_process" has a "*" before its end`},
		{"unknown permission", Config{Permissions: Permissions{CompileModules: 7}}, "Permissions.CompileModules is Permission(7)"},
		{"NUL in arg", Config{WASI: WASI{Args: []string{"a\x00b"}}}, `WASI.Args[0] "a\x00b" contains NUL`},
		{"empty env key", Config{WASI: WASI{Env: map[string]string{"": "v"}}}, "WASI.Env has an empty key"},
		{"= in env key", Config{WASI: WASI{Env: map[string]string{"A=B": "v"}}}, `WASI.Env key "A=B" contains "="`},
		{"NUL in env value", Config{WASI: WASI{Env: map[string]string{"A": "\x00"}}}, `WASI.Env["A"] contains NUL`},
		{"empty host path", Config{WASI: WASI{Dirs: []Dir{{GuestPath: "/x"}}}}, "WASI.Dirs[0]: HostPath is empty"},
		{"NUL in guest path", Config{WASI: WASI{Dirs: []Dir{{HostPath: "/x", GuestPath: "a\x00"}}}}, `WASI.Dirs[0]: GuestPath "a\x00" contains NUL`},
		{"guest path twice", Config{WASI: WASI{Dirs: []Dir{{HostPath: "/a", GuestPath: "/d"}, {HostPath: "/b", GuestPath: "/d/"}}}}, `WASI.Dirs[1]: GuestPath "/d" is also that of WASI.Dirs[0]`},
		{"default guest path twice", Config{WASI: WASI{Dirs: []Dir{{HostPath: "/a"}, {HostPath: "/b", GuestPath: "/a"}}}}, `GuestPath "/a" is also that of WASI.Dirs[0]`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Root(tt.c)
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("Root error = %v, want one wrapping ErrInvalid", err)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Root error = %q, want it to contain %q", err, tt.want)
			}
			if !reflect.DeepEqual(got, Config{}) {
				t.Errorf("Root returned %+v with its error, want the zero Config", got)
			}
		})
	}
}

// Someone fixing a configuration should see all of its problems at once.
func TestRootReportsEveryProblem(t *testing.T) {
	_, err := Root(Config{MaxMemory: 1, MaxProcesses: -1, Namespaces: []string{""}})
	for _, want := range []string{"MaxMemory 1", "MaxProcesses -1", `Namespaces[0] ""`} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Root error = %v, want it to mention %q", err, want)
		}
	}
}

func TestPermission(t *testing.T) {
	for _, tt := range []struct {
		p       Permission
		allowed bool
		str     string
	}{
		{Inherit, false, "inherit"},
		{Allow, true, "allow"},
		{Deny, false, "deny"},
		{Permission(9), false, "Permission(9)"},
	} {
		if got := tt.p.Allowed(); got != tt.allowed {
			t.Errorf("%v.Allowed() = %v, want %v", tt.p, got, tt.allowed)
		}
		if got := tt.p.String(); got != tt.str {
			t.Errorf("String() = %q, want %q", got, tt.str)
		}
	}
}

// hostAbs is the HostPath Root and Narrow make of p, so that the tests hold
// on hosts whose absolute paths do not start with "/". Should filepath.Abs
// fail, so would Root, and the test comparing against p would report it.
func hostAbs(p string) string {
	a, err := filepath.Abs(p)
	if err != nil {
		return p
	}
	return a
}
