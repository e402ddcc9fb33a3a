package environment

import (
	"io"
	"maps"
	"slices"
	"strings"
)

// Root returns the effective configuration of a root environment: c with
// every zero field replaced by its default (DefaultMaxMemory,
// DefaultMaxTotalMemory, UnlimitedFuel,
// DefaultNamespaces, DefaultMaxProcesses and the other Default bounds,
// Allow for every permission,
// io.Discard for the WASI writers) and its directories made absolute.
//
// The error, if any, wraps ErrInvalid and lists everything wrong with c:
// a MaxMemory that is not a whole number of pages or is above
// MaxWasm32Memory, a negative MaxProcesses or other bound, an empty or malformed
// namespace, a Permission value other than the three constants, WASI
// strings holding NUL, an Env key that is empty or holds "=", and Dirs
// with an empty HostPath or a GuestPath used twice. Directories need not
// exist yet: describing an environment touches no files, and whether a
// directory can be opened is for the runtime to find out when it opens it.
func Root(c Config) (Config, error) {
	out := c.clone()
	if out.MaxMemory == 0 {
		out.MaxMemory = DefaultMaxMemory
	}
	if out.MaxFuel == 0 {
		out.MaxFuel = UnlimitedFuel
	}
	if out.MaxWallTime == 0 {
		out.MaxWallTime = UnlimitedWallTime
	}
	if out.FuelScope == FuelInherit {
		out.FuelScope = FuelPerLife
	}
	if out.MaxTotalMemory == 0 {
		out.MaxTotalMemory = DefaultMaxTotalMemory
	}
	if out.Namespaces == nil {
		out.Namespaces = slices.Clone(DefaultNamespaces)
	}
	for _, b := range bounds {
		if v := b.of(&out); *v == 0 {
			*v = b.def
		}
	}
	out.Permissions = out.Permissions.rootDefaults()
	out.Host = rootHost(out.Host)
	out.WASI.Stdout = writerOr(out.WASI.Stdout, io.Discard)
	out.WASI.Stderr = writerOr(out.WASI.Stderr, io.Discard)

	dirs, err := normalizeDirs(out.WASI.Dirs)
	if err != nil {
		return Config{}, err
	}
	out.WASI.Dirs = dirs
	if err := out.validate(""); err != nil {
		return Config{}, err
	}
	return out, nil
}

// notEffective ends messages about fields that only a hand-built Config can
// get wrong, pointing at the fix.
const notEffective = " (an effective Config comes from Root or Narrow)"

// validate returns every problem of an effective Config, each wrapping
// ErrInvalid, with who ("" or "parent ") prefixed to the field names.
func (c Config) validate(who string) error {
	var p problems
	switch {
	case c.MaxMemory == 0:
		p.add(ErrInvalid, "%sMaxMemory is 0%s", who, notEffective)
	case c.MaxMemory > MaxWasm32Memory:
		p.add(ErrInvalid, "%sMaxMemory %d is more than a wasm32 memory can address (%d)", who, c.MaxMemory, uint64(MaxWasm32Memory))
	case c.MaxMemory%PageSize != 0:
		p.add(ErrInvalid, "%sMaxMemory %d is not a whole number of %d-byte Wasm pages (%d is)", who, c.MaxMemory, PageSize, max(c.MaxMemory/PageSize*PageSize, PageSize))
	}
	if c.MaxFuel == 0 {
		p.add(ErrInvalid, "%sMaxFuel is 0%s", who, notEffective)
	}
	switch c.FuelScope {
	case FuelPerLife, FuelPerMessage:
	case FuelInherit:
		p.add(ErrInvalid, "%sFuelScope is inherit%s", who, notEffective)
	default:
		p.add(ErrInvalid, "%sFuelScope %v is not FuelPerLife or FuelPerMessage", who, c.FuelScope)
	}
	switch {
	case c.MaxWallTime < 0:
		p.add(ErrInvalid, "%sMaxWallTime %v is negative", who, c.MaxWallTime)
	case c.MaxWallTime == 0:
		p.add(ErrInvalid, "%sMaxWallTime is 0%s", who, notEffective)
	}
	if c.MaxTotalMemory == 0 {
		p.add(ErrInvalid, "%sMaxTotalMemory is 0%s", who, notEffective)
	}
	for _, b := range bounds {
		switch v := *b.of(&c); {
		case v < 0:
			p.add(ErrInvalid, "%s%s %d is negative", who, b.name, v)
		case v == 0:
			p.add(ErrInvalid, "%s%s is 0%s", who, b.name, notEffective)
		}
	}
	if c.Namespaces == nil {
		p.add(ErrInvalid, "%sNamespaces is nil%s", who, notEffective)
	}
	for i, ns := range c.Namespaces {
		if problem := namespaceProblem(ns); problem != "" {
			p.add(ErrInvalid, "%sNamespaces[%d] %q %s", who, i, ns, problem)
		}
	}
	for _, perm := range c.Permissions.named() {
		switch perm.value {
		case Allow, Deny:
		case Inherit:
			p.add(ErrInvalid, "%sPermissions.%s is inherit%s", who, perm.name, notEffective)
		default:
			p.add(ErrInvalid, "%sPermissions.%s is %v, which is none of Inherit, Allow and Deny", who, perm.name, perm.value)
		}
	}
	c.WASI.validate(&p, who)
	return p.err()
}

// validate records what is wrong with the WASI part of an effective Config.
// The rules come from WASI passing args and environment as NUL-terminated
// strings, the environment as "KEY=VALUE".
func (w WASI) validate(p *problems, who string) {
	for i, arg := range w.Args {
		if strings.ContainsRune(arg, 0) {
			p.add(ErrInvalid, "%sWASI.Args[%d] %q contains NUL", who, i, arg)
		}
	}
	// Sorted so that the same Config always gives the same error.
	for _, key := range slices.Sorted(maps.Keys(w.Env)) {
		switch {
		case key == "":
			p.add(ErrInvalid, "%sWASI.Env has an empty key", who)
		case strings.ContainsAny(key, "=\x00"):
			p.add(ErrInvalid, "%sWASI.Env key %q contains \"=\" or NUL", who, key)
		}
		if strings.ContainsRune(w.Env[key], 0) {
			p.add(ErrInvalid, "%sWASI.Env[%q] contains NUL", who, key)
		}
	}
	validateDirs(p, who, w.Dirs)
	if w.Stdout == nil {
		p.add(ErrInvalid, "%sWASI.Stdout is nil%s", who, notEffective)
	}
	if w.Stderr == nil {
		p.add(ErrInvalid, "%sWASI.Stderr is nil%s", who, notEffective)
	}
}

// clone copies c's slices and maps, so that a caller changing what it
// passed in afterwards cannot change an environment in use. nil stays nil,
// because nil means inherit.
func (c Config) clone() Config {
	c.Namespaces = slices.Clone(c.Namespaces)
	c.WASI.Args = slices.Clone(c.WASI.Args)
	c.WASI.Env = maps.Clone(c.WASI.Env)
	c.WASI.Dirs = slices.Clone(c.WASI.Dirs)
	c.Host = maps.Clone(c.Host)
	return c
}

// writerOr returns w, or fallback if w is nil.
func writerOr(w, fallback io.Writer) io.Writer {
	if w == nil {
		return fallback
	}
	return w
}
