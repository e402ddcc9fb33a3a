//go:build linux && (amd64 || arm64) && cgo

package wasm

// #include "sealed.h"
import "C"

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"syscall"

	"github.com/bytecodealliance/wasmtime-go/v25"
)

// Deserialize loads a module serialized by Module.Serialize on an engine
// with the same configuration and wasmtime version. Only pass trusted
// bytes: wasmtime does not validate them.
func (e *Engine) Deserialize(b []byte) (*Module, error) {
	return e.DeserializeChecked(bytes.NewReader(b), nil)
}

// DeserializeChecked reads a serialized module from src to its end, has
// check read the very bytes wasmtime will load (check may refuse them
// with an error, which DeserializeChecked returns), and then loads them.
//
// wasmtime copies serialized bytes into fresh anonymous memory, and for a
// Go guest (20 MB of code and metadata) the page faults of that copy cost
// 70-140 ms on the project's VM. Mapped from a file, it costs 3-6 ms: the
// kernel maps cached pages in batches, and only the pages the guest
// touches. So the bytes go into a memory file (copied in the kernel when
// src is a file) that is sealed before check reads it: nobody, this
// process included, can then write, grow or shrink it, and wasmtime maps
// that same file, so what check approved is what runs. Where memory files
// are not available, the bytes are read into memory instead.
func (e *Engine) DeserializeChecked(src io.Reader, check func(io.Reader) error) (*Module, error) {
	if check == nil {
		check = func(io.Reader) error { return nil }
	}
	f, size, err := sealedCopy(src)
	if err != nil {
		if f == nil {
			return e.deserializeInMemory(src, check)
		}
		return nil, err
	}
	defer f.Close() // wasmtime's mapping keeps the file alive
	if size == 0 {
		return nil, errors.New("ward: empty serialized module")
	}
	// Read, not mapped: a caller's reused buffer takes no page faults,
	// and 5,000 of them cost more than the copy.
	if err := check(io.NewSectionReader(f, 0, size)); err != nil {
		return nil, err
	}
	gm, err := wasmtime.NewModuleDeserializeFile(e.gw, fmt.Sprintf("/proc/self/fd/%d", f.Fd()))
	if err != nil {
		// No /proc (a bare container), or bytes wasmtime refuses: load
		// the sealed bytes from memory, which says which it was.
		return e.deserializeInMemory(io.NewSectionReader(f, 0, size), nil)
	}
	return e.prepare(gm)
}

// deserializeInMemory reads src into memory, has check (if not nil) read
// it, and loads it.
func (e *Engine) deserializeInMemory(src io.Reader, check func(io.Reader) error) (*Module, error) {
	b, err := io.ReadAll(src)
	if err != nil {
		return nil, err
	}
	if check != nil {
		if err := check(bytes.NewReader(b)); err != nil {
			return nil, err
		}
	}
	if len(b) == 0 { // wasmtime-go indexes b[0]
		return nil, errors.New("ward: empty serialized module")
	}
	gm, err := wasmtime.NewModuleDeserialize(e.gw, b)
	if err != nil {
		return nil, err
	}
	return e.prepare(gm)
}

// sealedCopy copies src into a sealed memory file and returns it and its
// size. It fails with a nil file if memory files are not available,
// before reading src; with the file (to close) if src could not be copied
// or sealed.
func sealedCopy(src io.Reader) (*os.File, int64, error) {
	fd, err := C.ward_memfd()
	if fd < 0 {
		return nil, 0, fmt.Errorf("ward: memory file: %w", err)
	}
	f := os.NewFile(uintptr(fd), "ward-cwasm")
	fail := func(err error) (*os.File, int64, error) {
		f.Close()
		return f, 0, err
	}
	n, err := copyInto(f, src)
	if err != nil {
		return fail(err)
	}
	if rc, err := C.ward_seal(C.int(fd)); rc != 0 {
		return fail(fmt.Errorf("ward: sealing a memory file: %w", err))
	}
	return f, n, nil
}

// copyInto copies src to dst, with sendfile when src is a file: the pages
// then go from the page cache to the memory file without a trip through
// user memory.
func copyInto(dst *os.File, src io.Reader) (int64, error) {
	sf, ok := src.(*os.File)
	if !ok {
		return io.Copy(dst, src)
	}
	var total int64
	for {
		n, err := syscall.Sendfile(int(dst.Fd()), int(sf.Fd()), nil, 1<<30)
		if n > 0 {
			total += int64(n)
		}
		switch {
		case err == syscall.EINTR || err == syscall.EAGAIN:
			continue
		case err != nil && total == 0:
			return io.Copy(dst, src) // sendfile refused: copy the slow way
		case err != nil:
			return total, err
		case n == 0:
			return total, nil
		}
	}
}
