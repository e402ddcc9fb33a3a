package module

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"

	"github.com/wardrt/ward/internal/errs"
)

// A Source yields the bytes of a module. Open reads them, at most limit
// bytes: a module larger than that fails with an error matching
// ErrTooLarge, before or while it is read. Open stops when ctx ends and
// then returns an error wrapping ctx's. Sources are safe for concurrent
// use; each Open reads afresh, except Reader's, which can be read once.
type Source interface {
	// Name names the module in logs and errors: a file's base name, a
	// URL without its password, query and fragment.
	Name() string
	Open(ctx context.Context, limit int64) ([]byte, error)
}

// Bytes is a module already in memory. Open returns b itself, not a copy.
func Bytes(name string, b []byte) Source { return bytesSource{name, b} }

type bytesSource struct {
	name string
	b    []byte
}

func (s bytesSource) Name() string { return s.name }

func (s bytesSource) Open(ctx context.Context, limit int64) ([]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, errs.Wrap(err, "reading module %s", s.name)
	}
	if int64(len(s.b)) > limit {
		return nil, tooLarge(s.name, limit)
	}
	return s.b, nil
}

// File is a module in a file, named after its base name. A file larger
// than the limit is refused before it is read.
func File(path string) Source { return fileSource{path} }

type fileSource struct{ path string }

func (s fileSource) Name() string { return filepath.Base(s.path) }

func (s fileSource) Open(ctx context.Context, limit int64) ([]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, errs.Wrap(err, "reading module %s", s.path)
	}
	f, err := os.Open(s.path)
	if err != nil {
		return nil, errs.Wrap(err, "reading module")
	}
	defer f.Close()
	if fi, err := f.Stat(); err == nil && fi.Mode().IsRegular() && fi.Size() > limit {
		return nil, tooLarge(s.path, limit)
	}
	return readLimited(ctx, s.path, f, limit)
}

// Reader is a module read from r, which can be read once: a second Open
// fails. ctx is checked between reads, but a Read that blocks is not
// interrupted; close r (if it can be) to stop one.
func Reader(name string, r io.Reader) Source { return &readerSource{name: name, r: r} }

type readerSource struct {
	name string
	mu   sync.Mutex
	r    io.Reader // nil once read
}

func (s *readerSource) Name() string { return s.name }

func (s *readerSource) Open(ctx context.Context, limit int64) ([]byte, error) {
	s.mu.Lock()
	r := s.r
	s.r = nil
	s.mu.Unlock()
	if r == nil {
		return nil, fmt.Errorf("ward: reading module %s: a Reader source can be opened once; use Bytes to keep a module for reloading", s.name)
	}
	return readLimited(ctx, s.name, r, limit)
}

// readLimited reads r to its end, failing with ErrTooLarge past limit
// bytes and with ctx's error if ctx ends between reads.
func readLimited(ctx context.Context, name string, r io.Reader, limit int64) ([]byte, error) {
	var buf bytes.Buffer
	chunk := make([]byte, 64<<10)
	for {
		if err := ctx.Err(); err != nil {
			return nil, errs.Wrap(err, "reading module %s", name)
		}
		n, err := r.Read(chunk)
		if int64(buf.Len())+int64(n) > limit {
			return nil, tooLarge(name, limit)
		}
		buf.Write(chunk[:n])
		if err == io.EOF {
			return buf.Bytes(), nil
		}
		if err != nil {
			if ctxErr := ctx.Err(); ctxErr != nil {
				return nil, errs.Wrap(ctxErr, "reading module %s", name)
			}
			return nil, errs.Wrap(err, "reading module %s", name)
		}
	}
}

func tooLarge(name string, limit int64) error {
	return errs.Errorf("ward: reading module %s: %w: more than the limit of %d bytes; raise it (runtime.MaxModuleSize) if the module is right", name, ErrTooLarge, limit)
}
