package registry_test

import (
	"fmt"
	"testing"

	"github.com/Masterminds/semver/v3"

	"github.com/wardrt/ward/registry"
)

// benchRegistry holds 1,000 names with 10 versions each (1.0.0..1.4.0 and
// 2.0.0..2.4.0), roughly an environment with many versioned services.
// It also returns the names, so the loops do not time fmt.Sprintf.
func benchRegistry(b *testing.B) (*registry.Registry, []string) {
	b.Helper()
	r := registry.New()
	names := make([]string, 1000)
	for n := range names {
		names[n] = fmt.Sprintf("svc-%04d", n)
		for v := range 10 {
			mustRegister(b, r, names[n], fmt.Sprintf("%d.%d.0", 1+v/5, v%5), registry.ID(n*10+v))
		}
	}
	return r, names
}

func BenchmarkLookup(b *testing.B) {
	r, names := benchRegistry(b)
	for _, c := range []string{"", "^1.2", ">=2, <3", "~1.4.0", "1.3.0", "^3"} {
		b.Run(fmt.Sprintf("%q", c), func(b *testing.B) {
			i := 0
			for b.Loop() {
				_, _ = r.Lookup(names[i%len(names)], c)
				i++
			}
		})
	}
}

func BenchmarkLookupParallel(b *testing.B) {
	r, names := benchRegistry(b)
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			if _, err := r.Lookup(names[i%len(names)], "^1.2"); err != nil {
				b.Error(err)
				return
			}
			i++
		}
	})
}

// BenchmarkParseConstraint is the floor under BenchmarkLookup: parsing the
// constraint, which Lookup does on every call.
func BenchmarkParseConstraint(b *testing.B) {
	for b.Loop() {
		if _, err := semver.NewConstraint("^1.2"); err != nil {
			b.Fatal(err)
		}
	}
}
