package environment

import (
	"io"
	"math"
	"time"
)

// PageSize is the size of a WebAssembly linear-memory page. Memory grows
// only in whole pages, which is why MaxMemory must be a multiple of it.
const PageSize = 64 << 10

// MaxWasm32Memory is the most a wasm32 linear memory can address, and so
// the largest MaxMemory there is.
const MaxWasm32Memory = 4 << 30

// DefaultMaxMemory is a root environment's MaxMemory when none is given.
// It is ample for Go and C guests (a Go hello world uses about 2 MiB) and
// keeps one runaway process from taking a small machine's memory.
const DefaultMaxMemory = 256 << 20

// DefaultMaxTotalMemory is a root environment's MaxTotalMemory when none
// is given: what all its processes' memories may hold together, so that a
// spawn loop of memory bombs stops there instead of at the machine's end.
const DefaultMaxTotalMemory = 2 << 30

// DefaultMaxProcesses is a root environment's MaxProcesses when none is
// given. A parked process holds about 16-24 KiB of host memory, so this
// many hold well under 1 GiB: a runaway spawn loop fails instead of
// exhausting the host. Raise it for programs that park more.
const DefaultMaxProcesses = 32 << 10

// Defaults of the per-process bounds on what a process can make the host
// hold besides its memory. See Config for what each bounds.
const (
	DefaultMaxMailboxMessages  = 100_000
	DefaultMaxMailboxBytes     = 16 << 20
	DefaultMaxTimers           = 10_000
	DefaultMaxTimerBytes       = 16 << 20
	DefaultMaxLinks            = 10_000
	DefaultMaxMonitors         = 10_000
	DefaultMaxNames            = 64
	DefaultMaxEnvironmentNames = 10_000
	DefaultMaxModuleBytes      = 16 << 20
	DefaultMaxHandles          = 256
)

// UnlimitedFuel is the MaxFuel of an environment without a fuel limit. It is
// a number rather than 0 so that the runtime can hand MaxFuel to the engine
// as is: 0 would mean "no fuel at all" to an engine, and at any plausible
// speed this much fuel outlasts the host.
const UnlimitedFuel = math.MaxUint64

// UnlimitedWallTime is the MaxWallTime of an environment without a wall-clock
// limit.
const UnlimitedWallTime time.Duration = math.MaxInt64

// DefaultNamespaces is a root environment's Namespaces when none is given:
// ward's own host functions and WASI preview 1. Root copies it, so changing
// it later does not affect environments already made.
var DefaultNamespaces = []string{"ward_*", "wasi_snapshot_preview1"}

// Config is the set of limits and permissions that every process spawned in
// an environment gets. Zero fields inherit; see the package documentation.
type Config struct {
	// MaxMemory is the most memory, in bytes, one process's instance may
	// have: its linear memories and tables together. It must be a whole
	// number of pages (PageSize) and at most MaxWasm32Memory; a limit
	// between pages would not be the limit enforced, so it is refused
	// rather than silently rounded. 0 means inherit (for a root:
	// DefaultMaxMemory).
	//
	// The rule that makes it count the whole instance: a process has at
	// most one linear memory, which may grow to MaxMemory, and at most two
	// tables of at most 65,536 elements each, which hold at most 1 MiB
	// more (8 bytes an element). A module declaring more memories or
	// tables, or a larger table, is refused at spawn with an error
	// matching runtime.ErrMemoryLimit. (Go guests have one table of a few
	// thousand entries.)
	MaxMemory uint64

	// MaxTotalMemory is the most memory, in bytes, that the processes of
	// the environment and of its child environments hold together: their
	// linear memories as they grow, and their tables' limits. A
	// memory.grow past it fails (the guest sees -1, as at MaxMemory), and
	// a spawn whose initial memory does not fit fails with a
	// memory-limit error. 0 means inherit (for a root:
	// DefaultMaxTotalMemory).
	MaxTotalMemory uint64

	// MaxFuel is the fuel (roughly: Wasm instructions) one process may burn
	// in its whole life, or on each message with FuelScope FuelPerMessage.
	// 0 means inherit (for a root: UnlimitedFuel). A process that runs out
	// ends with runtime.ErrOutOfFuel. runtime.Process.FuelUsed reads what
	// it has burned.
	MaxFuel uint64

	// FuelScope says whether MaxFuel is per life (the default) or per
	// message, for long-lived servers.
	FuelScope FuelScope

	// MaxWallTime is how long one process may live, by the wall clock,
	// from its spawn: past it, the runtime kills it with a reason of its
	// own (runtime.TimeLimitError), whether it is running, waiting or
	// parked. It bounds what fuel cannot: a process that waits forever
	// burns none. 0 means inherit (for a root: UnlimitedWallTime);
	// negative values are refused.
	MaxWallTime time.Duration

	// Namespaces lists the host-function namespaces processes may import.
	// An entry ending in "*" is a prefix pattern ("ward_*"); a "*" anywhere
	// else is refused. nil means inherit (for a root: DefaultNamespaces); an
	// empty non-nil slice allows none.
	Namespaces []string

	// MaxProcesses bounds the processes alive at once in this environment,
	// counting those of its child environments. 0 means inherit (for a
	// root: DefaultMaxProcesses); negative values are refused.
	MaxProcesses int

	// The bounds below are on what one process can make the host hold
	// besides its memory; with MaxMemory and MaxProcesses they bound all
	// an environment's processes can make the host hold (docs/limits.md
	// has the sum). Each is a count or a number of bytes; 0 means inherit
	// (for a root: its Default), negative values are refused, and a child
	// may only lower them.

	// MaxMailboxMessages bounds the messages queued for one process.
	MaxMailboxMessages int
	// MaxMailboxBytes bounds the message bytes queued for one process.
	MaxMailboxBytes int
	// MaxTimers bounds the pending timers (send_after) one process has
	// set; an environment holds at most this many per process it may run
	// (MaxProcesses), counting its child environments', since a timer
	// outlives its setter.
	MaxTimers int
	// MaxTimerBytes bounds the message bytes of the pending timers one
	// process has set; an environment holds at most this many per process
	// it may run, as for MaxTimers.
	MaxTimerBytes int
	// MaxLinks bounds the links one process has.
	MaxLinks int
	// MaxMonitors bounds the monitors one process holds on others (a
	// request's watch of its target aside: there is one at most).
	MaxMonitors int
	// MaxNames bounds the registry entries (name and version) one process
	// holds.
	MaxNames int
	// MaxEnvironmentNames bounds the registry entries of the environment,
	// counting those of its child environments.
	MaxEnvironmentNames int
	// MaxModuleBytes bounds the Wasm bytes of one module a process
	// compiles (ward_module.load; Permissions.CompileModules).
	MaxModuleBytes int
	// MaxHandles bounds the module and environment handles one process
	// holds (ward_module.load and take, ward_environment.create). What
	// each holds is charged to MaxTotalMemory besides.
	MaxHandles int

	// Permissions are the things a process may do beyond calling allowed
	// host functions.
	Permissions Permissions

	// RequireVerified refuses to spawn, here and in every environment
	// below, a module that was not verified when it was loaded (loaded
	// with runtime.Runtime.Load and runtime.Verify, rather than
	// LoadModule); the spawn fails with an error matching
	// runtime.ErrUnverified. false means inherit: a child of an
	// environment that requires verified modules requires them too, and
	// cannot turn the requirement off.
	RequireVerified bool

	// WASI configures wasi_snapshot_preview1 for processes that import it.
	WASI WASI

	// Host holds host modules' configurations (package hostapi), keyed
	// by the module's namespace: what each lets processes here do. A nil
	// map or entry inherits the parent's; a root without one takes the
	// module's default, which grants nothing unless the module says
	// otherwise (the runtime fills it in). A child's entry is narrowed by
	// the parent's HostConfig.Narrow, so it can only ask for less.
	Host map[string]HostConfig
}

// Permissions are the things a process may do beyond calling allowed host
// functions. Each is a three-valued Permission so that the zero value can
// inherit: a root grants Spawn and withholds the others unless told
// otherwise, and a child keeps its parent's unless it says Deny.
type Permissions struct {
	// Spawn lets a process start other processes.
	Spawn Permission
	// CreateEnvironments lets a process create child environments
	// (ward_environment.create), which are always narrower than its own.
	CreateEnvironments Permission
	// CompileModules lets a process compile new Wasm modules from bytes
	// (ward_module.load), rather than only spawn modules the host already
	// compiled, within MaxModuleBytes, MaxHandles and MaxTotalMemory. A
	// process without it may still spawn from a module another process
	// compiled and sent it the handle of.
	CompileModules Permission
}

// WASI configures wasi_snapshot_preview1 for processes that import it.
type WASI struct {
	// Args are the command-line arguments processes see. nil means
	// inherit; a non-nil slice replaces the parent's. They may not contain
	// NUL, which WASI uses as a terminator.
	Args []string

	// Env holds the environment variables processes see. nil means
	// inherit; a non-nil map replaces the parent's whole (copy the
	// parent's map to add to it). Keys must be non-empty and contain
	// neither "=" nor NUL, and values no NUL, because WASI passes them as
	// NUL-terminated "KEY=VALUE" strings.
	Env map[string]string

	// Dirs are the host directories preopened for processes. nil means
	// inherit; a non-nil slice replaces the parent's, and in a child every
	// directory must be one of the parent's or inside one of them.
	Dirs []Dir

	// Stdout receives what processes write to standard output. nil means
	// inherit (for a root: discarded, so an effective Config holds
	// io.Discard). Every process that inherits it writes to the same
	// Writer, so it should be safe for concurrent use. A process's output
	// has reached it when the process's Wait returns. A Writer may be
	// slow or block: ward buffers up to 1 MiB of output per environment
	// and stream for it and drops what comes beyond
	// (runtime.Environment.WASIOutputDropped counts it), so that a
	// guest's write never waits for the Writer.
	Stdout io.Writer

	// Stderr is Stdout's counterpart for standard error.
	Stderr io.Writer
}

// Dir is a host directory preopened for processes.
type Dir struct {
	// HostPath is the directory on the host. Root and Narrow make it
	// absolute and clean, so that whether one directory lies inside another
	// does not depend on how it was spelled or on the working directory at
	// spawn time. It must not be empty.
	HostPath string

	// GuestPath is the name processes see it under. Empty means HostPath as
	// written, cleaned and with forward slashes, which is what the wasmtime
	// command line does (so HostPath "." gives the conventional "." preopen).
	// Two Dirs of one environment may not share a GuestPath.
	GuestPath string
}
