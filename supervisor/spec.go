package supervisor

import (
	"context"
	"fmt"
	"log/slog"
	"math"
	"time"

	"github.com/wardrt/ward/runtime"
)

// Strategy says which children a supervisor restarts when one fails.
type Strategy int

// The strategies, as in Erlang/OTP.
const (
	// OneForOne restarts only the child that failed.
	OneForOne Strategy = iota
	// OneForAll stops every other running child (in reverse start order)
	// and restarts them all, in start order, when one fails.
	//
	// For OneForAll and RestForOne, the siblings taken down are those
	// running or waiting to restart: a sibling that was stopped (by
	// TerminateChild, or a Transient child that ended normally) stays
	// stopped, and a Temporary sibling is stopped and removed, not
	// restarted.
	OneForAll
	// RestForOne stops the children started after the failed one (in
	// reverse order) and restarts the failed one and those, in order.
	RestForOne
	// SimpleOneForOne supervises any number of children made from one
	// template spec, started with StartDynamic. Each is restarted on its
	// own, as with OneForOne.
	SimpleOneForOne
)

var strategyNames = [...]string{"one_for_one", "one_for_all", "rest_for_one", "simple_one_for_one"}

// String returns the OTP name: "one_for_one", "one_for_all", ...
func (s Strategy) String() string {
	if s >= 0 && int(s) < len(strategyNames) {
		return strategyNames[s]
	}
	return fmt.Sprintf("Strategy(%d)", int(s))
}

// Restart says when a child that ended is started again.
type Restart int

// The restart types, as in Erlang/OTP.
const (
	// Permanent children are always restarted, whatever their reason.
	Permanent Restart = iota
	// Transient children are restarted only after an abnormal end: a
	// process whose Reason is not Normal, a Service that returned an error
	// or panicked.
	Transient
	// Temporary children are never restarted; once they end they are
	// removed from the supervisor.
	Temporary
)

var restartNames = [...]string{"permanent", "transient", "temporary"}

// String returns "permanent", "transient" or "temporary".
func (r Restart) String() string {
	if r >= 0 && int(r) < len(restartNames) {
		return restartNames[r]
	}
	return fmt.Sprintf("Restart(%d)", int(r))
}

// Shutdown values with a special meaning; any other positive duration is a
// grace period.
const (
	// DefaultShutdown is the grace period of a child whose Shutdown is 0,
	// except a child that is itself a *Supervisor, which gets Infinity.
	DefaultShutdown = 5 * time.Second
	// BrutalKill stops a process child with Kill at once, skipping its
	// Stop function. A Service cannot be killed; for one it means cancel
	// and wait DefaultShutdown.
	BrutalKill time.Duration = -1
	// Infinity waits for the child however long it takes to stop, as OTP
	// does for supervisor children.
	Infinity time.Duration = math.MaxInt64
)

// Service is a plain Go child, in the style of github.com/thejerf/suture:
// Serve runs until ctx is cancelled or it fails. Returning nil is a normal
// end, an error (or a panic) an abnormal one. A *Supervisor is a Service,
// which is how supervisors nest.
//
// A Service runs on a goroutine of its own, not as a ward process: it has
// no process id and no mailbox. (For a Go child with a mailbox, spawn a
// Go-native process with ChildSpec.Spawn and runtime.Environment.SpawnGo.)
// A goroutine cannot be killed: a Service that ignores its ctx outlives
// its shutdown timeout, is reported as not stopping (EventAbandoned,
// ErrNotStopped) and is left running.
type Service interface {
	Serve(ctx context.Context) error
}

// ServiceFunc makes a function a Service.
type ServiceFunc func(ctx context.Context) error

// Serve calls f(ctx).
func (f ServiceFunc) Serve(ctx context.Context) error { return f(ctx) }

// Wasm describes a Wasm process child: the exported function Entry of a
// module, called with Params, in Env. A dynamic child of a
// SimpleOneForOne supervisor gets the arguments of StartDynamic appended
// to Params, as OTP appends start_child's extra arguments.
//
// The module is either Module, the same at every start, or the installed
// version of ModuleName that matches Version (runtime.Runtime.Install and
// Resolve), looked up again at every start and restart: a child that
// fails after a new version is installed comes back on it.
type Wasm struct {
	Env    *runtime.Environment
	Module *runtime.Module
	// ModuleName and Version name an installed module instead of Module:
	// Version is a semver constraint ("^1.2"; empty for any), and the
	// current version is taken when it matches, else the old one.
	ModuleName string
	Version    string
	Entry      string
	Params     []runtime.Value
}

func (w *Wasm) spawn(ctx context.Context, args []runtime.Value) (*runtime.Process, error) {
	params := w.Params
	if len(args) > 0 {
		params = append(append([]runtime.Value(nil), w.Params...), args...)
	}
	m := w.Module
	if m == nil {
		var err error
		if m, err = w.Env.Runtime().Resolve(w.ModuleName, w.Version); err != nil {
			return nil, err
		}
	}
	return w.Env.Spawn(ctx, m, w.Entry, params...)
}

// ChildSpec describes one child: what it runs (exactly one of Wasm, Spawn
// and Service), when it is restarted and how it is stopped.
type ChildSpec struct {
	// Name identifies the child within its supervisor (TerminateChild,
	// WhichChildren, events, logs). Required and unique. The dynamic
	// children of a SimpleOneForOne supervisor are named Name-1, Name-2, ...
	Name string

	// Wasm runs a Wasm process.
	Wasm *Wasm
	// Spawn starts any other ward process, such as a Go-native one
	// (runtime.Environment.SpawnGo) or a supervisor run as a process
	// (Supervisor.SpawnProcess). args is nil, except for the dynamic
	// children of a SimpleOneForOne supervisor, which get StartDynamic's.
	// ctx bounds the spawn, not the process.
	Spawn func(ctx context.Context, args []runtime.Value) (*runtime.Process, error)
	// Service runs a Go service on a goroutine of its own. The same value
	// is served again on every restart (and, as the template of a
	// SimpleOneForOne supervisor, by every dynamic child at once).
	Service Service

	// Restart says when the child is started again after it ends. The
	// zero value is Permanent.
	Restart Restart

	// Shutdown is how long the child has to stop once asked before it is
	// killed: 0 means DefaultShutdown (Infinity for a *Supervisor
	// Service); see also BrutalKill and Infinity.
	//
	// A process is asked with Stop, or killed at once when Stop is nil
	// (Kill cancels a Go-native process's ctx, which is its way of being
	// asked; a Wasm guest has no such signal). When Shutdown passes, it is
	// killed (EventKilled) and given Shutdown again to end. A Service is
	// asked by cancelling its ctx; when Shutdown passes, it is reported as
	// not stopping (EventAbandoned, ErrNotStopped) and left to itself.
	Shutdown time.Duration

	// Stop, if set, asks a process child to stop gracefully, typically by
	// sending it a message. ctx ends after Shutdown. The supervisor then
	// waits for the process to end, and kills it when Shutdown has passed.
	// Not used for Services.
	Stop func(ctx context.Context, p *runtime.Process) error

	// OnStart, if set, is called after every start and restart of a
	// process child, with the new process, before the child counts as
	// started; for a Service it is called with nil just before Serve. An
	// error is a failure to start (a *StartError, EventStartFailed): the
	// process is killed; at Serve's first start of the children, Serve
	// fails with it; on a restart it is handled like a crash and counts
	// towards the restart intensity. This is the hook for what must be
	// redone for every new process, such as registering its names in a
	// registry: a restarted process has a new id. It is also where a child
	// can wait until its process is ready, since the next child starts
	// only after it returns.
	OnStart func(ctx context.Context, p *runtime.Process) error
}

func (c *ChildSpec) validate() error {
	if c.Name == "" {
		return fmt.Errorf("%w: child has no name", ErrInvalidSpec)
	}
	n := 0
	if c.Wasm != nil {
		n++
		if c.Wasm.Env == nil || c.Wasm.Entry == "" {
			return fmt.Errorf("%w: child %q: Wasm needs Env and Entry", ErrInvalidSpec, c.Name)
		}
		if (c.Wasm.Module == nil) == (c.Wasm.ModuleName == "") {
			return fmt.Errorf("%w: child %q: Wasm needs exactly one of Module and ModuleName", ErrInvalidSpec, c.Name)
		}
		if c.Wasm.Module != nil && c.Wasm.Version != "" {
			return fmt.Errorf("%w: child %q: Wasm's Version constrains ModuleName, not Module", ErrInvalidSpec, c.Name)
		}
	}
	if c.Spawn != nil {
		n++
	}
	if c.Service != nil {
		n++
	}
	if n != 1 {
		return fmt.Errorf("%w: child %q: set exactly one of Wasm, Spawn and Service (%d set)", ErrInvalidSpec, c.Name, n)
	}
	if c.Restart < Permanent || c.Restart > Temporary {
		return fmt.Errorf("%w: child %q: unknown restart type %d", ErrInvalidSpec, c.Name, int(c.Restart))
	}
	if c.Shutdown < 0 && c.Shutdown != BrutalKill {
		return fmt.Errorf("%w: child %q: negative shutdown %v (use BrutalKill)", ErrInvalidSpec, c.Name, c.Shutdown)
	}
	return nil
}

// shutdown returns the child's effective grace period.
func (c *ChildSpec) shutdown() time.Duration {
	if c.Shutdown != 0 {
		return c.Shutdown
	}
	if _, ok := c.Service.(*Supervisor); ok {
		return Infinity
	}
	return DefaultShutdown
}

// Options configures a Supervisor. The zero value is a OneForOne
// supervisor allowing 5 restarts in 5 seconds, with the default backoff,
// logging to slog.Default().
type Options struct {
	Strategy Strategy

	// Intensity and Period bound restarts: when more than Intensity
	// restarts happen within Period, the supervisor stops all its children
	// and Serve returns an *IntensityError (matching ErrIntensity). Zero
	// values mean 5 and 5 s (OTP's defaults are 1 in 5 s; suture's are
	// about 5 failures in 30 s); a negative Intensity allows no restart at
	// all.
	Intensity int
	Period    time.Duration

	// Backoff is the delay before each restart; the zero value is the
	// default, DefaultBackoff. NoBackoff restarts at once.
	Backoff Backoff

	// Logger receives every event: starts and restarts at Info, abnormal
	// exits and kills at Warn, giving up at Error, expected stops at
	// Debug. Default slog.Default().
	Logger *slog.Logger

	// OnEvent, if set, is called with every event, synchronously, on the
	// supervisor's goroutine: it must return quickly and must not call the
	// supervisor's blocking methods (WhichChildren is fine).
	OnEvent func(Event)
}

func (o Options) intensity() int {
	switch {
	case o.Intensity == 0:
		return 5
	case o.Intensity < 0:
		return 0
	}
	return o.Intensity
}

func (o Options) period() time.Duration {
	if o.Period <= 0 {
		return 5 * time.Second
	}
	return o.Period
}
