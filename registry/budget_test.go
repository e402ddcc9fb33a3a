package registry_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/wardrt/ward/registry"
)

var errFull = errors.New("test budget full")

// countBudget is a Budget with a fixed limit that also checks it is never
// given back more than was taken.
type countBudget struct {
	t     testing.TB
	mu    sync.Mutex
	n     int
	limit int
}

func (b *countBudget) Take() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.n >= b.limit {
		return fmt.Errorf("%w: %d of %d", errFull, b.n, b.limit)
	}
	b.n++
	return nil
}

func (b *countBudget) Give(n int) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.n -= n; b.n < 0 {
		b.t.Errorf("budget given back %d, more than was taken (now %d)", n, b.n)
	}
}

func (b *countBudget) count() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.n
}

func TestBudgetBoundsRegister(t *testing.T) {
	b := &countBudget{t: t, limit: 3}
	r := registry.New(registry.WithBudget(b))
	mustRegister(t, r, "db", "1.0.0", 1)
	mustRegister(t, r, "db", "1.1.0", 1)
	// A duplicate is refused as taken and costs nothing.
	if err := r.Register("db", "1.1.0", 2); !errors.Is(err, registry.ErrTaken) {
		t.Fatalf("duplicate Register = %v; want ErrTaken", err)
	}
	mustRegister(t, r, "cache", "1.0.0", 2)
	err := r.Register("db", "2.0.0", 2)
	if !errors.Is(err, errFull) {
		t.Fatalf("Register past the budget = %v; want the budget's error", err)
	}
	if r.Len() != 3 || b.count() != 3 {
		t.Fatalf("after a refusal: Len = %d, budget = %d; want 3, 3", r.Len(), b.count())
	}
	// Every way an entry goes gives its room back.
	if err := r.Unregister("db", "1.0.0"); err != nil {
		t.Fatal(err)
	}
	if b.count() != 2 {
		t.Fatalf("after Unregister: budget = %d; want 2", b.count())
	}
	mustRegister(t, r, "db", "2.0.0", 1)
	if got := r.Count(1); got != 2 {
		t.Fatalf("Count(1) = %d; want 2", got)
	}
	if got := len(r.RemoveProcess(1)); got != 2 || b.count() != 1 {
		t.Fatalf("RemoveProcess(1) removed %d, budget = %d; want 2, 1", got, b.count())
	}
	if r.Count(1) != 0 || r.Count(2) != 1 {
		t.Fatalf("Count(1), Count(2) = %d, %d; want 0, 1", r.Count(1), r.Count(2))
	}
	r.RemoveProcess(2)
	if b.count() != 0 || r.Len() != 0 {
		t.Fatalf("empty registry: budget = %d, Len = %d", b.count(), r.Len())
	}
}

func TestBudgetGetOrSpawn(t *testing.T) {
	b := &countBudget{t: t, limit: 1}
	r := registry.New(registry.WithBudget(b))
	boom := errors.New("boom")
	calls := 0
	failing := func(context.Context) (registry.ID, error) { calls++; return 0, boom }
	ok := func(context.Context) (registry.ID, error) { calls++; return 5, nil }

	// A failed spawn, a panicking one and one whose caller's context had
	// ended all give the reservation back.
	if _, _, err := r.GetOrSpawn(t.Context(), "svc", "1.0.0", failing); !errors.Is(err, boom) {
		t.Fatalf("failing spawn = %v; want boom", err)
	}
	if b.count() != 0 {
		t.Fatalf("after a failed spawn: budget = %d; want 0", b.count())
	}
	func() {
		defer func() { _ = recover() }()
		_, _, _ = r.GetOrSpawn(t.Context(), "svc", "1.0.0", func(context.Context) (registry.ID, error) { panic("spawn panics") })
	}()
	if b.count() != 0 {
		t.Fatalf("after a panicking spawn: budget = %d; want 0", b.count())
	}
	ctx, cancel := context.WithCancel(t.Context())
	_, _, err := r.GetOrSpawn(ctx, "svc", "1.0.0", func(context.Context) (registry.ID, error) { cancel(); return 0, context.Canceled })
	if !errors.Is(err, context.Canceled) || b.count() != 0 {
		t.Fatalf("spawn with its context ended = %v, budget %d; want context.Canceled, 0", err, b.count())
	}

	// A spawn that succeeds keeps its charge as the entry's.
	if id, spawned, err := r.GetOrSpawn(t.Context(), "svc", "1.0.0", ok); id != 5 || !spawned || err != nil {
		t.Fatalf("GetOrSpawn = %d, %v, %v; want 5, true, nil", id, spawned, err)
	}
	if b.count() != 1 || r.Len() != 1 {
		t.Fatalf("after a spawn: budget = %d, Len = %d; want 1, 1", b.count(), r.Len())
	}
	// Getting the existing entry needs no room, even with none left.
	if id, spawned, err := r.GetOrSpawn(t.Context(), "svc", "1.0.0", ok); id != 5 || spawned || err != nil {
		t.Fatalf("GetOrSpawn of a held name = %d, %v, %v; want 5, false, nil", id, spawned, err)
	}
	// With no room, nothing is spawned.
	before := calls
	if _, _, err := r.GetOrSpawn(t.Context(), "svc", "2.0.0", ok); !errors.Is(err, errFull) {
		t.Fatalf("GetOrSpawn with a full budget = %v; want the budget's error", err)
	}
	if calls != before {
		t.Fatal("GetOrSpawn ran spawn although the budget had no room")
	}
	r.RemoveProcess(5)
	if b.count() != 0 {
		t.Fatalf("after RemoveProcess: budget = %d; want 0", b.count())
	}
}

// TestBudgetConcurrentGetOrSpawn races callers of a few keys, some of
// whose spawns fail, against a budget too small for all of them: the
// budget must end equal to the entries held, so no path leaks or double
// gives a charge.
func TestBudgetConcurrentGetOrSpawn(t *testing.T) {
	b := &countBudget{t: t, limit: 4}
	r := registry.New(registry.WithBudget(b))
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 200 {
				v := fmt.Sprintf("1.0.%d", i%6)
				_, _, _ = r.GetOrSpawn(t.Context(), "svc", v, func(context.Context) (registry.ID, error) {
					if (g+i)%3 == 0 {
						return 0, errors.New("spawn fails")
					}
					return registry.ID(g + 1), nil
				})
				if i%5 == 0 {
					r.RemoveProcess(registry.ID(g + 1))
				}
				if b.count() > b.limit {
					t.Errorf("budget at %d, past its limit %d", b.count(), b.limit)
				}
			}
		})
	}
	wg.Wait()
	if b.count() != r.Len() {
		t.Fatalf("budget = %d but the registry holds %d entries", b.count(), r.Len())
	}
}
