package environment

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
)

func TestNarrowDirs(t *testing.T) {
	tests := []struct {
		name   string
		parent []string // host paths
		child  []Dir
		ok     bool
	}{
		{"same dir", []string{"/data"}, []Dir{{HostPath: "/data"}}, true},
		{"sub-directory", []string{"/data"}, []Dir{{HostPath: "/data/in"}}, true},
		{"deep sub-directory", []string{"/data"}, []Dir{{HostPath: "/data/a/b/c"}}, true},
		{"trailing slash", []string{"/data"}, []Dir{{HostPath: "/data/"}}, true},
		{"subset of several", []string{"/data", "/srv"}, []Dir{{HostPath: "/srv/www"}}, true},
		{"dot-dot staying inside", []string{"/data"}, []Dir{{HostPath: "/data/a/../b"}}, true},
		{"under the filesystem root", []string{"/"}, []Dir{{HostPath: "/etc"}}, true},
		{"string prefix only", []string{"/data"}, []Dir{{HostPath: "/database"}}, false},
		{"string prefix with suffix", []string{"/data"}, []Dir{{HostPath: "/data-old/x"}}, false},
		{"parent of the parent", []string{"/data/in"}, []Dir{{HostPath: "/data"}}, false},
		{"dot-dot escaping", []string{"/data"}, []Dir{{HostPath: "/data/../etc"}}, false},
		{"elsewhere", []string{"/data"}, []Dir{{HostPath: "/etc"}}, false},
		{"parent has none", nil, []Dir{{HostPath: "/data"}}, false},
		{"one of two outside", []string{"/data"}, []Dir{{HostPath: "/data/a", GuestPath: "/a"}, {HostPath: "/database", GuestPath: "/b"}}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var dirs []Dir
			for _, p := range tt.parent {
				dirs = append(dirs, Dir{HostPath: p})
			}
			parent, err := Root(Config{WASI: WASI{Dirs: dirs}})
			if err != nil {
				t.Fatalf("Root: %v", err)
			}
			_, err = parent.Narrow(Config{WASI: WASI{Dirs: tt.child}})
			if tt.ok && err != nil {
				t.Errorf("Narrow: %v, want dirs %+v allowed under %q", err, tt.child, tt.parent)
			}
			if !tt.ok {
				if !errors.Is(err, ErrWiden) {
					t.Fatalf("Narrow error = %v, want ErrWiden for %+v under %q", err, tt.child, tt.parent)
				}
				if !strings.Contains(err.Error(), "WASI.Dirs[") || !strings.Contains(err.Error(), "is not inside any of the parent's") {
					t.Errorf("Narrow error = %q, want it to name WASI.Dirs", err)
				}
			}
		})
	}
}

func TestNarrowDirsMessage(t *testing.T) {
	parent, err := Root(Config{WASI: WASI{Dirs: []Dir{{HostPath: "/data"}}}})
	if err != nil {
		t.Fatalf("Root: %v", err)
	}
	_, err = parent.Narrow(Config{WASI: WASI{Dirs: []Dir{{HostPath: "/database"}}}})
	want := `WASI.Dirs[0] HostPath ` + quote(hostAbs("/database")) + ` is not inside any of the parent's [` + quote(hostAbs("/data")) + `]`
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("Narrow error = %v\nwant it to contain %s", err, want)
	}
}

func TestDirsNormalized(t *testing.T) {
	wd, err := os.Getwd()
	if err != nil {
		t.Skip("no working directory:", err)
	}
	root, err := Root(Config{WASI: WASI{Dirs: []Dir{
		{HostPath: "/data/in/../out/"},
		{HostPath: "."},
		{HostPath: "sub/dir", GuestPath: "/mnt/x/"},
	}}})
	if err != nil {
		t.Fatalf("Root: %v", err)
	}
	want := []Dir{
		{HostPath: hostAbs("/data/out"), GuestPath: "/data/out"},
		{HostPath: wd, GuestPath: "."},
		{HostPath: filepath.Join(wd, "sub", "dir"), GuestPath: "/mnt/x"},
	}
	if !reflect.DeepEqual(root.WASI.Dirs, want) {
		t.Errorf("Dirs =\n%+v\nwant\n%+v", root.WASI.Dirs, want)
	}

	// A relative child directory is judged by where it points, so the
	// working directory's own sub-directory narrows a parent holding it.
	child, err := root.Narrow(Config{WASI: WASI{Dirs: []Dir{{HostPath: "sub"}}}})
	if err != nil {
		t.Fatalf("Narrow: %v", err)
	}
	if got := child.WASI.Dirs; len(got) != 1 || got[0].HostPath != filepath.Join(wd, "sub") || got[0].GuestPath != "sub" {
		t.Errorf("child Dirs = %+v, want %s as guest sub", got, filepath.Join(wd, "sub"))
	}
}

// A child may show a parent directory to its processes under a new name:
// guest names are not authority.
func TestNarrowDirsRenameGuest(t *testing.T) {
	parent, err := Root(Config{WASI: WASI{Dirs: []Dir{{HostPath: "/data", GuestPath: "/data"}}}})
	if err != nil {
		t.Fatalf("Root: %v", err)
	}
	child, err := parent.Narrow(Config{WASI: WASI{Dirs: []Dir{{HostPath: "/data/in", GuestPath: "/"}}}})
	if err != nil {
		t.Fatalf("Narrow: %v", err)
	}
	if want := []Dir{{HostPath: hostAbs("/data/in"), GuestPath: "/"}}; !reflect.DeepEqual(child.WASI.Dirs, want) {
		t.Errorf("Dirs = %+v, want %+v", child.WASI.Dirs, want)
	}
}

func TestWithin(t *testing.T) {
	sep := string(filepath.Separator)
	root := hostAbs(sep)
	data := filepath.Join(root, "data")
	tests := []struct {
		dir, parent string
		want        bool
	}{
		{data, data, true},
		{filepath.Join(data, "x"), data, true},
		{filepath.Join(root, "database"), data, false},
		{filepath.Join(root, "dat"), data, false},
		{data, root, true},
		{root, root, true},
		{root, data, false},
	}
	for _, tt := range tests {
		if got := within(tt.dir, tt.parent); got != tt.want {
			t.Errorf("within(%q, %q) = %v, want %v", tt.dir, tt.parent, got, tt.want)
		}
	}
}

func quote(s string) string { return strconv.Quote(s) }

func TestDirsInvalid(t *testing.T) {
	_, err := Root(Config{WASI: WASI{Dirs: []Dir{{HostPath: "/da\x00ta"}}}})
	if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), `WASI.Dirs[0]: HostPath`) || !strings.Contains(err.Error(), "contains NUL") {
		t.Errorf("Root with NUL in HostPath: error = %v, want ErrInvalid naming it", err)
	}

	// A parent edited by hand after Root is no longer effective; trusting
	// its relative or unnamed directories would make the subset check guess.
	parent, err := Root(Config{})
	if err != nil {
		t.Fatalf("Root: %v", err)
	}
	parent.WASI.Dirs = []Dir{{HostPath: "data", GuestPath: "/data"}, {HostPath: hostAbs("/srv")}}
	_, err = parent.Narrow(Config{})
	if !errors.Is(err, ErrInvalid) {
		t.Fatalf("Narrow of a hand-edited parent: error = %v, want ErrInvalid", err)
	}
	for _, want := range []string{`parent WASI.Dirs[0]: HostPath "data" is not absolute and clean`, "parent WASI.Dirs[1]: GuestPath is empty"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error = %q, want it to contain %q", err, want)
		}
	}
}
