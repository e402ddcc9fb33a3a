package environment

import (
	"cmp"
	"maps"
	"slices"
	"strconv"
	"time"
)

// Narrow returns the effective configuration of a child environment of
// parent. parent must be effective (from Root or Narrow); child follows the
// same zero-means-inherit rules as for Root, except that inheriting takes
// the parent's value rather than the default.
//
// Every field the child sets must be at most the parent's: MaxMemory,
// MaxTotalMemory, MaxFuel, MaxProcesses and the other bounds no larger; Namespaces each covered by the
// parent's (a pattern only by a parent pattern with a shorter or equal
// prefix); a Permission may be Deny, or Allow only where the parent
// allows; each of WASI.Dirs the same directory as one of the parent's or
// inside one, compared by whole path elements after making both absolute
// ("/data/in" is inside "/data", "/database" is not). RequireVerified
// needs no check: a child may set it, and the parent's true is kept
// whatever the child says. Asking for more is an
// error wrapping ErrWiden that names the field and both values, rather than
// a silent cut back to the parent's, because a child that asked for more
// than it can have is a mistake worth hearing about.
//
// Each Host entry the child sets is narrowed by the parent's entry for the
// same namespace (HostConfig.Narrow), whose errors are listed like the
// others; an entry for a namespace the parent has none for is a widening.
//
// WASI.Args and WASI.Env grant no authority, so a child that sets them
// simply replaces the parent's; nil WASI.Stdout and WASI.Stderr inherit the
// parent's writers (set io.Discard to silence a child).
//
// The error lists every problem at once; each wraps ErrWiden, or ErrInvalid
// for a child value that is wrong whatever the parent or for a parent that
// is not effective.
func (parent Config) Narrow(child Config) (Config, error) {
	if err := parent.validate("parent "); err != nil {
		return Config{}, err
	}
	child = child.clone()
	out := Config{
		MaxMemory:      cmp.Or(child.MaxMemory, parent.MaxMemory),
		MaxFuel:        cmp.Or(child.MaxFuel, parent.MaxFuel),
		MaxWallTime:    cmp.Or(child.MaxWallTime, parent.MaxWallTime),
		FuelScope:      cmp.Or(child.FuelScope, parent.FuelScope),
		MaxTotalMemory: cmp.Or(child.MaxTotalMemory, parent.MaxTotalMemory),
		Namespaces:     child.Namespaces,
		// true is the narrower value, and false means inherit, so a
		// child can add the requirement but never drop it.
		RequireVerified: child.RequireVerified || parent.RequireVerified,
		Permissions: Permissions{
			Spawn:              cmp.Or(child.Permissions.Spawn, parent.Permissions.Spawn),
			CreateEnvironments: cmp.Or(child.Permissions.CreateEnvironments, parent.Permissions.CreateEnvironments),
			CompileModules:     cmp.Or(child.Permissions.CompileModules, parent.Permissions.CompileModules),
		},
		WASI: WASI{
			Args:   child.WASI.Args,
			Env:    child.WASI.Env,
			Stdout: writerOr(child.WASI.Stdout, parent.WASI.Stdout),
			Stderr: writerOr(child.WASI.Stderr, parent.WASI.Stderr),
		},
	}
	for _, b := range bounds {
		*b.of(&out) = cmp.Or(*b.of(&child), *b.of(&parent))
	}
	if out.Namespaces == nil {
		out.Namespaces = slices.Clone(parent.Namespaces)
	}
	if out.WASI.Args == nil {
		out.WASI.Args = slices.Clone(parent.WASI.Args)
	}
	if out.WASI.Env == nil {
		out.WASI.Env = maps.Clone(parent.WASI.Env)
	}
	if child.WASI.Dirs == nil {
		out.WASI.Dirs = slices.Clone(parent.WASI.Dirs)
	} else {
		dirs, err := normalizeDirs(child.WASI.Dirs)
		if err != nil {
			return Config{}, err
		}
		out.WASI.Dirs = dirs
	}

	// Inherited values are the parent's, already valid and not wider, so
	// these checks can only find fault with what the child set.
	if err := out.validate(""); err != nil {
		return Config{}, err
	}
	var hp problems
	out.Host = narrowHost(&hp, parent.Host, child.Host)
	if err := parent.widenings(out); err != nil {
		hp = append(problems{err}, hp...)
	}
	if err := hp.err(); err != nil {
		return Config{}, err
	}
	return out, nil
}

// widenings returns every way in which out, a valid effective Config, has
// more than parent, each wrapping ErrWiden.
func (parent Config) widenings(out Config) error {
	var p problems
	if out.MaxMemory > parent.MaxMemory {
		p.add(ErrWiden, "MaxMemory %d is more than the parent's %d", out.MaxMemory, parent.MaxMemory)
	}
	if out.MaxTotalMemory > parent.MaxTotalMemory {
		p.add(ErrWiden, "MaxTotalMemory %d is more than the parent's %d", out.MaxTotalMemory, parent.MaxTotalMemory)
	}
	if out.MaxFuel > parent.MaxFuel {
		p.add(ErrWiden, "MaxFuel %s is more than the parent's %s", fuel(out.MaxFuel), fuel(parent.MaxFuel))
	}
	if out.FuelScope == FuelPerMessage && parent.FuelScope != FuelPerMessage {
		p.add(ErrWiden, "FuelScope is per message but the parent's is %v: a refill per message is more fuel", parent.FuelScope)
	}
	if out.MaxWallTime > parent.MaxWallTime {
		p.add(ErrWiden, "MaxWallTime %v is more than the parent's %s", out.MaxWallTime, wallTime(parent.MaxWallTime))
	}
	for _, b := range bounds {
		if o, par := *b.of(&out), *b.of(&parent); o > par {
			p.add(ErrWiden, "%s %d is more than the parent's %d", b.name, o, par)
		}
	}

	var extra []string
	for _, ns := range out.Namespaces {
		if !covered(parent.Namespaces, ns) {
			extra = append(extra, ns)
		}
	}
	if extra != nil {
		p.add(ErrWiden, "Namespaces %q allow more than the parent's %q: %q", out.Namespaces, parent.Namespaces, extra)
	}

	parentPerms := parent.Permissions.named()
	for i, perm := range out.Permissions.named() {
		if perm.value == Allow && parentPerms[i].value != Allow {
			p.add(ErrWiden, "Permissions.%s is %v but the parent's is %v", perm.name, perm.value, parentPerms[i].value)
		}
	}

	parentDirs := hostPaths(parent.WASI.Dirs)
	for i, d := range out.WASI.Dirs {
		inside := slices.ContainsFunc(parentDirs, func(parentDir string) bool {
			return within(d.HostPath, parentDir)
		})
		if !inside {
			p.add(ErrWiden, "WASI.Dirs[%d] HostPath %q is not inside any of the parent's %q", i, d.HostPath, parentDirs)
		}
	}
	return p.err()
}

// wallTime formats a MaxWallTime for an error message.
func wallTime(d time.Duration) string {
	if d == UnlimitedWallTime {
		return "unlimited"
	}
	return d.String()
}

// fuel formats a MaxFuel for an error message.
func fuel(f uint64) string {
	if f == UnlimitedFuel {
		return "unlimited"
	}
	return strconv.FormatUint(f, 10)
}
