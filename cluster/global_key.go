package cluster

import (
	"encoding/base64"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/Masterminds/semver/v3"
	"github.com/fxamacker/cbor/v2"
	"github.com/wardrt/ward/internal/errs"
)

// maxGlobalName bounds a global name, as registry.MaxNameLen bounds a
// local one: names end up in keys, logs and guest memory.
const maxGlobalName = 255

// keyEnc encodes names and versions into KV keys. KV keys allow only
// [-/_=.a-zA-Z0-9] and use "." to separate tokens, so any name (spaces,
// dots, "*", ">", non-ASCII) is encoded; base64url without padding uses
// only letters, digits, '-' and '_'.
var keyEnc = base64.RawURLEncoding

// globalKey is the KV key of name at version: "g.<name>.<version>", both
// encoded. The version part is the version without build metadata, so
// "1.2.0+a" and "1.2.0+b" are one key, as in package registry: semver
// gives build metadata no precedence, and a constraint could not choose.
func globalKey(name string, v *semver.Version) string {
	return "g." + keyEnc.EncodeToString([]byte(name)) + "." + keyEnc.EncodeToString([]byte(versionKey(v)))
}

// versionKey is the identity of a version for uniqueness (see globalKey).
func versionKey(v *semver.Version) string {
	if v.Prerelease() == "" {
		return fmt.Sprintf("%d.%d.%d", v.Major(), v.Minor(), v.Patch())
	}
	return fmt.Sprintf("%d.%d.%d-%s", v.Major(), v.Minor(), v.Patch(), v.Prerelease())
}

// globalRecord is the value stored under a key. A record with PID 0 is a
// placeholder: GetOrSpawn on Node won the key and is spawning.
type globalRecord struct {
	Name    string `cbor:"1,keyasint"`
	Version string `cbor:"2,keyasint"`
	PID     uint64 `cbor:"3,keyasint,omitempty"` // qualified with its node; 0: being spawned
	// Node is where the process lives (or is being spawned): the node
	// whose janitor removes the name when the process ends, and whose
	// loss makes the survivors remove it.
	Node uint16 `cbor:"4,keyasint"`
	// Token tells one GetOrSpawn call's placeholder from another's.
	Token uint64 `cbor:"5,keyasint,omitempty"`
}

func (r *globalRecord) placeholder() bool { return r.PID == 0 }

func (r *globalRecord) encode() ([]byte, error) {
	b, err := cbor.Marshal(r)
	if err != nil {
		return nil, errs.Wrap(err, "encoding the global registry record of %s@%s", r.Name, r.Version)
	}
	return b, nil
}

// decodeRecord reads a value; a value that does not decode, or names a
// key other than its own, is not ours (someone else wrote to the bucket)
// and is ignored.
func decodeRecord(key string, b []byte) (*globalRecord, *semver.Version, bool) {
	var r globalRecord
	if err := cbor.Unmarshal(b, &r); err != nil {
		return nil, nil, false
	}
	v, err := semver.NewVersion(r.Version)
	if err != nil || checkGlobalName(r.Name) != nil || globalKey(r.Name, v) != key {
		return nil, nil, false
	}
	return &r, v, true
}

// entryKey checks what Register, Unregister and GetOrSpawn are given: a
// registry still open, a good name and an exact version, which it returns.
func (g *Global) entryKey(name, version string) (*semver.Version, error) {
	if err := g.closedErr(); err != nil {
		return nil, err
	}
	if err := checkGlobalName(name); err != nil {
		return nil, err
	}
	return parseGlobalVersion(version)
}

// checkGlobalName applies package registry's rules for names.
func checkGlobalName(name string) error {
	switch {
	case name == "":
		return fmt.Errorf("%w: empty", ErrBadName)
	case len(name) > maxGlobalName:
		return fmt.Errorf("%w: %d bytes, more than %d", ErrBadName, len(name), maxGlobalName)
	case strings.IndexByte(name, 0) >= 0:
		// NUL would truncate the name where it crosses into C strings.
		return fmt.Errorf("%w: %q contains NUL", ErrBadName, name)
	}
	return nil
}

func parseGlobalVersion(version string) (*semver.Version, error) {
	v, err := semver.NewVersion(version)
	if err != nil {
		return nil, fmt.Errorf("%w %q: %w", ErrBadVersion, version, err)
	}
	return v, nil
}

// parseGlobalConstraint reads a constraint as package registry does: ""
// means "*", any version that is not a pre-release.
func parseGlobalConstraint(constraint string) (*semver.Constraints, error) {
	if c, ok := constraints.Load(constraint); ok {
		return c.(*semver.Constraints), nil
	}
	s := constraint
	if strings.TrimSpace(s) == "" {
		s = "*"
	}
	c, err := semver.NewConstraint(s)
	if err != nil {
		return nil, fmt.Errorf("%w: constraint %q: %w", ErrBadVersion, constraint, err)
	}
	if constraintsHeld.Add(1) <= maxConstraints {
		constraints.Store(constraint, c)
	}
	return c, nil
}

// Parsing a constraint (regular expressions) costs more than the cached
// lookup it serves, and programs ask with a few constraints over and
// over: parsed ones are kept, up to maxConstraints so that callers who
// make up constraints cannot grow the map without bound. A Constraints
// is only read after parsing, so sharing one is safe.
const maxConstraints = 1024

var (
	constraints     sync.Map // string -> *semver.Constraints
	constraintsHeld atomic.Int32
)

// exactGlobalVersion returns the version a constraint names exactly
// ("1.2.3", "=v1.2.3"), or nil for a range: only an exact version has one
// key to read from the KV when the cache misses.
func exactGlobalVersion(constraint string) *semver.Version {
	s := strings.TrimSpace(constraint)
	s = strings.TrimSpace(strings.TrimPrefix(s, "="))
	v, err := semver.StrictNewVersion(strings.TrimPrefix(s, "v"))
	if err != nil {
		return nil
	}
	return v
}
