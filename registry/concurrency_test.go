package registry_test

import (
	"context"
	"fmt"
	"sync"
	"testing"

	"github.com/wardrt/ward/registry"
)

// TestConcurrentUse runs every operation from many goroutines; under -race
// it checks the locking, and afterwards that the name and process indexes
// still agree with each other.
func TestConcurrentUse(t *testing.T) {
	r := registry.New()
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 200 {
				id := registry.ID(g*1000 + i%10)
				name := fmt.Sprintf("svc%d", i%7)
				version := fmt.Sprintf("1.%d.%d", g, i%5)
				_ = r.Register(name, version, id)
				_, _ = r.Lookup(name, "^1")
				_, _, _ = r.GetOrSpawn(t.Context(), name, "2.0.0", func(context.Context) (registry.ID, error) { return id, nil })
				_ = r.Names(id)
				if i%3 == 0 {
					r.RemoveProcess(id)
				}
				if i%11 == 0 {
					_ = r.Unregister(name, version)
				}
			}
		})
	}
	wg.Wait()

	all := r.List()
	if r.Len() != len(all) {
		t.Fatalf("Len = %d but List has %d entries", r.Len(), len(all))
	}
	byID := map[registry.ID][]registry.Entry{}
	for _, e := range all {
		byID[e.ID] = append(byID[e.ID], e)
		got, err := r.Lookup(e.Name, e.Version.String())
		if err != nil || got.ID != e.ID {
			t.Errorf("Lookup(%s) = %v, %v; want id %d", e, got, err, e.ID)
		}
	}
	for id, want := range byID {
		diffEntries(t, fmt.Sprintf("Names(%d)", id), r.Names(id), want)
	}
	for _, e := range all {
		r.RemoveProcess(e.ID)
	}
	if r.Len() != 0 || len(r.List()) != 0 {
		t.Fatalf("after removing every process: Len = %d, List = %v", r.Len(), r.List())
	}
}
