package cluster

import (
	"context"
	"slices"
	"sync"

	"github.com/Masterminds/semver/v3"
)

// globalCache is a node's copy of the registry bucket, fed by a KV watch
// and by the node's own writes as they succeed (so a node reads its own
// writes at once). Every change carries the key's revision, and an older
// revision never overwrites a newer one, whichever of the two paths
// brings it first.
type globalCache struct {
	mu   sync.Mutex
	keys map[string]*cached
	// byName holds each name's live records (placeholders left out),
	// highest version first, so a lookup stops at the first match.
	byName map[string][]*cached
	// byPID holds the keys of each process's live records, for the
	// janitor when the process ends.
	byPID map[uint64]map[string]struct{}
	// seq is the highest revision the watch has delivered: the bucket's
	// stream sequence, increasing across all keys.
	seq     uint64
	ready   bool          // the watch delivered the bucket's initial values
	changed chan struct{} // closed and replaced on every change
	// unheld is told of a process that no longer holds any name; it is
	// called with mu held, so it must not wait or use the cache.
	unheld func(pid uint64)
}

// cached is one key's state. rec nil is a delete this node made itself,
// kept until the watch reports it, so that the watch's late copy of the
// value it deleted does not bring it back.
type cached struct {
	key     string
	rev     uint64
	rec     *globalRecord
	version *semver.Version
}

func (c *cached) live() bool { return c.rec != nil && !c.rec.placeholder() }

func newGlobalCache() *globalCache {
	return &globalCache{
		keys:    make(map[string]*cached),
		byName:  make(map[string][]*cached),
		byPID:   make(map[uint64]map[string]struct{}),
		changed: make(chan struct{}),
	}
}

// put records this node's own write of rec at rev for key. When the
// watch has delivered rev already, it has delivered whatever followed it
// too, and the cache is as new as it can be: the write may be gone by now.
func (c *globalCache) put(key string, rev uint64, rec *globalRecord, v *semver.Version) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if rev <= c.seq {
		return
	}
	c.putLocked(&cached{key: key, rev: rev, rec: rec, version: v})
}

func (c *globalCache) putLocked(n *cached) bool {
	old := c.keys[n.key]
	if old != nil {
		if old.rev >= n.rev {
			return false
		}
		c.unindex(old)
	}
	c.keys[n.key] = n
	c.index(n)
	c.released(old)
	c.broadcastLocked()
	return true
}

// released tells unheld when old, a record just replaced or removed, was
// its process's last name.
func (c *globalCache) released(old *cached) {
	if old != nil && old.live() && len(c.byPID[old.rec.PID]) == 0 && c.unheld != nil {
		c.unheld(old.rec.PID)
	}
}

// deleted records that this node deleted key at revision rev: the key is
// absent from now on, until a revision newer than the delete shows up.
func (c *globalCache) deleted(key string, rev uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	old := c.keys[key]
	switch {
	case old == nil && rev <= c.seq:
		return // the watch brought the value and its delete already
	case old != nil && old.rev > rev:
		return // a newer value came meanwhile
	case old != nil:
		c.unindex(old)
	}
	c.keys[key] = &cached{key: key, rev: rev}
	c.released(old)
	c.broadcastLocked()
}

// watched applies one entry of the watch: a value, or a delete marker,
// which is newer than anything this node deleted itself and so ends the
// key's tombstone.
func (c *globalCache) watched(key string, rev uint64, del bool, rec *globalRecord, v *semver.Version) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if rev > c.seq {
		c.seq = rev
	}
	switch old := c.keys[key]; {
	case !del:
		if c.putLocked(&cached{key: key, rev: rev, rec: rec, version: v}) {
			return // it broadcast
		}
	case old != nil && old.rev < rev:
		c.unindex(old)
		delete(c.keys, key)
		c.released(old)
	}
	// The sequence moved even when no key changed: waiters on it (a
	// node-down sweep, a GetOrSpawn) look again.
	c.broadcastLocked()
}

// markReady records that the watch delivered the initial values.
func (c *globalCache) markReady() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.ready = true
	c.broadcastLocked()
}

func (c *globalCache) isReady() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.ready
}

func (c *globalCache) broadcastLocked() {
	close(c.changed)
	c.changed = make(chan struct{})
}

func (c *globalCache) index(n *cached) {
	if !n.live() {
		return
	}
	list := c.byName[n.rec.Name]
	i, _ := slices.BinarySearchFunc(list, n.version, func(e *cached, v *semver.Version) int {
		return v.Compare(e.version) // highest first
	})
	c.byName[n.rec.Name] = slices.Insert(list, i, n)
	keys := c.byPID[n.rec.PID]
	if keys == nil {
		keys = make(map[string]struct{}, 1)
		c.byPID[n.rec.PID] = keys
	}
	keys[n.key] = struct{}{}
}

func (c *globalCache) unindex(n *cached) {
	if !n.live() {
		return
	}
	list := c.byName[n.rec.Name]
	if i := slices.Index(list, n); i >= 0 {
		list = slices.Delete(list, i, i+1)
	}
	if len(list) == 0 {
		delete(c.byName, n.rec.Name)
	} else {
		c.byName[n.rec.Name] = list
	}
	if keys := c.byPID[n.rec.PID]; keys != nil {
		delete(keys, n.key)
		if len(keys) == 0 {
			delete(c.byPID, n.rec.PID)
		}
	}
}

// lookup returns the live record of name with the highest version that
// satisfies con.
func (c *globalCache) lookup(name string, con *semver.Constraints) (*cached, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, n := range c.byName[name] {
		if con.Check(n.version) {
			return n, true
		}
	}
	return nil, false
}

// get returns key's state, nil when the key is absent.
func (c *globalCache) get(key string) *cached {
	c.mu.Lock()
	defer c.mu.Unlock()
	if n := c.keys[key]; n != nil && n.rec != nil {
		return n
	}
	return nil
}

// ofPID returns the keys and revisions of a process's live records.
func (c *globalCache) ofPID(pid uint64) map[string]uint64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make(map[string]uint64, len(c.byPID[pid]))
	for k := range c.byPID[pid] {
		out[k] = c.keys[k].rev
	}
	return out
}

// ofNode returns the keys and revisions of every record, placeholders
// included, of processes on node, written at revision upTo or before.
func (c *globalCache) ofNode(node uint16, upTo uint64) map[string]uint64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make(map[string]uint64)
	for k, n := range c.keys {
		if n.rec != nil && n.rec.Node == node && n.rev <= upTo {
			out[k] = n.rev
		}
	}
	return out
}

// all returns the live records, by name then highest version first.
func (c *globalCache) all() []*cached {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []*cached
	for _, list := range c.byName {
		out = append(out, list...)
	}
	slices.SortStableFunc(out, func(a, b *cached) int {
		if a.rec.Name != b.rec.Name {
			if a.rec.Name < b.rec.Name {
				return -1
			}
			return 1
		}
		return b.version.Compare(a.version)
	})
	return out
}

// wait blocks until done, called with the cache locked, reports true, or
// ctx ends.
func (c *globalCache) wait(ctx context.Context, done func() bool) error {
	for {
		c.mu.Lock()
		ok := done()
		ch := c.changed
		c.mu.Unlock()
		if ok {
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}
