// Package errs keeps ward's error style: every error a ward call returns
// reads "ward: what failed: why", with "ward: " once at the start however
// many layers added context on the way out.
package errs

import (
	"fmt"
	"strings"
)

// Prefix starts every ward error.
const Prefix = "ward: "

// Wrap returns an error reading "ward: <context>: <err>" that unwraps to
// err, with err's own leading "ward: " dropped so it is said once.
// context is fmt.Sprintf(format, args...).
func Wrap(err error, format string, args ...any) error {
	return &wrapped{context: fmt.Sprintf(format, args...), err: err}
}

type wrapped struct {
	context string
	err     error
}

func (w *wrapped) Error() string {
	return Prefix + w.context + ": " + strings.TrimPrefix(w.err.Error(), Prefix)
}

func (w *wrapped) Unwrap() error { return w.err }

// Errorf is fmt.Errorf for a message that starts with "ward: " and embeds
// other ward errors (sentinels among them) further on: their own "ward: "
// is dropped, so the result says it once. It unwraps as fmt.Errorf's does.
func Errorf(format string, args ...any) error {
	err := fmt.Errorf(format, args...)
	inner := strings.ReplaceAll(strings.TrimPrefix(err.Error(), Prefix), Prefix, "")
	return &formatted{msg: Prefix + inner, err: err}
}

type formatted struct {
	msg string
	err error
}

func (f *formatted) Error() string { return f.msg }

func (f *formatted) Unwrap() error { return f.err }
