package guest

import (
	"unsafe"

	"github.com/wardrt/ward/internal/abi"
)

// Names are per environment: a process registers itself under a name at an
// exact semver version, and others in its environment look it up by name
// and a version constraint.

// Register gives this process name at an exact semver version ("1.4.2") in
// its environment; the name goes when the process ends. ErrTaken when
// another process holds that name and version, ErrInvalid for a malformed
// name (empty, or longer than 255 bytes) or version.
func Register(name, version string) error {
	st := wardRegister(addrStr(name), uint32(len(name)), addrStr(version), uint32(len(version)))
	if st != abi.OK {
		return fail("register "+quote(name)+" "+version, st)
	}
	return nil
}

// Unregister removes a name and version from this process's environment.
// ErrNotFound when it is not registered.
func Unregister(name, version string) error {
	st := wardUnregister(addrStr(name), uint32(len(name)), addrStr(version), uint32(len(version)))
	if st != abi.OK {
		return fail("unregister "+quote(name)+" "+version, st)
	}
	return nil
}

// Lookup returns the process registered under name with the highest
// version matching constraint: "^1.2", "~1.4.0", ">=2, <3", "1.0.0", or ""
// for any. ErrNotFound when none matches, ErrInvalid for a malformed
// constraint.
func Lookup(name, constraint string) (ProcessID, error) {
	var id uint64
	st := wardLookup(addrStr(name), uint32(len(name)), addrStr(constraint), uint32(len(constraint)),
		addr(unsafe.Pointer(&id)))
	if st != abi.OK {
		return 0, fail("lookup "+quote(name)+" "+quote(constraint), st)
	}
	return ProcessID(id), nil
}

// GetOrSpawn returns the process registered as name at exactly version,
// spawning the export entry of this module (no parameters) and registering
// it under that name and version if there is none. It is atomic: concurrent
// callers get the same process. Errors are Spawn's and Register's.
func GetOrSpawn(name, version, entry string) (ProcessID, error) {
	var id uint64
	st := wardGetOrSpawn(addrStr(name), uint32(len(name)), addrStr(version), uint32(len(version)),
		addrStr(entry), uint32(len(entry)), addr(unsafe.Pointer(&id)))
	if st != abi.OK {
		return 0, fail("get_or_spawn "+quote(name)+" "+version, st)
	}
	return ProcessID(id), nil
}
