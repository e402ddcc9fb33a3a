package registry

import (
	"errors"
	"fmt"
	"strings"

	"github.com/Masterminds/semver/v3"
)

// Errors returned by the Registry. They are wrapped with detail (which name,
// which process), so test for them with errors.Is.
var (
	// ErrTaken means the name is already registered at that exact version,
	// or a GetOrSpawn for it is in progress. The message names the holder.
	ErrTaken = errors.New("ward: name taken")
	// ErrNotFound means no entry matches the name and version or constraint.
	ErrNotFound = errors.New("ward: name not found")
	// ErrBadVersion means a version or constraint did not parse; the
	// semver error is wrapped too.
	ErrBadVersion = errors.New("ward: bad version")
	// ErrBadName means a name is empty, longer than MaxNameLen bytes, or
	// contains a NUL byte.
	ErrBadName = errors.New("ward: bad name")
)

// MaxNameLen is the longest name, in bytes, the Registry accepts. Names end
// up in logs and, through the host API, in guest memory; a bound keeps a
// misbehaving guest from registering megabyte-long names.
const MaxNameLen = 255

func checkName(name string) error {
	switch {
	case name == "":
		return fmt.Errorf("%w: empty", ErrBadName)
	case len(name) > MaxNameLen:
		return fmt.Errorf("%w: %d bytes, more than %d", ErrBadName, len(name), MaxNameLen)
	}
	// NUL would truncate the name when it crosses into C (wasmtime) or a
	// guest's C strings, making two distinct names print alike.
	if i := strings.IndexByte(name, 0); i >= 0 {
		return fmt.Errorf("%w: %q contains NUL at byte %d", ErrBadName, name, i)
	}
	return nil
}

func parseVersion(version string) (*semver.Version, error) {
	v, err := semver.NewVersion(version)
	if err != nil {
		return nil, fmt.Errorf("%w %q: %w", ErrBadVersion, version, err)
	}
	return v, nil
}

func parseConstraint(constraint string) (*semver.Constraints, error) {
	// semver rejects "", but callers use it to mean "any version"; "*"
	// keeps the pre-release rule, so "" and "*" behave identically.
	if strings.TrimSpace(constraint) == "" {
		constraint = "*"
	}
	c, err := semver.NewConstraint(constraint)
	if err != nil {
		return nil, fmt.Errorf("%w: constraint %q: %w", ErrBadVersion, constraint, err)
	}
	return c, nil
}
