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

// BenchmarkVersions shows how each operation's cost grows with the number
// of versions of one name, which a guest controls: n versions "1.i.0" of
// "svc", every other one held by process 1 and the rest by a process each.
// register-unregister adds and removes the highest version, the costliest
// place in a sorted list. Per operation, register-unregister may grow by a
// memmove of the list, lookup by exact version must stay
// flat, remove-process must grow with what it removes (ns/entry flat), and
// only a lookup whose constraint admits nothing but the lowest version
// (lookup-lowest) may grow linearly: it has to check every version.
func BenchmarkVersions(b *testing.B) {
	for _, n := range []int{10, 1000, 100_000} {
		r := registry.New()
		var mine []string // the versions process 1 holds
		for i := range n {
			v := fmt.Sprintf("1.%d.0", i)
			id := registry.ID(i + 2)
			if i%2 == 0 {
				id, mine = 1, append(mine, v)
			}
			mustRegister(b, r, "svc", v, id)
		}
		mid := fmt.Sprintf("1.%d.0", n/2)
		b.Run(fmt.Sprintf("n=%d/register-unregister", n), func(b *testing.B) {
			for b.Loop() {
				if err := r.Register("svc", "9.0.0", 7); err != nil {
					b.Fatal(err)
				}
				if err := r.Unregister("svc", "9.0.0"); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(fmt.Sprintf("n=%d/lookup-exact", n), func(b *testing.B) {
			for b.Loop() {
				if _, err := r.Lookup("svc", mid); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(fmt.Sprintf("n=%d/lookup-newest", n), func(b *testing.B) {
			for b.Loop() {
				if _, err := r.Lookup("svc", "^1"); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(fmt.Sprintf("n=%d/lookup-lowest", n), func(b *testing.B) {
			for b.Loop() {
				if _, err := r.Lookup("svc", "<1.0.1"); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(fmt.Sprintf("n=%d/remove-process", n), func(b *testing.B) {
			removed := 0
			for b.Loop() {
				b.StopTimer()
				for _, v := range mine {
					if r.Len() < n {
						mustRegister(b, r, "svc", v, 1)
					}
				}
				b.StartTimer()
				removed += len(r.RemoveProcess(1))
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(removed), "ns/entry")
			for _, v := range mine {
				_ = r.Register("svc", v, 1)
			}
		})
	}
}
