package registry

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
	"sync"

	"github.com/Masterminds/semver/v3"
	"github.com/wardrt/ward/internal/errs"
)

// Registry maps (name, exact version) to process ids. The zero value is not
// usable; call New.
type Registry struct {
	mu sync.Mutex
	// byName holds each name's records sorted by version, highest first,
	// so Lookup can stop at the first match. Inserting or deleting one
	// record moves the pointers after it: linear in the versions of that
	// name, a memmove, and never more than once per record changed (see
	// RemoveProcess).
	byName map[string][]*record
	// byID lets RemoveProcess, Names and Count avoid scanning every entry.
	// Its lists are unordered; record.idPos makes removing one O(1).
	byID map[ID][]*record
	// inflight reserves keys whose spawn is running; see GetOrSpawn.
	inflight map[spawnKey]*call
	budget   Budget // nil: no bound but memory
	n        int
}

// Budget is charged for the entries a Registry holds, so that one limit
// can span several registries: the ward runtime charges an environment's
// entries to it and to each of its ancestors, each of which bounds its own
// and its descendants' together.
//
// The Registry calls Take before an entry is added (including when
// GetOrSpawn reserves a name before spawning) and Give once for every
// entry it removes or reservation it drops, whatever the path (Unregister,
// RemoveProcess, a failed spawn), so a Budget's count is exactly the
// entries held plus the spawns in flight. Both are called with the
// Registry's lock held: they must be quick and must not use the Registry.
type Budget interface {
	// Take makes room for one more entry, or returns an error that says
	// which limit stopped it; Register and GetOrSpawn fail with that error
	// wrapped, so errors.Is finds the Budget's own sentinel.
	Take() error
	// Give returns the room of n entries that have gone.
	Give(n int)
}

// Option configures a Registry made by New.
type Option func(*Registry)

// WithBudget bounds the Registry's entries by b. Without it a Registry
// holds as many entries as memory allows, which suits trusted callers
// only.
func WithBudget(b Budget) Option { return func(r *Registry) { r.budget = b } }

// New returns an empty Registry.
func New(opts ...Option) *Registry {
	r := &Registry{
		byName:   make(map[string][]*record),
		byID:     make(map[ID][]*record),
		inflight: make(map[spawnKey]*call),
	}
	for _, o := range opts {
		o(r)
	}
	return r
}

// Register records that process id holds name at the exact version. It
// fails with ErrTaken if that name and version (ignoring build metadata) is
// already held or is being spawned by GetOrSpawn, with ErrBadName or
// ErrBadVersion if either does not parse, and with the Budget's error if
// it has no room (see WithBudget). The Registry itself does not bound the
// names one process holds; the runtime does (Count).
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
	return r.insertLocked(&record{name: name, version: v, id: id}, false)
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
	r.setByName(name, slices.Delete(list, i, i+1))
	r.deleteByID(rec)
	r.n--
	r.give(1)
	return nil
}

// Lookup returns the entry with the highest version of name that satisfies
// constraint, a Masterminds semver constraint such as "^1.2", "~1.4.0",
// ">=2, <3" or "1.2.3"; "" and "*" match any version that is not a
// pre-release. It fails with ErrNotFound if nothing matches and with
// ErrBadVersion if the constraint does not parse.
//
// An exact version ("1.2.3", "=1.2.3") is found by binary search. Any
// other constraint is checked against the name's versions from the highest
// down, so its cost grows with the versions it skips: bound those (the
// runtime does, per process and per environment) where callers are not
// trusted.
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
	exact := exactVersion(constraint)
	r.mu.Lock()
	defer r.mu.Unlock()
	list := r.byName[name]
	if exact != nil {
		// Only a version equal to exact (Compare ignores build metadata,
		// as the equality constraint does) can satisfy it; Check still
		// decides, so this path cannot disagree with the scan below.
		if i, found := search(list, exact); found && c.Check(list[i].version) {
			return list[i].entry(), nil
		}
		return Entry{}, fmt.Errorf("%w: no %s matching %q", ErrNotFound, name, constraint)
	}
	for _, rec := range list {
		if c.Check(rec.version) {
			return rec.entry(), nil
		}
	}
	return Entry{}, fmt.Errorf("%w: no %s matching %q", ErrNotFound, name, constraint)
}

// exactVersion returns the version a constraint names exactly ("1.2.3",
// "=v1.2.3-rc.1"), or nil for any constraint that admits a range. Partial
// versions ("1.2") are ranges to semver, and StrictNewVersion refuses
// them, as it refuses "||", "," and operators.
func exactVersion(constraint string) *semver.Version {
	s := strings.TrimSpace(constraint)
	s = strings.TrimSpace(strings.TrimPrefix(s, "="))
	v, err := semver.StrictNewVersion(strings.TrimPrefix(s, "v"))
	if err != nil {
		return nil
	}
	return v
}

// RemoveProcess removes every name held by process id and returns what it
// removed, sorted by name then version. The runtime calls it when a process
// exits, so that its names can be taken again. Unknown ids remove nothing.
// It costs one pass over each name the process held a version of, however
// many versions that was.
func (r *Registry) RemoveProcess(id ID) []Entry {
	r.mu.Lock()
	defer r.mu.Unlock()
	recs := r.byID[id]
	delete(r.byID, id)
	var names []string
	seen := make(map[string]bool, 1)
	for _, rec := range recs {
		rec.gone = true
		if !seen[rec.name] {
			seen[rec.name] = true
			names = append(names, rec.name)
		}
	}
	slices.Sort(names)
	// One compaction per name rather than one delete per record: a
	// process holding k of a name's n versions costs O(n + k), not O(k·n).
	// Each list is sorted already, so collecting from its low end gives
	// the result in order without sorting the k entries.
	out := make([]Entry, 0, len(recs))
	for _, name := range names {
		list := r.byName[name]
		for i := len(list) - 1; i >= 0; i-- {
			if list[i].gone {
				out = append(out, list[i].entry())
			}
		}
		r.setByName(name, slices.DeleteFunc(list, func(x *record) bool { return x.gone }))
	}
	r.n -= len(recs)
	r.give(len(recs))
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

// Count returns how many entries process id holds: len(Names(id)) without
// copying or sorting them.
func (r *Registry) Count(id ID) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.byID[id])
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

// insertLocked adds rec unless its key is held. charged says the Budget
// was already taken for it (a GetOrSpawn reservation); otherwise it is
// taken here, after the check for ErrTaken so that a refused duplicate
// never touches the Budget.
func (r *Registry) insertLocked(rec *record, charged bool) error {
	list := r.byName[rec.name]
	i, found := search(list, rec.version)
	if found {
		return fmt.Errorf("%w: %s@%s is held by process %d", ErrTaken, rec.name, list[i].version, list[i].id)
	}
	if !charged && r.budget != nil {
		if err := r.budget.Take(); err != nil {
			return errs.Wrap(err, "%s@%s", rec.name, rec.version)
		}
	}
	r.byName[rec.name] = slices.Insert(list, i, rec)
	ids := r.byID[rec.id]
	rec.idPos = len(ids)
	r.byID[rec.id] = append(ids, rec)
	r.n++
	return nil
}

// give returns n entries' room to the Budget, if there is one.
func (r *Registry) give(n int) {
	if r.budget != nil && n > 0 {
		r.budget.Give(n)
	}
}

// setByName stores a name's shortened list, dropping the name altogether
// when no version is left so that byName does not grow with every name
// ever used.
func (r *Registry) setByName(name string, list []*record) {
	if len(list) == 0 {
		delete(r.byName, name)
		return
	}
	r.byName[name] = list
}

// deleteByID removes rec from its process's list by moving the last
// record into its place.
func (r *Registry) deleteByID(rec *record) {
	ids := r.byID[rec.id]
	last := ids[len(ids)-1]
	ids[rec.idPos] = last
	last.idPos = rec.idPos
	ids[len(ids)-1] = nil // let the removed record be collected
	if ids = ids[:len(ids)-1]; len(ids) == 0 {
		delete(r.byID, rec.id)
		return
	}
	r.byID[rec.id] = ids
}

// search finds v in a list sorted highest first. Compare ignores build
// metadata, which is what makes "1.2.0+a" and "1.2.0+b" the same key.
func search(list []*record, v *semver.Version) (int, bool) {
	return slices.BinarySearchFunc(list, v, func(rec *record, v *semver.Version) int {
		return v.Compare(rec.version)
	})
}

func sortEntries(es []Entry) {
	slices.SortFunc(es, func(a, b Entry) int {
		return cmp.Or(cmp.Compare(a.Name, b.Name), a.Version.Compare(b.Version))
	})
}
