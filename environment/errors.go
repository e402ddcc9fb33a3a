package environment

import (
	"errors"
	"fmt"
	"strings"
)

var (
	// ErrInvalid is wrapped by every error about a Config that makes no
	// sense on its own, whatever its parent, such as a MaxMemory that is
	// not a whole number of pages.
	ErrInvalid = errors.New("ward: invalid environment configuration")

	// ErrWiden is wrapped by every error from Narrow about a child that
	// asks for more than its parent has. The message names the field and
	// both values.
	ErrWiden = errors.New("ward: a child environment would widen its parent")

	// ErrNamespaceDenied matches (with errors.Is) the *DeniedError that
	// CheckImports returns.
	ErrNamespaceDenied = errors.New("ward: namespace not allowed")
)

// DeniedError is the error CheckImports returns for an import from a
// namespace the environment does not allow. It carries the import and the
// allowed namespaces so that the runtime can report, or a tool can suggest,
// what would have to change.
type DeniedError struct {
	// Import is the first import that is not allowed.
	Import Import
	// Allowed is the environment's Namespaces, patterns included.
	Allowed []string
}

// Error names the import and lists the allowed namespaces, since the usual
// fix is either to drop the import or to allow its namespace.
func (e *DeniedError) Error() string {
	allowed := "none"
	if len(e.Allowed) > 0 {
		allowed = strings.Join(e.Allowed, ", ")
	}
	return fmt.Sprintf("ward: import %s is not allowed in this environment (allowed namespaces: %s)", e.Import, allowed)
}

// Is reports whether target is ErrNamespaceDenied.
func (e *DeniedError) Is(target error) bool { return target == ErrNamespaceDenied }

// problems collects every error in a Config at once, so that whoever wrote
// it can fix them all in one go rather than one per attempt.
type problems []error

// add records a problem wrapping kind (ErrInvalid or ErrWiden).
func (p *problems) add(kind error, format string, args ...any) {
	*p = append(*p, fmt.Errorf("%w: %s", kind, fmt.Sprintf(format, args...)))
}

// err returns nil, the one problem, or all of them in one error that
// says "ward: " once and matches each.
func (p problems) err() error {
	switch len(p) {
	case 0:
		return nil
	case 1:
		return p[0]
	}
	return problemList(p)
}

type problemList []error

func (l problemList) Error() string {
	parts := make([]string, len(l))
	for i, err := range l {
		parts[i] = strings.TrimPrefix(err.Error(), "ward: ")
	}
	return "ward: " + strings.Join(parts, "; ")
}

func (l problemList) Unwrap() []error { return l }
