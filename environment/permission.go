package environment

import "fmt"

// Permission is one permission of an environment: Inherit, Allow or Deny.
// It is not a bool because the zero value has to mean "inherit", like every
// other zero field of a Config, while a root must still be able to grant by
// default. An effective Config (from Root or Narrow) holds only Allow or
// Deny.
type Permission uint8

const (
	// Inherit takes the parent's value; in a root it means Allow for Spawn
	// and Deny for the others (Permissions.rootDefaults).
	Inherit Permission = iota
	// Allow grants the permission. A child may only ask for it if its
	// parent has it.
	Allow
	// Deny withholds the permission. A child may always ask for it.
	Deny
)

// Allowed reports whether p grants the permission. Only Allow does, so a
// Config that never went through Root or Narrow fails closed.
func (p Permission) Allowed() bool { return p == Allow }

// String returns "inherit", "allow" or "deny".
func (p Permission) String() string {
	switch p {
	case Inherit:
		return "inherit"
	case Allow:
		return "allow"
	case Deny:
		return "deny"
	}
	return fmt.Sprintf("Permission(%d)", uint8(p))
}

// rootDefaults resolves Inherit: a root grants Spawn, which guests need
// for the actor model and which MaxProcesses bounds, and withholds what
// reaches further into the host: compiling (the compiler is attack
// surface, and its CPU is not fuel) and making environments. The host
// grants those by asking for them.
func (ps Permissions) rootDefaults() Permissions {
	or := func(p, def Permission) Permission {
		if p == Inherit {
			return def
		}
		return p
	}
	return Permissions{
		Spawn:              or(ps.Spawn, Allow),
		CreateEnvironments: or(ps.CreateEnvironments, Deny),
		CompileModules:     or(ps.CompileModules, Deny),
	}
}

// named lists the permissions with their field names, so that validation
// and narrowing treat all of them alike and cannot forget one.
func (ps Permissions) named() []namedPermission {
	return []namedPermission{
		{"Spawn", ps.Spawn},
		{"CreateEnvironments", ps.CreateEnvironments},
		{"CompileModules", ps.CompileModules},
	}
}

type namedPermission struct {
	name  string
	value Permission
}
