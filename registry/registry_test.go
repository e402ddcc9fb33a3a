package registry_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/Masterminds/semver/v3"

	"github.com/wardrt/ward/registry"
)

func TestRegisterExactVersionIsUnique(t *testing.T) {
	r := registry.New()
	mustRegister(t, r, "db", "1.2.0", 1)
	// Each of these spells the key db@1.2.0: a leading v, a missing patch,
	// and build metadata (which semver gives no precedence) do not make a
	// new version.
	for _, v := range []string{"1.2.0", "v1.2.0", "1.2", "1.2.0+build.7"} {
		err := r.Register("db", v, 2)
		if !errors.Is(err, registry.ErrTaken) {
			t.Fatalf("Register(db, %q) = %v; want ErrTaken", v, err)
		}
		if !strings.Contains(err.Error(), "process 1") {
			t.Errorf("ErrTaken message %q does not name the holder", err)
		}
	}
	// Other versions, other names, and a process holding several names
	// are all fine.
	mustRegister(t, r, "db", "1.2.1", 2)
	mustRegister(t, r, "db", "1.2.0-rc.1", 2)
	mustRegister(t, r, "cache", "1.2.0", 1)
	diffEntries(t, "List", r.List(), []registry.Entry{
		entry("cache", "1.2.0", 1),
		entry("db", "1.2.0-rc.1", 2),
		entry("db", "1.2.0", 1),
		entry("db", "1.2.1", 2),
	})
	if got := r.Len(); got != 4 {
		t.Errorf("Len = %d; want 4", got)
	}
}

func TestRegisterValidates(t *testing.T) {
	long := strings.Repeat("n", registry.MaxNameLen)
	tests := []struct {
		name, version string
		want          error
	}{
		{long, "1.0.0", nil},
		{"", "1.0.0", registry.ErrBadName},
		{long + "n", "1.0.0", registry.ErrBadName},
		{"a\x00b", "1.0.0", registry.ErrBadName},
		{"db", "", registry.ErrBadVersion},
		{"db", "abc", registry.ErrBadVersion},
		{"db", "1.2.3.4", registry.ErrBadVersion},
		{"db", "^1.2", registry.ErrBadVersion},
	}
	for _, tt := range tests {
		r := registry.New()
		err := r.Register(tt.name, tt.version, 1)
		if !errors.Is(err, tt.want) || (err == nil) != (tt.want == nil) {
			t.Errorf("Register(%.10q, %q) = %v; want %v", tt.name, tt.version, err, tt.want)
		}
		if tt.want != nil && r.Len() != 0 {
			t.Errorf("Register(%.10q, %q) failed but Len = %d", tt.name, tt.version, r.Len())
		}
	}
	// The semver error stays reachable for callers who want the detail.
	err := registry.New().Register("db", "abc", 1)
	if !errors.Is(err, semver.ErrInvalidSemVer) {
		t.Errorf("Register(db, abc) = %v; want it to wrap semver.ErrInvalidSemVer", err)
	}
}

func TestUnregister(t *testing.T) {
	r := registry.New()
	mustRegister(t, r, "db", "1.0.0", 1)
	mustRegister(t, r, "db", "1.1.0", 1)
	if err := r.Unregister("db", "1.2.0"); !errors.Is(err, registry.ErrNotFound) {
		t.Fatalf("Unregister of absent version = %v; want ErrNotFound", err)
	}
	if err := r.Unregister("nope", "1.0.0"); !errors.Is(err, registry.ErrNotFound) {
		t.Fatalf("Unregister of absent name = %v; want ErrNotFound", err)
	}
	if err := r.Unregister("db", "v1.0.0+meta"); err != nil {
		t.Fatalf("Unregister(db, v1.0.0+meta): %v", err)
	}
	diffEntries(t, "Names(1)", r.Names(1), []registry.Entry{entry("db", "1.1.0", 1)})
	if err := r.Unregister("db", "1.0.0"); !errors.Is(err, registry.ErrNotFound) {
		t.Fatalf("second Unregister = %v; want ErrNotFound", err)
	}
	if err := r.Unregister("db", "1.1.0"); err != nil {
		t.Fatal(err)
	}
	if r.Len() != 0 || len(r.Names(1)) != 0 || len(r.List()) != 0 {
		t.Fatalf("after unregistering everything: Len=%d Names=%v List=%v", r.Len(), r.Names(1), r.List())
	}
	if _, err := r.Lookup("db", "*"); !errors.Is(err, registry.ErrNotFound) {
		t.Fatalf("Lookup after Unregister = %v; want ErrNotFound", err)
	}
	if err := r.Unregister("", "1.0.0"); !errors.Is(err, registry.ErrBadName) {
		t.Errorf("Unregister with empty name = %v; want ErrBadName", err)
	}
	if err := r.Unregister("db", "x"); !errors.Is(err, registry.ErrBadVersion) {
		t.Errorf("Unregister with bad version = %v; want ErrBadVersion", err)
	}
}

func TestRemoveProcessRemovesOnlyItsNames(t *testing.T) {
	r := registry.New()
	mustRegister(t, r, "b", "2.0.0", 1)
	mustRegister(t, r, "a", "1.0.0", 1)
	mustRegister(t, r, "a", "1.1.0", 2)
	mustRegister(t, r, "c", "1.0.0", 1)
	mustRegister(t, r, "b", "3.0.0", 2)

	diffEntries(t, "Names(1)", r.Names(1), []registry.Entry{
		entry("a", "1.0.0", 1), entry("b", "2.0.0", 1), entry("c", "1.0.0", 1),
	})
	diffEntries(t, "RemoveProcess(1)", r.RemoveProcess(1), []registry.Entry{
		entry("a", "1.0.0", 1), entry("b", "2.0.0", 1), entry("c", "1.0.0", 1),
	})
	want2 := []registry.Entry{entry("a", "1.1.0", 2), entry("b", "3.0.0", 2)}
	diffEntries(t, "List after RemoveProcess(1)", r.List(), want2)
	diffEntries(t, "Names(2)", r.Names(2), want2)
	diffEntries(t, "Names(1)", r.Names(1), []registry.Entry{})
	diffEntries(t, "second RemoveProcess(1)", r.RemoveProcess(1), []registry.Entry{})
	diffEntries(t, "RemoveProcess(unknown)", r.RemoveProcess(42), []registry.Entry{})
	if got := r.Len(); got != 2 {
		t.Errorf("Len = %d; want 2", got)
	}
	// Lookup must not find the removed versions even where a higher or
	// lower version of the same name survives.
	if e, err := r.Lookup("a", "1.0.0"); !errors.Is(err, registry.ErrNotFound) {
		t.Errorf("Lookup(a, 1.0.0) after removal = %v, %v; want ErrNotFound", e, err)
	}
	if e, err := r.Lookup("c", "*"); !errors.Is(err, registry.ErrNotFound) {
		t.Errorf("Lookup(c, *) after removal = %v, %v; want ErrNotFound", e, err)
	}
}

func TestNameReuseAfterRemoveProcess(t *testing.T) {
	r := registry.New()
	mustRegister(t, r, "db", "1.0.0", 1)
	if err := r.Register("db", "1.0.0", 2); !errors.Is(err, registry.ErrTaken) {
		t.Fatalf("Register while held = %v; want ErrTaken", err)
	}
	r.RemoveProcess(1)
	mustRegister(t, r, "db", "1.0.0", 2)
	e, err := r.Lookup("db", "1.0.0")
	if err != nil || e.ID != 2 {
		t.Fatalf("Lookup after reuse = %v, %v; want db@1.0.0 held by 2", e, err)
	}
	diffEntries(t, "Names(1)", r.Names(1), []registry.Entry{})
	diffEntries(t, "Names(2)", r.Names(2), []registry.Entry{entry("db", "1.0.0", 2)})
}

func TestEntryString(t *testing.T) {
	tests := []struct {
		e    registry.Entry
		want string
	}{
		{entry("db", "1.2.3", 1), "db@1.2.3"},
		{entry("db", "v1.2", 1), "db@1.2.0"},
		{entry("db", "1.2.3-rc.1+build.5", 1), "db@1.2.3-rc.1+build.5"},
		{registry.Entry{Name: "db"}, "db@?"},
	}
	for _, tt := range tests {
		if got := tt.e.String(); got != tt.want {
			t.Errorf("String() = %q; want %q", got, tt.want)
		}
	}
}
