package registry

import (
	"cmp"
	"fmt"
	"slices"
	"sync"

	"github.com/Masterminds/semver/v3"
)

// Registry maps (name, exact version) to process ids. The zero value is not
// usable; call New.
type Registry struct {
	mu sync.Mutex
	// byName holds each name's records sorted by version, highest first,
	// so Lookup can stop at the first match and costs O(versions of name).
	byName map[string][]*record
	// byID lets RemoveProcess and Names avoid scanning every entry.
	byID map[ID][]*record
	// inflight reserves keys whose spawn is running; see GetOrSpawn.
	inflight map[spawnKey]*call
	n        int
}

// New returns an empty Registry.
func New() *Registry {
	return &Registry{
		byName:   make(map[string][]*record),
		byID:     make(map[ID][]*record),
		inflight: make(map[spawnKey]*call),
	}
}

// Register records that process id holds name at the exact version. It
// fails with ErrTaken if that name and version (ignoring build metadata) is
// already held or is being spawned by GetOrSpawn, with ErrBadName or
// ErrBadVersion if either does not parse. A process may hold any number of
// names.
func (r *Registry) Register(name, version string, id ID) error {
	if err := checkName(name); err != nil {
		return err
	}
	v, err := parseVersion(version)
	if err != nil {
		return err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, ok := r.inflight[spawnKey{name, versionKey(v)}]; ok {
		return fmt.Errorf("%w: %s@%s is being spawned", ErrTaken, name, v)
	}
	return r.insertLocked(&record{name: name, version: v, id: id})
}

// Unregister removes name at the exact version (build metadata ignored),
// whichever process holds it. It fails with ErrNotFound if there is no such
// entry.
func (r *Registry) Unregister(name, version string) error {
	if err := checkName(name); err != nil {
		return err
	}
	v, err := parseVersion(version)
	if err != nil {
		return err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	list := r.byName[name]
	i, found := search(list, v)
	if !found {
		return fmt.Errorf("%w: %s@%s", ErrNotFound, name, v)
	}
	rec := list[i]
	r.deleteByName(rec, i)
	r.byID[rec.id] = deleteRecord(r.byID[rec.id], rec)
	if len(r.byID[rec.id]) == 0 {
		delete(r.byID, rec.id)
	}
	r.n--
	return nil
}

// Lookup returns the entry with the highest version of name that satisfies
// constraint, a Masterminds semver constraint such as "^1.2", "~1.4.0",
// ">=2, <3" or "1.2.3"; "" and "*" match any version that is not a
// pre-release. It fails with ErrNotFound if nothing matches and with
// ErrBadVersion if the constraint does not parse.
func (r *Registry) Lookup(name, constraint string) (Entry, error) {
	if err := checkName(name); err != nil {
		return Entry{}, err
	}
	// Parse outside the lock: it is the costly part (regular expressions)
	// and needs no shared state.
	c, err := parseConstraint(constraint)
	if err != nil {
		return Entry{}, err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, rec := range r.byName[name] {
		if c.Check(rec.version) {
			return rec.entry(), nil
		}
	}
	return Entry{}, fmt.Errorf("%w: no %s matching %q", ErrNotFound, name, constraint)
}

// RemoveProcess removes every name held by process id and returns what it
// removed, sorted by name then version. The runtime calls it when a process
// exits, so that its names can be taken again. Unknown ids remove nothing.
func (r *Registry) RemoveProcess(id ID) []Entry {
	r.mu.Lock()
	defer r.mu.Unlock()
	recs := r.byID[id]
	delete(r.byID, id)
	out := make([]Entry, 0, len(recs))
	for _, rec := range recs {
		i, _ := search(r.byName[rec.name], rec.version)
		r.deleteByName(rec, i)
		out = append(out, rec.entry())
	}
	r.n -= len(recs)
	sortEntries(out)
	return out
}

// Names returns the names held by process id, sorted by name then version.
func (r *Registry) Names(id ID) []Entry {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]Entry, 0, len(r.byID[id]))
	for _, rec := range r.byID[id] {
		out = append(out, rec.entry())
	}
	sortEntries(out)
	return out
}

// List returns every entry, sorted by name then version (lowest first).
func (r *Registry) List() []Entry {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]Entry, 0, r.n)
	for _, list := range r.byName {
		for _, rec := range list {
			out = append(out, rec.entry())
		}
	}
	sortEntries(out)
	return out
}

// Len returns the number of entries.
func (r *Registry) Len() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.n
}

func (r *Registry) insertLocked(rec *record) error {
	list := r.byName[rec.name]
	i, found := search(list, rec.version)
	if found {
		return fmt.Errorf("%w: %s@%s is held by process %d", ErrTaken, rec.name, list[i].version, list[i].id)
	}
	r.byName[rec.name] = slices.Insert(list, i, rec)
	r.byID[rec.id] = append(r.byID[rec.id], rec)
	r.n++
	return nil
}

// deleteByName removes rec, found at index i of its name's list, dropping
// the name altogether when it was the last version so that byName does not
// grow with every name ever used.
func (r *Registry) deleteByName(rec *record, i int) {
	list := slices.Delete(r.byName[rec.name], i, i+1)
	if len(list) == 0 {
		delete(r.byName, rec.name)
		return
	}
	r.byName[rec.name] = list
}

// search finds v in a list sorted highest first. Compare ignores build
// metadata, which is what makes "1.2.0+a" and "1.2.0+b" the same key.
func search(list []*record, v *semver.Version) (int, bool) {
	return slices.BinarySearchFunc(list, v, func(rec *record, v *semver.Version) int {
		return v.Compare(rec.version)
	})
}

func deleteRecord(list []*record, rec *record) []*record {
	return slices.DeleteFunc(list, func(x *record) bool { return x == rec })
}

func sortEntries(es []Entry) {
	slices.SortFunc(es, func(a, b Entry) int {
		return cmp.Or(cmp.Compare(a.Name, b.Name), a.Version.Compare(b.Version))
	})
}
