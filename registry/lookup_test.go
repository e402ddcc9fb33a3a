package registry_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/wardrt/ward/registry"
)

func TestLookup(t *testing.T) {
	r := registry.New()
	versions := []string{
		"0.9.0", "1.0.0", "1.2.0", "1.2.5", "1.4.1", "1.4.3", "1.9.0",
		"2.0.0", "2.1.0-rc.1", "3.0.0-beta.1",
	}
	// Registered out of order so the test does not depend on insertion
	// order happening to be sorted.
	for i := len(versions) - 1; i >= 0; i -= 2 {
		mustRegister(t, r, "db", versions[i], registry.ID(i+1))
	}
	for i := len(versions) - 2; i >= 0; i -= 2 {
		mustRegister(t, r, "db", versions[i], registry.ID(i+1))
	}
	mustRegister(t, r, "other", "9.9.9", 99)

	tests := []struct {
		constraint string
		want       string // "" means ErrNotFound
	}{
		{"", "2.0.0"},
		{"*", "2.0.0"},
		{"  ", "2.0.0"},
		{"^1.2", "1.9.0"},
		{"^1", "1.9.0"},
		{"1.x", "1.9.0"},
		{"~1.4.0", "1.4.3"},
		{"~1.2", "1.2.5"},
		{"1.2", "1.2.5"},
		{"1.2.5", "1.2.5"},
		{"=1.4.1", "1.4.1"},
		{"v1.0.0", "1.0.0"},
		{"1.2.3", ""},
		{">=2, <3", "2.0.0"},
		{">=2 <3", "2.0.0"},
		{"1.0 - 1.3", "1.2.5"},
		{"^1 || ^2", "2.0.0"},
		{"!=2.0.0", "1.9.0"},
		{"<1", "0.9.0"},
		{"^0.9", "0.9.0"},
		{">4", ""},
		// Pre-releases: only a constraint with a pre-release part sees them.
		{"^2.1", ""},
		{"~2.1.0", ""},
		{"^2.1.0-0", "2.1.0-rc.1"},
		{">=2.1.0-0, <2.2", "2.1.0-rc.1"},
		// 3.0.0-beta.1 sorts below 3.0.0, so "<3" admits it once the
		// constraint has a pre-release part.
		{">=2.1.0-0, <3", "3.0.0-beta.1"},
		{"2.1.0-rc.1", "2.1.0-rc.1"},
		{"^3", ""},
		{"^3.0.0-0", "3.0.0-beta.1"},
		{">=3.0.0-alpha", "3.0.0-beta.1"},
		{">=3.0.0-rc", ""},
	}
	for _, tt := range tests {
		t.Run(tt.constraint, func(t *testing.T) {
			got, err := r.Lookup("db", tt.constraint)
			if tt.want == "" {
				if !errors.Is(err, registry.ErrNotFound) {
					t.Fatalf("Lookup(db, %q) = %v, %v; want ErrNotFound", tt.constraint, got, err)
				}
				return
			}
			if err != nil {
				t.Fatalf("Lookup(db, %q): %v", tt.constraint, err)
			}
			if got.Name != "db" || got.Version.String() != tt.want {
				t.Fatalf("Lookup(db, %q) = %v; want db@%s", tt.constraint, got, tt.want)
			}
			// Ids were given by position in versions, so a wrong id means
			// the entry and its process got separated.
			for i, v := range versions {
				if v == tt.want && got.ID != registry.ID(i+1) {
					t.Errorf("Lookup(db, %q).ID = %d; want %d", tt.constraint, got.ID, i+1)
				}
			}
		})
	}
}

func TestLookupPrereleaseOrder(t *testing.T) {
	r := registry.New()
	// semver orders numeric identifiers numerically (rc.10 > rc.2) and a
	// release above all its pre-releases.
	for i, v := range []string{"1.0.0-alpha", "1.0.0-rc.10", "1.0.0-alpha.1", "1.0.0-rc.2", "1.0.0-beta"} {
		mustRegister(t, r, "svc", v, registry.ID(i+1))
	}
	if got, err := r.Lookup("svc", ""); !errors.Is(err, registry.ErrNotFound) {
		t.Fatalf("any-version Lookup with only pre-releases = %v, %v; want ErrNotFound", got, err)
	}
	got, err := r.Lookup("svc", ">=1.0.0-0")
	if err != nil || got.Version.String() != "1.0.0-rc.10" {
		t.Fatalf("Lookup(svc, >=1.0.0-0) = %v, %v; want svc@1.0.0-rc.10", got, err)
	}
	mustRegister(t, r, "svc", "1.0.0", 9)
	got, err = r.Lookup("svc", ">=1.0.0-0")
	if err != nil || got.Version.String() != "1.0.0" {
		t.Fatalf("after release, Lookup(svc, >=1.0.0-0) = %v, %v; want svc@1.0.0", got, err)
	}
}

func TestLookupErrors(t *testing.T) {
	r := registry.New()
	mustRegister(t, r, "db", "1.0.0", 1)
	tests := []struct {
		name, constraint string
		want             error
	}{
		{"missing", "*", registry.ErrNotFound},
		{"db", "^^1", registry.ErrBadVersion},
		{"db", "abc", registry.ErrBadVersion},
		{"db", ">=1 <", registry.ErrBadVersion},
		{"db", "1.2.3.4", registry.ErrBadVersion},
		{"", "*", registry.ErrBadName},
		{"a\x00b", "*", registry.ErrBadName},
	}
	for _, tt := range tests {
		if _, err := r.Lookup(tt.name, tt.constraint); !errors.Is(err, tt.want) {
			t.Errorf("Lookup(%q, %q) error = %v; want %v", tt.name, tt.constraint, err, tt.want)
		}
	}
	// The semver error is wrapped too, so its detail is not lost.
	_, err := r.Lookup("db", "^^1")
	if !strings.Contains(err.Error(), "improper constraint") {
		t.Errorf("bad constraint error %q carries no semver detail", err)
	}
}

func TestLookupReturnsCopy(t *testing.T) {
	r := registry.New()
	mustRegister(t, r, "db", "1.2.3", 1)
	e, err := r.Lookup("db", "*")
	if err != nil {
		t.Fatal(err)
	}
	// Version has mutating methods; a caller using them must not reorder
	// or rename what the registry holds.
	if err := e.Version.UnmarshalText([]byte("9.9.9")); err != nil {
		t.Fatal(err)
	}
	e, err = r.Lookup("db", "*")
	if err != nil || e.Version.String() != "1.2.3" {
		t.Fatalf("after mutating a returned version, Lookup = %v, %v; want db@1.2.3", e, err)
	}
}
