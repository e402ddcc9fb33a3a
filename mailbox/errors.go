package mailbox

import (
	"errors"
	"fmt"
)

// ErrFull is matched, through errors.Is, by the error of a push that would
// exceed one of the mailbox's limits. The error itself is a *FullError.
var ErrFull = errors.New("ward: mailbox full")

// ErrClosed is returned by pushes to, and receives from, a closed mailbox.
var ErrClosed = errors.New("ward: mailbox closed")

// Values of FullError.Limit.
const (
	LimitMessages = "messages" // the limit on the number of messages
	LimitBytes    = "bytes"    // the limit on the total size of Data
	LimitBudget   = "budget"   // the Budget shared with other mailboxes
)

// FullError describes a rejected push: which limit it would have exceeded
// and by how much. It matches ErrFull.
type FullError struct {
	// Limit is LimitMessages, LimitBytes or LimitBudget.
	Limit string
	// Max is the limit, in messages or bytes (0 for LimitBudget, whose
	// size the mailbox does not know).
	Max int
	// Used is how much of it the queued messages take up. It can exceed Max
	// when signals were pushed past the limit.
	Used int
	// Size is what the message would have added: 1 for the message limit,
	// len(Data) for the byte limit.
	Size int
}

// Error describes the limit that was hit.
func (e *FullError) Error() string {
	return fmt.Sprintf("ward: mailbox full: %s limit %d, %d in use, message needs %d",
		e.Limit, e.Max, e.Used, e.Size)
}

// Is reports whether target is ErrFull, so that errors.Is(err, ErrFull)
// holds for every FullError without the caller having to know the type.
func (e *FullError) Is(target error) bool {
	return target == ErrFull
}
