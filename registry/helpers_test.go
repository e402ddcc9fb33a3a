package registry_test

import (
	"testing"
	"time"

	"github.com/Masterminds/semver/v3"
	"github.com/google/go-cmp/cmp"

	"github.com/wardrt/ward/registry"
)

// versionCmp compares versions by their full text, metadata included, so a
// test notices if the registry rewrote what was registered.
var versionCmp = cmp.Comparer(func(a, b *semver.Version) bool {
	if a == nil || b == nil {
		return a == b
	}
	return a.String() == b.String()
})

func entry(name, version string, id registry.ID) registry.Entry {
	return registry.Entry{Name: name, Version: semver.MustParse(version), ID: id}
}

func mustRegister(t testing.TB, r *registry.Registry, name, version string, id registry.ID) {
	t.Helper()
	if err := r.Register(name, version, id); err != nil {
		t.Fatalf("Register(%q, %q, %d): %v", name, version, id, err)
	}
}

func diffEntries(t *testing.T, what string, got, want []registry.Entry) {
	t.Helper()
	if diff := cmp.Diff(want, got, versionCmp); diff != "" {
		t.Errorf("%s mismatch (-want +got):\n%s", what, diff)
	}
}

// waitFor polls cond; the registry offers no event to wait on for "callers
// are parked", and polling a cheap counter keeps the tests free of sleeps
// that are either too short on a loaded CI machine or needlessly long.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}
