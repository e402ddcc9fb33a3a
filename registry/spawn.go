package registry

import (
	"context"
	"errors"
	"fmt"

	"github.com/wardrt/ward/internal/errs"
)

// spawnKey identifies an in-flight spawn: a name and a versionKey.
type spawnKey struct{ name, version string }

// call is one running spawn that other callers wait on. Its result fields
// are written before done is closed and only read after, so they need no
// lock of their own.
type call struct {
	done    chan struct{}
	waiters int // callers that joined; tests use it to know they are parked

	id  ID
	err error
	// retry tells waiters that the spawn failed because the spawning
	// caller's own context ended: that is no verdict on the service, so a
	// waiter whose context is still alive spawns again rather than return
	// someone else's cancellation.
	retry bool
}

// errSpawnAborted is what waiters get when spawn panicked or called
// runtime.Goexit: the panic stays with the caller that ran spawn, but the
// others must not wait forever.
var errSpawnAborted = errors.New("spawn function did not return (panic or Goexit)")

// GetOrSpawn returns the process holding name at the exact version, calling
// spawn to start one if there is none. However many callers ask for the same
// name and version at once, spawn runs once and every caller gets its id;
// spawned is true only for the caller whose spawn ran. spawn runs without
// the Registry's lock held, so it may be slow and may use the Registry for
// other names (using it for the same name and version would wait on itself).
// While it runs, Register of that name and version fails with ErrTaken.
// The entry is charged to the Budget (see WithBudget) before spawn runs, so
// with no room GetOrSpawn fails with the Budget's error and spawns nothing;
// a spawn that fails gives the charge back.
//
// spawn gets the context of the caller that runs it. If spawn fails, that
// caller and those waiting get its error (wrapped), and nothing is
// registered, so a later call tries again; the exception is a failure while
// the spawning caller's context has ended, after which waiters with a live
// context try again themselves. A waiter whose context ends first returns
// its ctx.Err() wrapped, and the spawn goes on for the others.
//
// The id spawn returns is registered once spawn has returned, so a process
// that exits before then leaves its name behind: the runtime should call
// RemoveProcess for it after GetOrSpawn returns, or start the process only
// once registered.
func (r *Registry) GetOrSpawn(ctx context.Context, name, version string, spawn func(ctx context.Context) (ID, error)) (id ID, spawned bool, err error) {
	if err := checkName(name); err != nil {
		return 0, false, err
	}
	v, err := parseVersion(version)
	if err != nil {
		return 0, false, err
	}
	if spawn == nil {
		return 0, false, fmt.Errorf("ward: GetOrSpawn %s@%s: nil spawn function", name, v)
	}
	key := spawnKey{name, versionKey(v)}
	for {
		r.mu.Lock()
		list := r.byName[name]
		if i, found := search(list, v); found {
			id := list[i].id
			r.mu.Unlock()
			return id, false, nil
		}
		if c, ok := r.inflight[key]; ok {
			c.waiters++
			r.mu.Unlock()
			select {
			case <-c.done:
				if c.retry {
					if err := ctx.Err(); err != nil {
						return 0, false, errs.Wrap(err, "waiting for spawn of %s@%s", name, v)
					}
					continue
				}
				if c.err != nil {
					return 0, false, c.err
				}
				return c.id, false, nil
			case <-ctx.Done():
				return 0, false, errs.Wrap(ctx.Err(), "waiting for spawn of %s@%s", name, v)
			}
		}
		// Starting a spawn for a caller that has already given up would
		// leave a process nobody asked for.
		if err := ctx.Err(); err != nil {
			r.mu.Unlock()
			return 0, false, errs.Wrap(err, "spawn of %s@%s", name, v)
		}
		// Charged before spawning, so that a full Budget refuses the spawn
		// rather than a process being started only to lose its name;
		// finish turns the charge into the entry's, or gives it back.
		if r.budget != nil {
			if err := r.budget.Take(); err != nil {
				r.mu.Unlock()
				return 0, false, errs.Wrap(err, "spawn of %s@%s", name, v)
			}
		}
		c := &call{done: make(chan struct{})}
		r.inflight[key] = c
		r.mu.Unlock()
		return r.runSpawn(ctx, c, key, &record{name: name, version: v}, spawn)
	}
}

// runSpawn runs spawn for the caller that reserved key, registers the
// result, and releases the waiters.
func (r *Registry) runSpawn(ctx context.Context, c *call, key spawnKey, rec *record, spawn func(context.Context) (ID, error)) (ID, bool, error) {
	returned := false
	defer func() {
		if !returned {
			r.finish(c, key, nil, errs.Wrap(errSpawnAborted, "spawn of %s@%s", rec.name, rec.version), false)
		}
	}()
	id, err := spawn(ctx)
	returned = true
	if err != nil {
		err = errs.Wrap(err, "spawn of %s@%s", rec.name, rec.version)
		r.finish(c, key, nil, err, ctx.Err() != nil)
		return 0, false, err
	}
	rec.id = id
	if err := r.finish(c, key, rec, nil, false); err != nil {
		return 0, false, err
	}
	return id, true, nil
}

// finish registers rec (when the spawn succeeded), drops the reservation and
// wakes the waiters, all under one lock so no caller can see the key neither
// reserved nor registered and spawn a second time. The reservation's
// Budget charge becomes the entry's, or is given back.
func (r *Registry) finish(c *call, key spawnKey, rec *record, err error, retry bool) error {
	r.mu.Lock()
	delete(r.inflight, key)
	if rec != nil {
		// Cannot collide while the reservation holds off Register; checked
		// anyway so a future change fails loudly rather than double-books.
		if err = r.insertLocked(rec, true); err == nil {
			c.id = rec.id
		}
	}
	if err != nil {
		r.give(1)
	}
	c.err, c.retry = err, retry
	r.mu.Unlock()
	close(c.done)
	return err
}
