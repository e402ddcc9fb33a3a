package environment

import (
	"bytes"
	"errors"
	"io"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"
)

// parentConfig is a root with a bound on every field, so that children can
// both stay under it and go over it.
func parentConfig(t *testing.T) Config {
	t.Helper()
	parent, err := Root(Config{
		MaxMemory:    64 * PageSize,
		MaxFuel:      1_000_000,
		Namespaces:   []string{"ward_process", "ward_message", "wasi_*"},
		MaxProcesses: 100,
		Permissions:  Permissions{CreateEnvironments: Allow},
		WASI: WASI{
			Args: []string{"parent"},
			Env:  map[string]string{"WHO": "parent"},
			Dirs: []Dir{{HostPath: "/data", GuestPath: "/data"}, {HostPath: "/srv/www"}},
		},
	})
	if err != nil {
		t.Fatalf("Root: %v", err)
	}
	return parent
}

func TestNarrowInheritsEverything(t *testing.T) {
	parent := parentConfig(t)
	child, err := parent.Narrow(Config{})
	if err != nil {
		t.Fatalf("Narrow(Config{}): %v", err)
	}
	if !reflect.DeepEqual(child, parent) {
		t.Errorf("Narrow(Config{}) =\n%+v\nwant the parent\n%+v", child, parent)
	}
	// Equal, but not shared: a child must not be able to edit its parent.
	child.Namespaces[0] = "x"
	child.WASI.Args[0] = "x"
	child.WASI.Env["WHO"] = "x"
	child.WASI.Dirs[0].HostPath = "x"
	if again := parentConfig(t); !reflect.DeepEqual(parent, again) {
		t.Errorf("changing the child changed the parent: %+v", parent)
	}
}

// Each case sets one field of the child to a narrower value and checks the
// field came through while everything else was inherited.
func TestNarrowAllowed(t *testing.T) {
	tests := []struct {
		name  string
		child Config
		check func(t *testing.T, got Config)
	}{
		{"less memory", Config{MaxMemory: PageSize}, func(t *testing.T, got Config) {
			if got.MaxMemory != PageSize {
				t.Errorf("MaxMemory = %d, want %d", got.MaxMemory, PageSize)
			}
		}},
		{"same memory", Config{MaxMemory: 64 * PageSize}, func(t *testing.T, got Config) {
			if got.MaxMemory != 64*PageSize {
				t.Errorf("MaxMemory = %d, want %d", got.MaxMemory, 64*PageSize)
			}
		}},
		{"less fuel", Config{MaxFuel: 10}, func(t *testing.T, got Config) {
			if got.MaxFuel != 10 {
				t.Errorf("MaxFuel = %d, want 10", got.MaxFuel)
			}
		}},
		{"fewer processes", Config{MaxProcesses: 1}, func(t *testing.T, got Config) {
			if got.MaxProcesses != 1 {
				t.Errorf("MaxProcesses = %d, want 1", got.MaxProcesses)
			}
		}},
		{"subset of namespaces", Config{Namespaces: []string{"ward_message", "wasi_snapshot_preview1"}}, func(t *testing.T, got Config) {
			if want := []string{"ward_message", "wasi_snapshot_preview1"}; !reflect.DeepEqual(got.Namespaces, want) {
				t.Errorf("Namespaces = %q, want %q", got.Namespaces, want)
			}
		}},
		{"narrower pattern", Config{Namespaces: []string{"wasi_snap*"}}, func(t *testing.T, got Config) {
			if !got.Allows("wasi_snapshot_preview1") || got.Allows("wasi_other") {
				t.Errorf("Namespaces %q do not behave as wasi_snap*", got.Namespaces)
			}
		}},
		{"no namespaces", Config{Namespaces: []string{}}, func(t *testing.T, got Config) {
			if got.Namespaces == nil || len(got.Namespaces) != 0 {
				t.Errorf("Namespaces = %#v, want empty and non-nil", got.Namespaces)
			}
		}},
		{"deny spawn", Config{Permissions: Permissions{Spawn: Deny}}, func(t *testing.T, got Config) {
			want := Permissions{Spawn: Deny, CreateEnvironments: Allow, CompileModules: Deny}
			if got.Permissions != want {
				t.Errorf("Permissions = %+v, want %+v", got.Permissions, want)
			}
		}},
		{"allow what the parent allows", Config{Permissions: Permissions{CreateEnvironments: Allow}}, func(t *testing.T, got Config) {
			if got.Permissions.CreateEnvironments != Allow {
				t.Errorf("CreateEnvironments = %v, want allow", got.Permissions.CreateEnvironments)
			}
		}},
		{"deny what the parent denies", Config{Permissions: Permissions{CompileModules: Deny}}, func(t *testing.T, got Config) {
			if got.Permissions.CompileModules != Deny {
				t.Errorf("CompileModules = %v, want deny", got.Permissions.CompileModules)
			}
		}},
		{"args and env replace", Config{WASI: WASI{Args: []string{"child", "-x"}, Env: map[string]string{"ONLY": "child"}}}, func(t *testing.T, got Config) {
			if want := []string{"child", "-x"}; !reflect.DeepEqual(got.WASI.Args, want) {
				t.Errorf("Args = %q, want %q", got.WASI.Args, want)
			}
			if want := map[string]string{"ONLY": "child"}; !reflect.DeepEqual(got.WASI.Env, want) {
				t.Errorf("Env = %q, want %q (replaced, not merged)", got.WASI.Env, want)
			}
		}},
		{"empty args and env", Config{WASI: WASI{Args: []string{}, Env: map[string]string{}}}, func(t *testing.T, got Config) {
			if got.WASI.Args == nil || len(got.WASI.Args) != 0 || got.WASI.Env == nil || len(got.WASI.Env) != 0 {
				t.Errorf("Args/Env = %#v/%#v, want both empty and non-nil", got.WASI.Args, got.WASI.Env)
			}
		}},
		{"no dirs", Config{WASI: WASI{Dirs: []Dir{}}}, func(t *testing.T, got Config) {
			if got.WASI.Dirs == nil || len(got.WASI.Dirs) != 0 {
				t.Errorf("Dirs = %#v, want empty and non-nil", got.WASI.Dirs)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parentConfig(t).Narrow(tt.child)
			if err != nil {
				t.Fatalf("Narrow: %v", err)
			}
			tt.check(t, got)
		})
	}
}

func TestNarrowRefusesWidening(t *testing.T) {
	tests := []struct {
		name  string
		child Config
		want  string // the field and both values
	}{
		{"more memory", Config{MaxMemory: 128 * PageSize}, "MaxMemory 8388608 is more than the parent's 4194304"},
		{"more fuel", Config{MaxFuel: 1_000_001}, "MaxFuel 1000001 is more than the parent's 1000000"},
		{"unlimited fuel", Config{MaxFuel: UnlimitedFuel}, "MaxFuel unlimited is more than the parent's 1000000"},
		{"more processes", Config{MaxProcesses: 101}, "MaxProcesses 101 is more than the parent's 100"},
		{"new namespace", Config{Namespaces: []string{"ward_process", "ward_net"}},
			`Namespaces ["ward_process" "ward_net"] allow more than the parent's ["ward_process" "ward_message" "wasi_*"]: ["ward_net"]`},
		{"pattern over exact names", Config{Namespaces: []string{"ward_*"}}, `allow more than the parent's ["ward_process" "ward_message" "wasi_*"]: ["ward_*"]`},
		{"pattern over exact name with same prefix", Config{Namespaces: []string{"ward_process*"}}, `: ["ward_process*"]`},
		{"wider pattern", Config{Namespaces: []string{"wasi*"}}, `: ["wasi*"]`},
		{"allow what the parent denies", Config{Permissions: Permissions{CompileModules: Allow}}, "Permissions.CompileModules is allow but the parent's is deny"},
		{"dir outside", Config{WASI: WASI{Dirs: []Dir{{HostPath: "/etc"}}}}, `WASI.Dirs[0] HostPath ` + strconv.Quote(hostAbs("/etc")) + ` is not inside any of the parent's`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parentConfig(t).Narrow(tt.child)
			if !errors.Is(err, ErrWiden) {
				t.Fatalf("Narrow error = %v, want one wrapping ErrWiden", err)
			}
			if errors.Is(err, ErrInvalid) {
				t.Errorf("Narrow error = %v, also wraps ErrInvalid", err)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Narrow error = %q\nwant it to contain %q", err, tt.want)
			}
			if !reflect.DeepEqual(got, Config{}) {
				t.Errorf("Narrow returned %+v with its error, want the zero Config", got)
			}
		})
	}
}

// A grandchild is held to its parent's limits, not the root's.
func TestNarrowTwice(t *testing.T) {
	child, err := parentConfig(t).Narrow(Config{MaxProcesses: 10, Permissions: Permissions{Spawn: Deny}})
	if err != nil {
		t.Fatalf("Narrow: %v", err)
	}
	_, err = child.Narrow(Config{MaxProcesses: 11})
	if !errors.Is(err, ErrWiden) || !strings.Contains(err.Error(), "MaxProcesses 11 is more than the parent's 10") {
		t.Errorf("grandchild MaxProcesses 11 under 10: error = %v, want ErrWiden naming both", err)
	}
	_, err = child.Narrow(Config{Permissions: Permissions{Spawn: Allow}})
	if !errors.Is(err, ErrWiden) {
		t.Errorf("grandchild regaining Spawn: error = %v, want ErrWiden", err)
	}
	grandchild, err := child.Narrow(Config{})
	if err != nil {
		t.Fatalf("Narrow: %v", err)
	}
	if grandchild.Permissions.Spawn != Deny {
		t.Errorf("grandchild Spawn = %v, want the deny it inherited", grandchild.Permissions.Spawn)
	}
}

// Someone fixing a child should see all of what it widens at once.
func TestNarrowReportsEveryWidening(t *testing.T) {
	_, err := parentConfig(t).Narrow(Config{MaxFuel: 2_000_000, MaxProcesses: 1000})
	for _, want := range []string{"MaxFuel", "MaxProcesses"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Narrow error = %v, want it to mention %s", err, want)
		}
	}
}

// A child value that is wrong whatever the parent is invalid, not a widening.
func TestNarrowInvalidChild(t *testing.T) {
	tests := []struct {
		name  string
		child Config
		want  string
	}{
		{"memory not whole pages", Config{MaxMemory: 100}, "MaxMemory 100 is not a whole number"},
		{"negative processes", Config{MaxProcesses: -5}, "MaxProcesses -5 is negative"},
		{"bad pattern", Config{Namespaces: []string{"*x"}}, `Namespaces[0] "*x" has a "*" before its end`},
		{"unknown permission", Config{Permissions: Permissions{Spawn: 3}}, "Permissions.Spawn is Permission(3)"},
		{"empty host path", Config{WASI: WASI{Dirs: []Dir{{}}}}, "WASI.Dirs[0]: HostPath is empty"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := parentConfig(t).Narrow(tt.child)
			if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Narrow error = %v, want ErrInvalid containing %q", err, tt.want)
			}
		})
	}
}

// A hand-built parent still holds inherit markers; narrowing it would guess
// at what they mean, so it is refused.
func TestNarrowRefusesIneffectiveParent(t *testing.T) {
	_, err := Config{}.Narrow(Config{})
	if !errors.Is(err, ErrInvalid) {
		t.Fatalf("Config{}.Narrow error = %v, want ErrInvalid", err)
	}
	for _, want := range []string{"parent MaxMemory is 0", "parent Namespaces is nil", "parent Permissions.Spawn is inherit", "Root or Narrow"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error = %q, want it to contain %q", err, want)
		}
	}
}

func TestNarrowWASIWriters(t *testing.T) {
	var parentOut, parentErr, childOut bytes.Buffer
	parent, err := Root(Config{WASI: WASI{Stdout: &parentOut, Stderr: &parentErr}})
	if err != nil {
		t.Fatalf("Root: %v", err)
	}

	inherited, err := parent.Narrow(Config{})
	if err != nil {
		t.Fatalf("Narrow: %v", err)
	}
	if inherited.WASI.Stdout != &parentOut || inherited.WASI.Stderr != &parentErr {
		t.Errorf("nil writers did not inherit the parent's: %v, %v", inherited.WASI.Stdout, inherited.WASI.Stderr)
	}

	own, err := parent.Narrow(Config{WASI: WASI{Stdout: &childOut, Stderr: io.Discard}})
	if err != nil {
		t.Fatalf("Narrow: %v", err)
	}
	if own.WASI.Stdout != &childOut || own.WASI.Stderr != io.Discard {
		t.Errorf("set writers were not kept: %v, %v", own.WASI.Stdout, own.WASI.Stderr)
	}

	// Another level down, the writers come from the nearest ancestor that
	// set them.
	grandchild, err := own.Narrow(Config{})
	if err != nil {
		t.Fatalf("Narrow: %v", err)
	}
	if grandchild.WASI.Stdout != &childOut || grandchild.WASI.Stderr != io.Discard {
		t.Errorf("grandchild writers = %v, %v, want its parent's", grandchild.WASI.Stdout, grandchild.WASI.Stderr)
	}

	// A root without writers discards, and so do its children.
	quiet, err := Root(Config{})
	if err != nil {
		t.Fatalf("Root: %v", err)
	}
	quietChild, err := quiet.Narrow(Config{})
	if err != nil {
		t.Fatalf("Narrow: %v", err)
	}
	if quietChild.WASI.Stdout != io.Discard || quietChild.WASI.Stderr != io.Discard {
		t.Errorf("child of a quiet root: writers = %v, %v, want io.Discard", quietChild.WASI.Stdout, quietChild.WASI.Stderr)
	}
}

// Every per-process bound inherits at 0, is refused when negative, and may
// only be lowered by a child: one rule, checked for each of them.
func TestBoundsInheritValidateAndNarrow(t *testing.T) {
	root, err := Root(Config{})
	if err != nil {
		t.Fatal(err)
	}
	for _, b := range bounds {
		t.Run(b.name, func(t *testing.T) {
			if got := *b.of(&root); got != b.def {
				t.Fatalf("root %s = %d, want the default %d", b.name, got, b.def)
			}
			var lower Config
			*b.of(&lower) = b.def - 1
			child, err := root.Narrow(lower)
			if err != nil || *b.of(&child) != b.def-1 {
				t.Fatalf("lowering %s: %v, %d", b.name, err, *b.of(&child))
			}
			grand, err := child.Narrow(Config{})
			if err != nil || *b.of(&grand) != b.def-1 {
				t.Fatalf("inheriting %s: %v, %d", b.name, err, *b.of(&grand))
			}
			var wider Config
			*b.of(&wider) = b.def
			if _, err := child.Narrow(wider); !errors.Is(err, ErrWiden) || !strings.Contains(err.Error(), b.name) {
				t.Fatalf("raising %s: %v, want ErrWiden naming it", b.name, err)
			}
			var neg Config
			*b.of(&neg) = -1
			if _, err := Root(neg); !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), b.name) {
				t.Fatalf("negative %s: %v, want ErrInvalid naming it", b.name, err)
			}
		})
	}
}

// MaxTotalMemory inherits, narrows and is refused wider like MaxMemory.
func TestNarrowMaxTotalMemory(t *testing.T) {
	root, err := Root(Config{})
	if err != nil {
		t.Fatal(err)
	}
	if root.MaxTotalMemory != DefaultMaxTotalMemory {
		t.Fatalf("root MaxTotalMemory = %d, want %d", root.MaxTotalMemory, uint64(DefaultMaxTotalMemory))
	}
	child, err := root.Narrow(Config{MaxTotalMemory: 1 << 20})
	if err != nil || child.MaxTotalMemory != 1<<20 {
		t.Fatalf("narrowing: %v, %d", err, child.MaxTotalMemory)
	}
	if grand, err := child.Narrow(Config{}); err != nil || grand.MaxTotalMemory != 1<<20 {
		t.Fatalf("inheriting: %v, %d", err, grand.MaxTotalMemory)
	}
	if _, err := child.Narrow(Config{MaxTotalMemory: 2 << 20}); !errors.Is(err, ErrWiden) || !strings.Contains(err.Error(), "MaxTotalMemory") {
		t.Fatalf("widening: %v, want ErrWiden naming MaxTotalMemory", err)
	}
}

func TestMaxWallTimeNarrows(t *testing.T) {
	root, err := Root(Config{})
	if err != nil {
		t.Fatal(err)
	}
	if root.MaxWallTime != UnlimitedWallTime {
		t.Fatalf("root MaxWallTime %v, want unlimited", root.MaxWallTime)
	}
	child, err := root.Narrow(Config{MaxWallTime: time.Second})
	if err != nil || child.MaxWallTime != time.Second {
		t.Fatalf("child: %v, %v", child.MaxWallTime, err)
	}
	grand, err := child.Narrow(Config{})
	if err != nil || grand.MaxWallTime != time.Second {
		t.Fatalf("a child inherits: %v, %v", grand.MaxWallTime, err)
	}
	if _, err := child.Narrow(Config{MaxWallTime: time.Minute}); !errors.Is(err, ErrWiden) {
		t.Fatalf("a wider MaxWallTime: %v, want ErrWiden", err)
	}
	if _, err := Root(Config{MaxWallTime: -time.Second}); !errors.Is(err, ErrInvalid) {
		t.Fatalf("a negative MaxWallTime: %v, want ErrInvalid", err)
	}
}

func TestFuelScopeNarrows(t *testing.T) {
	root, err := Root(Config{})
	if err != nil {
		t.Fatal(err)
	}
	if root.FuelScope != FuelPerLife {
		t.Fatalf("root FuelScope %v, want per life", root.FuelScope)
	}
	if _, err := root.Narrow(Config{FuelScope: FuelPerMessage}); !errors.Is(err, ErrWiden) {
		t.Fatalf("per message under per life: %v, want ErrWiden", err)
	}
	server, err := Root(Config{FuelScope: FuelPerMessage})
	if err != nil || server.FuelScope != FuelPerMessage {
		t.Fatalf("a per-message root: %v, %v", server.FuelScope, err)
	}
	child, err := server.Narrow(Config{})
	if err != nil || child.FuelScope != FuelPerMessage {
		t.Fatalf("a child inherits: %v, %v", child.FuelScope, err)
	}
	job, err := server.Narrow(Config{FuelScope: FuelPerLife})
	if err != nil || job.FuelScope != FuelPerLife {
		t.Fatalf("per life under per message narrows: %v, %v", job.FuelScope, err)
	}
	if _, err := Root(Config{FuelScope: 9}); !errors.Is(err, ErrInvalid) {
		t.Fatalf("FuelScope 9: %v, want ErrInvalid", err)
	}
	if _, err := server.Narrow(Config{FuelScope: 9}); !errors.Is(err, ErrInvalid) {
		t.Fatalf("a child's FuelScope 9: %v, want ErrInvalid", err)
	}
}

// RequireVerified only ever turns on going down: a child may add it, and
// a child of a parent that has it keeps it whatever it says.
func TestNarrowRequireVerified(t *testing.T) {
	root := parentConfig(t)
	if root.RequireVerified {
		t.Fatal("a root requires verified modules without being asked")
	}
	free, err := root.Narrow(Config{})
	if err != nil || free.RequireVerified {
		t.Fatalf("child of a root without the requirement: %v, RequireVerified %v", err, free.RequireVerified)
	}
	strict, err := root.Narrow(Config{RequireVerified: true})
	if err != nil || !strict.RequireVerified {
		t.Fatalf("child asking for the requirement: %v, RequireVerified %v", err, strict.RequireVerified)
	}
	grandchild, err := strict.Narrow(Config{RequireVerified: false, MaxProcesses: 10})
	if err != nil || !grandchild.RequireVerified {
		t.Fatalf("child of a requiring parent: %v, RequireVerified %v; it must keep the requirement", err, grandchild.RequireVerified)
	}
	r, err := Root(Config{RequireVerified: true})
	if err != nil || !r.RequireVerified {
		t.Fatalf("Root(RequireVerified): %v, %v", err, r.RequireVerified)
	}
}
