package registry_test

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/Masterminds/semver/v3"

	"github.com/wardrt/ward/registry"
)

// model is the registry as a plain list, with every operation a linear
// scan, against which the real one's indexes are checked.
type model struct {
	entries []registry.Entry
	limit   int
}

func (m *model) find(name string, v *semver.Version) int {
	return slices.IndexFunc(m.entries, func(e registry.Entry) bool {
		return e.Name == name && e.Version.Compare(v) == 0
	})
}

func (m *model) register(name, version string, id registry.ID) error {
	v := semver.MustParse(version)
	if m.find(name, v) >= 0 {
		return registry.ErrTaken
	}
	if len(m.entries) >= m.limit {
		return errFull
	}
	m.entries = append(m.entries, registry.Entry{Name: name, Version: v, ID: id})
	return nil
}

func (m *model) unregister(name, version string) error {
	i := m.find(name, semver.MustParse(version))
	if i < 0 {
		return registry.ErrNotFound
	}
	m.entries = slices.Delete(m.entries, i, i+1)
	return nil
}

func (m *model) lookup(name, constraint string) (registry.Entry, error) {
	if constraint == "" {
		constraint = "*"
	}
	c := must(semver.NewConstraint(constraint))
	var best registry.Entry
	found := false
	for _, e := range m.entries {
		if e.Name == name && c.Check(e.Version) && (!found || e.Version.GreaterThan(best.Version)) {
			best, found = e, true
		}
	}
	if !found {
		return best, registry.ErrNotFound
	}
	return best, nil
}

func (m *model) names(id registry.ID) []registry.Entry {
	out := []registry.Entry{}
	for _, e := range m.entries {
		if e.ID == id {
			out = append(out, e)
		}
	}
	return sorted(out)
}

func (m *model) removeProcess(id registry.ID) []registry.Entry {
	out := m.names(id)
	m.entries = slices.DeleteFunc(m.entries, func(e registry.Entry) bool { return e.ID == id })
	return out
}

func sorted(es []registry.Entry) []registry.Entry {
	es = slices.Clone(es)
	slices.SortFunc(es, func(a, b registry.Entry) int {
		return cmp.Or(cmp.Compare(a.Name, b.Name), a.Version.Compare(b.Version))
	})
	return es
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

// sameError reports whether got is the error the model expects: both nil,
// or got matching the model's sentinel.
func sameError(got, want error) bool {
	if want == nil {
		return got == nil
	}
	return errors.Is(got, want)
}

// TestModel runs random operations on a Registry and on model, over few
// names, versions and processes so that collisions, removals of shared
// names and lookups across many versions are frequent, and checks that
// every result and the whole content agree after each step.
func TestModel(t *testing.T) {
	seed := rand.Uint64()
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 0))

	names := []string{"a", "b", "c"}
	var versions []string
	for major := range 3 {
		for minor := range 4 {
			for patch := range 2 {
				versions = append(versions, fmt.Sprintf("%d.%d.%d", major, minor, patch))
			}
		}
		versions = append(versions, fmt.Sprintf("%d.1.0-rc.1", major), fmt.Sprintf("%d.1.0-rc.10", major), fmt.Sprintf("%d.0.0-alpha", major))
	}
	spellings := func(v string) string {
		// The same key spelled differently: the registry must treat them
		// alike (build metadata and a leading v do not make a version).
		switch rng.IntN(4) {
		case 0:
			return "v" + v
		case 1:
			return v + "+build." + fmt.Sprint(rng.IntN(3))
		}
		return v
	}
	constraints := []string{"", "*", "^1", "^1.1", "~1.2.0", ">=1, <2", "<1.0.1", ">2", "!=1.1.0",
		"^0 || ^2", "1.2", "1.x", "^1.1.0-0", ">=0.0.0-0", "2.3.1", "=1.1.0", "v0.1.0", "1.1.0-rc.10", "=2.0.0-alpha"}

	for round := range 20 {
		limit := 1 + rng.IntN(60)
		b := &countBudget{t: t, limit: limit}
		r := registry.New(registry.WithBudget(b))
		m := &model{limit: limit}
		for step := range 400 {
			name := names[rng.IntN(len(names))]
			version := versions[rng.IntN(len(versions))]
			id := registry.ID(1 + rng.IntN(4))
			var op string
			switch k := rng.IntN(10); {
			case k < 4:
				op = fmt.Sprintf("Register(%s, %s, %d)", name, version, id)
				err := r.Register(name, spellings(version), id)
				if want := m.register(name, version, id); !sameError(err, want) {
					t.Fatalf("round %d step %d: %s = %v; want %v", round, step, op, err, want)
				}
			case k < 5:
				op = fmt.Sprintf("GetOrSpawn(%s, %s, %d)", name, version, id)
				fail := rng.IntN(3) == 0
				gotID, spawned, err := r.GetOrSpawn(context.Background(), name, spellings(version), func(context.Context) (registry.ID, error) {
					if fail {
						return 0, errors.New("spawn fails")
					}
					return id, nil
				})
				i := m.find(name, semver.MustParse(version))
				switch {
				case i >= 0:
					if err != nil || spawned || gotID != m.entries[i].ID {
						t.Fatalf("round %d step %d: %s of a held name = %d, %v, %v; want %d", round, step, op, gotID, spawned, err, m.entries[i].ID)
					}
				case len(m.entries) >= limit:
					if !errors.Is(err, errFull) {
						t.Fatalf("round %d step %d: %s with a full budget = %v", round, step, op, err)
					}
				case fail:
					if err == nil {
						t.Fatalf("round %d step %d: %s with a failing spawn succeeded", round, step, op)
					}
				default:
					if err != nil || !spawned || gotID != id {
						t.Fatalf("round %d step %d: %s = %d, %v, %v", round, step, op, gotID, spawned, err)
					}
					must(0, m.register(name, version, id))
				}
			case k < 6:
				op = fmt.Sprintf("Unregister(%s, %s)", name, version)
				err := r.Unregister(name, spellings(version))
				if want := m.unregister(name, version); !sameError(err, want) {
					t.Fatalf("round %d step %d: %s = %v; want %v", round, step, op, err, want)
				}
			case k < 7:
				op = fmt.Sprintf("RemoveProcess(%d)", id)
				want := m.removeProcess(id)
				if got := r.RemoveProcess(id); !slices.Equal(keys(got), keys(want)) {
					t.Fatalf("round %d step %d: %s = %v; want %v", round, step, op, keys(got), keys(want))
				}
			default:
				c := constraints[rng.IntN(len(constraints))]
				op = fmt.Sprintf("Lookup(%s, %q)", name, c)
				got, err := r.Lookup(name, c)
				want, wantErr := m.lookup(name, c)
				if !sameError(err, wantErr) || (err == nil && (got.ID != want.ID || got.Version.Compare(want.Version) != 0)) {
					t.Fatalf("round %d step %d: %s = %v, %v; want %v, %v", round, step, op, got, err, want, wantErr)
				}
			}
			if t.Failed() {
				t.Fatalf("round %d step %d: after %s", round, step, op)
			}
			checkAgainstModel(t, r, m, b, fmt.Sprintf("round %d step %d, after %s", round, step, op))
		}
	}
}

func checkAgainstModel(t *testing.T, r *registry.Registry, m *model, b *countBudget, when string) {
	t.Helper()
	if r.Len() != len(m.entries) || b.count() != len(m.entries) {
		t.Fatalf("%s: Len = %d, budget = %d; want %d", when, r.Len(), b.count(), len(m.entries))
	}
	if got, want := keys(r.List()), keys(sorted(m.entries)); !slices.Equal(got, want) {
		t.Fatalf("%s: List = %v; want %v", when, got, want)
	}
	for id := registry.ID(1); id <= 4; id++ {
		if got, want := keys(r.Names(id)), keys(m.names(id)); !slices.Equal(got, want) {
			t.Fatalf("%s: Names(%d) = %v; want %v", when, id, got, want)
		}
		if got := r.Count(id); got != len(m.names(id)) {
			t.Fatalf("%s: Count(%d) = %d; want %d", when, id, got, len(m.names(id)))
		}
	}
}

// keys spells entries by key and holder: the registry keeps the spelling
// it was given (build metadata), which the model does not track.
func keys(es []registry.Entry) []string {
	out := make([]string, len(es))
	for i, e := range es {
		out[i] = fmt.Sprintf("%s@%d.%d.%d-%s#%d", e.Name, e.Version.Major(), e.Version.Minor(), e.Version.Patch(), e.Version.Prerelease(), e.ID)
	}
	return out
}
