package supervisor

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/wardrt/ward/runtime"
)

// Errors for errors.Is.
var (
	// ErrIntensity matches the *IntensityError a supervisor ends with when
	// its children needed more restarts within its Period than its
	// Intensity allows.
	ErrIntensity = errors.New("restart intensity exceeded")
	// ErrInvalidSpec: a ChildSpec or the Options are not usable.
	ErrInvalidSpec = errors.New("invalid supervisor spec")
	// ErrDuplicateChild: a child of that name already exists.
	ErrDuplicateChild = errors.New("duplicate child name")
	// ErrNoChild: no child of that name.
	ErrNoChild = errors.New("no such child")
	// ErrRunning: Serve is already running, or Add was called while it
	// runs (use StartChild then).
	ErrRunning = errors.New("supervisor is running")
	// ErrNotRunning: the call needs a running supervisor.
	ErrNotRunning = errors.New("supervisor is not running")
	// ErrStrategy: the call does not fit the supervisor's strategy
	// (StartDynamic needs SimpleOneForOne; StartChild, RestartChild and
	// DeleteChild need one of the others).
	ErrStrategy = errors.New("not supported by this strategy")
	// ErrChildRunning: DeleteChild or RestartChild on a child that is
	// running or waiting to restart.
	ErrChildRunning = errors.New("child is running")
	// ErrNotStopped matches a *StopError: a child that did not end after
	// being asked and, for a process, killed.
	ErrNotStopped = errors.New("child did not stop")
)

// IntensityError is what Serve returns when the supervisor gave up: more
// than Intensity restarts within Period. It unwraps to the reason of the
// failure that went over the limit, so errors.As can reach, say, the
// *runtime.TrapError of the child that crashed last.
type IntensityError struct {
	Supervisor string
	Intensity  int           // restarts allowed within Period
	Period     time.Duration // the window
	Child      string        // the child whose failure went over the limit
	Reason     runtime.Reason
}

// Error describes the failure.
func (e *IntensityError) Error() string {
	return fmt.Sprintf("ward: supervisor %s: %v: more than %d restarts in %v; last, child %s: %v",
		e.Supervisor, ErrIntensity, e.Intensity, e.Period, e.Child, e.Reason)
}

// Is matches ErrIntensity.
func (e *IntensityError) Is(target error) bool { return target == ErrIntensity }

// Unwrap returns the reason of the last failure.
func (e *IntensityError) Unwrap() error { return e.Reason }

// StartError is a child's failure to start: its spawn failed, or its
// OnStart hook returned an error. Serve returns one when a child fails to
// start at first (after stopping the children it had started);
// StartChild, StartDynamic and RestartChild return one; as a restart's
// failure it is the child's Reason and counts towards the intensity.
type StartError struct {
	Supervisor string
	Child      string
	Err        error
}

// Error describes the failure.
func (e *StartError) Error() string {
	return fmt.Sprintf("ward: supervisor %s: starting child %s: %s", e.Supervisor, e.Child, strings.TrimPrefix(e.Err.Error(), "ward: "))
}

// Normal reports false: a StartError is also a Reason.
func (e *StartError) Normal() bool { return false }

// Unwrap returns the spawn's or the hook's error.
func (e *StartError) Unwrap() error { return e.Err }

// StopError reports a child that did not stop: a Service that ignored its
// cancelled ctx for its Shutdown, or a process that had not ended after
// it was killed. The supervisor stops waiting for it and forgets it; a
// Service's goroutine is left running, since Go cannot kill one.
type StopError struct {
	Supervisor string
	Child      string
	Waited     time.Duration
}

// Error describes the failure.
func (e *StopError) Error() string {
	return fmt.Sprintf("ward: supervisor %s: child %s did not stop within %v and was left running", e.Supervisor, e.Child, e.Waited)
}

// Is matches ErrNotStopped.
func (e *StopError) Is(target error) bool { return target == ErrNotStopped }

// ServiceError is the Reason of a Service that returned an error or
// panicked. A Service that returned nil ends with runtime.Normal.
type ServiceError struct {
	Child string
	Err   error // what Serve returned; nil after a panic
	Panic any   // what Serve panicked with
}

// Error describes the failure.
func (e *ServiceError) Error() string {
	if e.Err == nil {
		return fmt.Sprintf("service %s panicked: %v", e.Child, e.Panic)
	}
	return fmt.Sprintf("service %s failed: %v", e.Child, e.Err)
}

// Normal reports false.
func (e *ServiceError) Normal() bool { return false }

// Unwrap returns the error Serve returned.
func (e *ServiceError) Unwrap() error { return e.Err }
