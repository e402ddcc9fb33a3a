package guest

import (
	"errors"
	"strconv"

	"github.com/wardrt/ward/internal/abi"
)

// The errors host functions report, one for each status code of the ABI
// (internal/abi) but ErrAgain, which only tells the SDK to make the full
// call after a try_send or try_receive and never reaches its callers.
// Every error the SDK returns for a status wraps one of them, so test
// with errors.Is:
//
//	if _, err := guest.Lookup("cache", "^2"); errors.Is(err, guest.ErrNotFound) { ... }
var (
	// ErrLimit: an environment limit was reached (processes, mailbox size,
	// message size, pending timers).
	ErrLimit = errors.New("limit reached")
	// ErrPermission: the environment does not permit this (spawning, say,
	// or killing a process outside the caller's environment).
	ErrPermission = errors.New("not permitted")
	// ErrNotFound: no such export, process or name.
	ErrNotFound = errors.New("not found")
	// ErrInvalid: malformed arguments, such as an export that does not take
	// the given parameters, a bad semver version or a negative tag.
	ErrInvalid = errors.New("invalid argument")
	// ErrClosed: the runtime is shutting down.
	ErrClosed = errors.New("runtime closed")
	// ErrTimeout: a receive's timeout passed with no matching message.
	ErrTimeout = errors.New("timeout")
	// ErrTaken: the name and version are registered to another process.
	ErrTaken = errors.New("name taken")
)

// statusErrs maps ABI status codes to the sentinel errors.
var statusErrs = [...]error{
	abi.ErrLimit:      ErrLimit,
	abi.ErrPermission: ErrPermission,
	abi.ErrNotFound:   ErrNotFound,
	abi.ErrInvalid:    ErrInvalid,
	abi.ErrClosed:     ErrClosed,
	abi.ErrTimeout:    ErrTimeout,
	abi.ErrTaken:      ErrTaken,
}

// Error is the error of a host function that returned a status other than
// OK. It matches (errors.Is) the sentinel error of its status.
type Error struct {
	Op     string // what the SDK was doing: "spawn \"worker\"", "send to 7", ...
	Status int32  // the ABI status code
}

func (e *Error) Error() string {
	return "ward: " + e.Op + ": " + e.Unwrap().Error()
}

// Unwrap returns the sentinel error of the status (ErrNotFound, ...), or an
// error naming the number for a status this SDK does not know.
func (e *Error) Unwrap() error {
	if e.Status > 0 && int(e.Status) < len(statusErrs) && statusErrs[e.Status] != nil {
		return statusErrs[e.Status]
	}
	return errors.New("status " + strconv.Itoa(int(e.Status)))
}

// fail returns the *Error of a status other than OK. Callers build op only
// on failure, so a successful call allocates nothing for its error.
func fail(op string, status int32) error {
	return &Error{Op: op, Status: status}
}

// quote quotes a name for an error message.
func quote(s string) string { return strconv.Quote(s) }
