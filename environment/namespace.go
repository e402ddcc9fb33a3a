package environment

import (
	"fmt"
	"slices"
	"strings"
)

// Import is one import of a Wasm module: the namespace (module name) and
// the name within it.
type Import struct {
	Module, Name string
}

// String returns the import as "module"."name", quoted because Wasm names
// may hold any characters.
func (i Import) String() string { return fmt.Sprintf("%q.%q", i.Module, i.Name) }

// Allows reports whether processes in the environment may import from
// namespace. A Config with nil Namespaces (one that did not come from Root
// or Narrow) allows nothing.
func (c Config) Allows(namespace string) bool {
	return slices.ContainsFunc(c.Namespaces, func(pattern string) bool {
		return matches(pattern, namespace)
	})
}

// CheckImports returns a *DeniedError for the first import whose namespace
// the environment does not allow, or nil if it allows them all. The runtime
// calls it before instantiating, so a module is refused at spawn rather than
// failing on its first host call.
func (c Config) CheckImports(imports []Import) error {
	for _, imp := range imports {
		if !c.Allows(imp.Module) {
			return &DeniedError{Import: imp, Allowed: slices.Clone(c.Namespaces)}
		}
	}
	return nil
}

// matches reports whether one Namespaces entry allows namespace.
func matches(pattern, namespace string) bool {
	if prefix, ok := strings.CutSuffix(pattern, "*"); ok {
		return strings.HasPrefix(namespace, prefix)
	}
	return pattern == namespace
}

// covered reports whether entry, a name or a pattern, allows nothing that
// the parent entries do not. A pattern is covered only by a pattern with a
// prefix of its prefix: the parent's exact names cannot cover it, because
// the pattern matches names the parent never listed.
func covered(parent []string, entry string) bool {
	prefix, isPattern := strings.CutSuffix(entry, "*")
	if !isPattern {
		return slices.ContainsFunc(parent, func(p string) bool { return matches(p, entry) })
	}
	return slices.ContainsFunc(parent, func(p string) bool {
		parentPrefix, ok := strings.CutSuffix(p, "*")
		return ok && strings.HasPrefix(prefix, parentPrefix)
	})
}

// namespaceProblem explains what is wrong with a Namespaces entry, or
// returns "" if nothing is.
func namespaceProblem(entry string) string {
	switch i := strings.IndexByte(entry, '*'); {
	case entry == "":
		return "is empty"
	case i >= 0 && i != len(entry)-1:
		return `has a "*" before its end; only prefix patterns such as "ward_*" are supported`
	}
	return ""
}
