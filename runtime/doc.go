// Package runtime runs WebAssembly modules as Erlang-style processes.
//
// A Runtime owns a wasmtime engine, the modules compiled for it and every
// process it runs. Each process is its own Wasm instance, with its own
// linear memory, globals and tables: a process can trap, loop or exhaust
// its memory without affecting any other, and the host survives all of it.
// (A wasmtime store, the container of instances, is reused by later
// processes of the same module once a process returned in it: about half
// the cost of a short process. Nothing of the earlier instance is reachable
// from the next; docs/security.md says why.)
//
//	rt, _ := runtime.New()
//	defer rt.Close(ctx)
//	mod, _ := rt.LoadModule(ctx, "plugin", wasmBytes)
//	p, _ := rt.Environment().Spawn(ctx, mod, "run", runtime.I32(42))
//	reason, _ := p.Wait(ctx) // runtime.Normal, runtime.Killed, *runtime.TrapError, ...
//
// # Modules
//
// LoadModule compiles bytes once while anything uses their code, and
// returns a handle of its own each time. Module.Close retires a handle:
// it spawns no more, processes already running from it run on, and the
// compiled code is freed when its last handle is closed and its last
// process has ended, so a program that loads and retires plugins for days
// holds only the code still in use.
//
// # Loading modules from elsewhere
//
// Runtime.Load reads a module from a module.Source (bytes, a file, an
// io.Reader, an HTTP(S) URL), bounded in size (WithMaxModuleSize,
// MaxModuleSize) and by its ctx, and with Verify checks it before
// compiling: an ed25519 signature by a trusted key, or a pinned SHA-256
// (package module). Module.Verified says what vouched for a module, and an
// environment with RequireVerified refuses to spawn modules nothing
// vouched for (ErrUnverified).
//
// Guests whose environment has Permissions.CompileModules compile modules
// too (ward_module.load), and hold them by handle: an unguessable token
// they may send to another process, which takes it to hold the module as
// well. A guest's handles go when it drops them or ends, and the code with
// the last of them and of the processes running it. Each held module is
// charged to its holder's environment (MaxHandles, MaxModuleBytes,
// MaxTotalMemory); docs/limits.md has the figures.
//
// # Environments
//
// Processes run in an Environment, which sets their limits (memory, fuel,
// allowed host-function namespaces, processes alive at once, WASI setup;
// see package environment). Environments nest, and a child can only narrow
// its parent.
//
// An environment ends when Environment.Close is called (its processes and
// its children's are killed, and later spawns fail with
// ErrEnvironmentClosed) or when nothing refers to it any more: no process
// runs in it and the program holds no pointer to it. Either way it then
// gives back what it holds, such as the resources behind its WASI output
// Writers, so a program may make an environment per request or per plugin.
// Dropped environments are released after a garbage collection; Close
// releases at once. The root environment ends with its Runtime. A guest
// with Permissions.CreateEnvironments makes children of its own
// environment the same way (ward_environment.create), to spawn into.
//
// Once Runtime.Close has been called, every call that would act (spawn,
// send, request, register, look up, load a module, make an environment)
// fails with an error matching ErrClosed.
//
// Each environment has its own registry of names with semver versions
// (Environment.Register, Lookup, GetOrSpawn, and ward_registry for guests).
// Its entries are host memory a guest can make the host hold, so they are
// bounded per process by MaxNames and per environment, counting its child
// environments', by MaxEnvironmentNames; past either, registering fails
// with ErrTooManyNames (ErrLimit for guests), and an entry's charge goes
// with it: unregistered, its process ended, or its get-or-spawn failed.
//
// # Execution model
//
// Every process is a goroutine driving a wasmtime call on a fiber (a
// separate machine stack). When the guest waits (sleep, receive, any host
// call that needs Go) the fiber suspends and the goroutine parks with no
// cgo frame on its stack, so a parked process costs a goroutine and a
// little memory, not an OS thread. At most GOMAXPROCS processes run guest
// code at once; every epoch (1 ms by default) a running guest yields, so a
// guest that never returns cannot starve the others, and Kill takes effect
// within about one epoch.
//
// Two shortcuts keep messaging off that path when they can. A process
// that sends a request and waits for the reply (send_receive, or
// Self.Request from Go) runs a receiver parked in a receive on its own
// goroutine, so a round trip needs no goroutine to wake; and messages
// queued behind the one a receive takes move into the guest's instance
// (up to 16), so its next receives complete without suspending. Neither
// changes what a receive returns. docs/why.md has the details.
//
// # Links, monitors and timers
//
// Links, monitors and timers behave as in Erlang, within bounds the
// environment sets (environment.Config): a process has at most MaxLinks
// links and holds at most MaxMonitors monitors, and link and monitor are
// refused (ErrTooManyLinks, ErrTooManyMonitors, or an error matching
// mailbox.ErrFull) past them or while the mailbox the EXIT or DOWN would
// go to is full. EXIT and DOWN messages are never dropped, so they may
// take a mailbox past its limits, by at most one per link and monitor
// held; the DOWN of a monitor of a process that is already gone is an
// ordinary message. A guest may link only to processes of its own
// environment and of those below it, the rule kill follows, since a link
// is a way to kill; Go code may link to any process.
//
// A process has at most MaxTimers timers and MaxTimerBytes bytes of their
// messages pending. A timer outlives the process that set it, and stays
// charged to its environment, which holds at most MaxProcesses times each;
// it is cancelled when its target ends.
//
// Each process's links and monitors have their own lock, so one
// environment's signals never wait on another's, even while a process
// with a million monitors on it ends.
//
// # Exit reasons
//
// Wait returns why a process ended, as a Reason: Normal, Killed, or one of
// *TrapError, *FuelError, *MemoryLimitError, *ExitError, *InstantiateError.
// Every Reason is an error; abnormal ones are logged through the runtime's
// *slog.Logger (WithLogger), Killed excepted.
//
// # Observability
//
// Stats counts processes spawned, processes ended by EndKind, messages
// queued and messages refused by full mailboxes. WithEvents reports each
// process's start and end, with its environment, module, entry and
// reason, to a function of the embedder's, on the process's own goroutine.
// Package hostapi/metrics exports Stats through OpenTelemetry.
package runtime
