package registry_test

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/wardrt/ward/registry"
)

func TestGetOrSpawnConcurrentCallersShareOneSpawn(t *testing.T) {
	const callers = 100
	r := registry.New()
	var calls atomic.Int32
	release := make(chan struct{})
	spawn := func(context.Context) (registry.ID, error) {
		calls.Add(1)
		<-release
		return 7, nil
	}

	type result struct {
		id      registry.ID
		spawned bool
		err     error
	}
	results := make(chan result, callers)
	var wg sync.WaitGroup
	for range callers {
		wg.Go(func() {
			id, spawned, err := r.GetOrSpawn(t.Context(), "db", "1.0.0", spawn)
			results <- result{id, spawned, err}
		})
	}
	// Hold the spawn until every other caller is parked on it, so the test
	// exercises waiting rather than callers arriving after registration.
	waitFor(t, "99 waiters", func() bool { return r.Waiters("db", "1.0.0") == callers-1 })
	close(release)
	wg.Wait()
	close(results)

	spawnedCount := 0
	for res := range results {
		if res.err != nil || res.id != 7 {
			t.Fatalf("GetOrSpawn = %d, %v; want 7, nil", res.id, res.err)
		}
		if res.spawned {
			spawnedCount++
		}
	}
	if n := calls.Load(); n != 1 {
		t.Errorf("spawn called %d times; want 1", n)
	}
	if spawnedCount != 1 {
		t.Errorf("%d callers reported spawned; want 1", spawnedCount)
	}

	// Once registered, later callers get the entry and spawn never runs.
	id, spawned, err := r.GetOrSpawn(t.Context(), "db", "v1.0.0", spawn)
	if id != 7 || spawned || err != nil || calls.Load() != 1 {
		t.Fatalf("GetOrSpawn after spawn = %d, %v, %v (spawn calls %d); want 7, false, nil (1)", id, spawned, err, calls.Load())
	}
	diffEntries(t, "List", r.List(), []registry.Entry{entry("db", "1.0.0", 7)})
}

func TestGetOrSpawnFailureReachesWaitersThenRetries(t *testing.T) {
	const callers = 10
	r := registry.New()
	boom := errors.New("boom")
	var calls atomic.Int32
	release := make(chan struct{})
	failing := func(context.Context) (registry.ID, error) {
		calls.Add(1)
		<-release
		return 0, boom
	}
	errs := make(chan error, callers)
	var wg sync.WaitGroup
	for range callers {
		wg.Go(func() {
			_, _, err := r.GetOrSpawn(t.Context(), "db", "1.0.0", failing)
			errs <- err
		})
	}
	waitFor(t, "waiters", func() bool { return r.Waiters("db", "1.0.0") == callers-1 })
	close(release)
	wg.Wait()
	close(errs)
	for err := range errs {
		if !errors.Is(err, boom) {
			t.Fatalf("GetOrSpawn error = %v; want boom", err)
		}
	}
	if n := calls.Load(); n != 1 {
		t.Errorf("failing spawn called %d times; want 1", n)
	}
	if r.Len() != 0 {
		t.Fatalf("failed spawn left entries: %v", r.List())
	}

	// Nothing was cached: the next call spawns again.
	id, spawned, err := r.GetOrSpawn(t.Context(), "db", "1.0.0", func(context.Context) (registry.ID, error) { return 3, nil })
	if id != 3 || !spawned || err != nil {
		t.Fatalf("GetOrSpawn after failure = %d, %v, %v; want 3, true, nil", id, spawned, err)
	}
}

func TestGetOrSpawnWaiterContextCancel(t *testing.T) {
	r := registry.New()
	started := make(chan struct{})
	release := make(chan struct{})
	leaderDone := make(chan error, 1)
	go func() {
		_, _, err := r.GetOrSpawn(t.Context(), "db", "1.0.0", func(context.Context) (registry.ID, error) {
			close(started)
			<-release
			return 5, nil
		})
		leaderDone <- err
	}()
	<-started

	// The key is reserved while the spawn runs: neither visible nor free.
	if _, err := r.Lookup("db", "*"); !errors.Is(err, registry.ErrNotFound) {
		t.Errorf("Lookup during spawn = %v; want ErrNotFound", err)
	}
	if err := r.Register("db", "1.0.0", 9); !errors.Is(err, registry.ErrTaken) {
		t.Errorf("Register during spawn = %v; want ErrTaken", err)
	}

	ctx, cancel := context.WithCancel(t.Context())
	waiterDone := make(chan error, 1)
	go func() {
		_, _, err := r.GetOrSpawn(ctx, "db", "1.0.0", func(context.Context) (registry.ID, error) {
			t.Error("waiter ran its own spawn")
			return 0, nil
		})
		waiterDone <- err
	}()
	waitFor(t, "waiter", func() bool { return r.Waiters("db", "1.0.0") == 1 })
	cancel()
	if err := <-waiterDone; !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled waiter got %v; want context.Canceled", err)
	}

	// The spawn was not disturbed by the waiter leaving.
	close(release)
	if err := <-leaderDone; err != nil {
		t.Fatalf("leader: %v", err)
	}
	if e, err := r.Lookup("db", "1.0.0"); err != nil || e.ID != 5 {
		t.Fatalf("Lookup after spawn = %v, %v; want id 5", e, err)
	}
}

func TestGetOrSpawnLeaderCancelLetsWaiterRetry(t *testing.T) {
	r := registry.New()
	leaderCtx, cancelLeader := context.WithCancel(t.Context())
	started := make(chan struct{})
	leaderDone := make(chan error, 1)
	go func() {
		_, _, err := r.GetOrSpawn(leaderCtx, "db", "1.0.0", func(ctx context.Context) (registry.ID, error) {
			close(started)
			<-ctx.Done()
			return 0, ctx.Err()
		})
		leaderDone <- err
	}()
	<-started

	type result struct {
		id      registry.ID
		spawned bool
		err     error
	}
	waiterDone := make(chan result, 1)
	go func() {
		id, spawned, err := r.GetOrSpawn(t.Context(), "db", "1.0.0", func(context.Context) (registry.ID, error) {
			return 8, nil
		})
		waiterDone <- result{id, spawned, err}
	}()
	waitFor(t, "waiter", func() bool { return r.Waiters("db", "1.0.0") == 1 })
	cancelLeader()

	if err := <-leaderDone; !errors.Is(err, context.Canceled) {
		t.Fatalf("leader got %v; want context.Canceled", err)
	}
	// The waiter's own context is alive, so it must not inherit the
	// leader's cancellation; it spawns instead.
	if res := <-waiterDone; res.err != nil || res.id != 8 || !res.spawned {
		t.Fatalf("waiter got %d, %v, %v; want 8, true, nil", res.id, res.spawned, res.err)
	}
}

func TestGetOrSpawnMayUseRegistryInsideSpawn(t *testing.T) {
	r := registry.New()
	// A service whose start-up starts its own dependency: the outer spawn
	// must not hold the lock the inner one needs.
	id, spawned, err := r.GetOrSpawn(t.Context(), "app", "1.0.0", func(ctx context.Context) (registry.ID, error) {
		if _, _, err := r.GetOrSpawn(ctx, "db", "2.0.0", func(context.Context) (registry.ID, error) { return 2, nil }); err != nil {
			return 0, err
		}
		if err := r.Register("app-metrics", "1.0.0", 1); err != nil {
			return 0, err
		}
		return 1, nil
	})
	if id != 1 || !spawned || err != nil {
		t.Fatalf("GetOrSpawn = %d, %v, %v; want 1, true, nil", id, spawned, err)
	}
	diffEntries(t, "List", r.List(), []registry.Entry{
		entry("app", "1.0.0", 1), entry("app-metrics", "1.0.0", 1), entry("db", "2.0.0", 2),
	})
}

func TestGetOrSpawnPanicReleasesWaiters(t *testing.T) {
	r := registry.New()
	started := make(chan struct{})
	release := make(chan struct{})
	go func() {
		// The panic is the spawn function's own and stays with its caller.
		defer func() { _ = recover() }()
		r.GetOrSpawn(t.Context(), "db", "1.0.0", func(context.Context) (registry.ID, error) {
			close(started)
			<-release
			panic("spawn bug")
		})
	}()
	<-started
	waiterDone := make(chan error, 1)
	go func() {
		_, _, err := r.GetOrSpawn(t.Context(), "db", "1.0.0", func(context.Context) (registry.ID, error) { return 1, nil })
		waiterDone <- err
	}()
	waitFor(t, "waiter", func() bool { return r.Waiters("db", "1.0.0") == 1 })
	close(release)
	if err := <-waiterDone; err == nil {
		t.Fatal("waiter of a panicked spawn got no error")
	}
	if id, spawned, err := r.GetOrSpawn(t.Context(), "db", "1.0.0", func(context.Context) (registry.ID, error) { return 4, nil }); id != 4 || !spawned || err != nil {
		t.Fatalf("GetOrSpawn after panic = %d, %v, %v; want 4, true, nil", id, spawned, err)
	}
}

func TestGetOrSpawnEdgeCases(t *testing.T) {
	r := registry.New()
	mustRegister(t, r, "db", "1.0.0", 1)
	never := func(context.Context) (registry.ID, error) {
		t.Error("spawn called")
		return 0, nil
	}
	ctx, cancel := context.WithCancel(t.Context())
	cancel()

	// An existing entry is returned even to a caller that has given up:
	// answering costs nothing.
	if id, spawned, err := r.GetOrSpawn(ctx, "db", "1.0.0", never); id != 1 || spawned || err != nil {
		t.Errorf("GetOrSpawn of registered = %d, %v, %v; want 1, false, nil", id, spawned, err)
	}
	// But no process is started for it.
	if _, _, err := r.GetOrSpawn(ctx, "db", "2.0.0", never); !errors.Is(err, context.Canceled) {
		t.Errorf("GetOrSpawn with cancelled ctx = %v; want context.Canceled", err)
	}
	if _, _, err := r.GetOrSpawn(t.Context(), "db", "2.0.0", nil); err == nil {
		t.Error("GetOrSpawn with nil spawn returned no error")
	}
	if _, _, err := r.GetOrSpawn(t.Context(), "", "1.0.0", never); !errors.Is(err, registry.ErrBadName) {
		t.Errorf("GetOrSpawn with empty name = %v; want ErrBadName", err)
	}
	if _, _, err := r.GetOrSpawn(t.Context(), "db", "^1", never); !errors.Is(err, registry.ErrBadVersion) {
		t.Errorf("GetOrSpawn with a constraint for version = %v; want ErrBadVersion", err)
	}
}
