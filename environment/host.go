package environment

import (
	"errors"
	"maps"
	"slices"
	"strings"
)

// HostConfig is the configuration of one host module (package hostapi)
// in an environment: what the module lets that environment's processes do,
// such as which hosts they may connect to. The module defines it; the
// environment only keeps it and narrows it like its other limits. It is
// declared here, not in hostapi, so that environment depends on nothing of
// ward's.
//
// A HostConfig must be immutable once in an environment (processes read
// it concurrently): Narrow returns a new value rather than changing one.
type HostConfig interface {
	// Narrow returns the effective configuration of a child environment
	// whose Config asks for child, the receiver being the parent's. A
	// child that asks for more than the parent has is an error wrapping
	// ErrWiden that says what; a child that makes no sense on its own, one
	// wrapping ErrInvalid. child is never nil (nil inherits the parent's
	// without a call), but it may be another module's type: refuse that as
	// invalid.
	Narrow(child HostConfig) (HostConfig, error)

	// Permits reports whether processes of the environment may call the
	// module's functions that need permission (hostapi.Func.Permission).
	Permits(permission string) bool
}

// rootHost copies a root's host configurations, dropping nil entries (nil
// means "none" there as anywhere).
func rootHost(h map[string]HostConfig) map[string]HostConfig {
	if len(h) == 0 {
		return nil
	}
	out := maps.Clone(h)
	maps.DeleteFunc(out, func(_ string, c HostConfig) bool { return c == nil })
	return out
}

// narrowHost returns a child's host configurations: the parent's, with
// each that the child sets narrowed by the parent's own Narrow. Problems
// are added to p: a configuration for a module the parent has none for is
// a widening, since the parent's processes may use nothing of it.
func narrowHost(p *problems, parent, child map[string]HostConfig) map[string]HostConfig {
	out := maps.Clone(parent)
	for _, ns := range slices.Sorted(maps.Keys(child)) { // sorted: the same Config gives the same error
		c := child[ns]
		if c == nil {
			continue // inherit
		}
		pc := parent[ns]
		if pc == nil {
			p.add(ErrWiden, "Host[%q] is set but the parent has no configuration for that module (set it in the root, or register the module, whose default the root takes)", ns)
			continue
		}
		nc, err := pc.Narrow(c)
		switch {
		case err != nil:
			kind := ErrInvalid
			if errors.Is(err, ErrWiden) {
				kind = ErrWiden
			}
			msg := strings.TrimPrefix(err.Error(), "ward: ")
			msg = strings.TrimPrefix(msg, strings.TrimPrefix(kind.Error(), "ward: ")+": ")
			p.add(kind, "Host[%q]: %s", ns, msg)
			continue
		case nc == nil:
			p.add(ErrInvalid, "Host[%q]: the module's Narrow returned no configuration", ns)
			continue
		}
		if out == nil {
			out = map[string]HostConfig{}
		}
		out[ns] = nc
	}
	return out
}
