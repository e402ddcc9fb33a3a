// Package environment describes the limits and permissions that every
// process spawned in a ward environment gets.
//
// An environment is a [Config]. A root environment comes from [Root], which
// fills in defaults and validates; every other environment comes from its
// parent through [Config.Narrow], which can only take away: less memory,
// less fuel, fewer processes, a subset of the host-function namespaces and of
// the WASI directories, and permissions only removed. That is what lets a
// host hand part of its authority to code it has not audited: whatever a
// child environment asks for, it never ends up with more than its parent.
//
// # Zero means inherit
//
// In a Config given to Root or Narrow, a field left at its zero value means
// "the same as the parent" (for Root: the default). Slices and maps use nil
// for that, so an empty but non-nil slice is a real value:
// Namespaces: []string{} allows no host functions at all. Permissions use
// the three-valued [Permission] instead of bool for the same reason: false
// cannot mean both "inherit" and "deny", and a root built from Config{}
// should be able to spawn processes.
//
// The Configs that Root and Narrow return are effective: no field is left at
// an inherit value, the directories are absolute, slices and maps are copies
// the caller does not share, and the runtime can read every field directly
// without knowing the rules above. Narrow refuses a parent that is not
// effective, so a hand-built Config cannot slip past the checks. Nothing in
// this package modifies a Config it is given, so goroutines may share an
// effective Config as long as none of them changes it.
//
// # Namespaces
//
// A namespace is a Wasm import module name, such as "ward_process" or
// "wasi_snapshot_preview1". An entry ending in "*" is a prefix pattern:
// "ward_*" allows every namespace beginning with "ward_". [Config.CheckImports]
// is what the runtime calls at spawn time so that a module importing a
// namespace the environment does not allow is refused before it runs, with
// an error naming the import.
//
// # Memory
//
// Every byte a guest can make the host hold is charged to a limit of its
// environment: MaxMemory for its instance, the mailbox, timer, link,
// monitor and name bounds for the rest, and MaxProcesses for how many
// processes hold all that at once. There is no budget for the total of an
// environment's processes, so the most they can hold is MaxProcesses times
// the per-process sum; docs/limits.md in the repository gives the formula
// and the per-entry costs. The defaults stop a runaway guest, not a hostile
// one: for untrusted guests, choose MaxProcesses and MaxMemory (and the
// smaller bounds) so that the sum fits the machine.
//
// # Host modules
//
// [Config.Host] holds host modules' configurations (package hostapi),
// keyed by namespace. Each is a [HostConfig] the module defines; Narrow
// narrows a child's entry with the parent's entry's own Narrow, so a
// module's settings (allow-lists, permissions) can only shrink down the
// tree, like the fields above.
//
// This package only describes environments; the runtime enforces them.
package environment
