package registry

import (
	"fmt"

	"github.com/Masterminds/semver/v3"
)

// ID identifies a process. It is an alias so that the runtime's process
// ids need no conversion.
type ID = uint64

// Entry is one registered name: a name at one exact version, held by one
// process.
type Entry struct {
	// Name is the registered name, unique per Version within a Registry.
	Name string
	// Version is the exact version the name was registered at. It is the
	// caller's own copy; changing it does not change the Registry.
	Version *semver.Version
	// ID is the process holding the name.
	ID ID
}

// String returns the entry as "name@version", the form used in logs and
// errors, for example "db@1.2.3".
func (e Entry) String() string {
	if e.Version == nil {
		return e.Name + "@?"
	}
	return e.Name + "@" + e.Version.String()
}

// record is the registry's own copy of an entry; it never leaves the
// package, so callers cannot mutate versions the sort order depends on.
type record struct {
	name    string
	version *semver.Version
	id      ID
	idPos   int  // index in Registry.byID[id]
	gone    bool // being removed by RemoveProcess
}

func (r *record) entry() Entry {
	v := *r.version
	return Entry{Name: r.name, Version: &v, ID: r.id}
}

// versionKey is the identity of a version for uniqueness: build metadata is
// dropped because it has no precedence (semver §10), so "1.2.0+a" and
// "1.2.0+b" compare equal and must not coexist.
func versionKey(v *semver.Version) string {
	if v.Prerelease() == "" {
		return fmt.Sprintf("%d.%d.%d", v.Major(), v.Minor(), v.Patch())
	}
	return fmt.Sprintf("%d.%d.%d-%s", v.Major(), v.Minor(), v.Patch(), v.Prerelease())
}
