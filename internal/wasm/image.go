//go:build linux && (amd64 || arm64) && cgo

package wasm

// #include <stdlib.h>
// #include "shim.h"
// #include "sealed.h"
import "C"

import (
	"bytes"
	"crypto/rand"
	"errors"
	"fmt"
	"sync"
	"syscall"
	"unsafe"
)

// Bounds of the initialisation run an image is taken from: far above what
// a Go runtime's start-up needs (about 757k fuel and a few MiB), far below
// what would let a module make its load hang or take the host's memory.
const (
	imageFuel      = 1 << 32
	imageMaxMemory = 1 << 30
)

// ErrImageMismatch is returned, wrapped, when an image is offered to a
// module or engine it was not made for.
var ErrImageMismatch = errors.New("ward: pre-initialised image does not belong to this module")

// Image is a module pre-initialised once: its memory and globals as its
// _initialize left them. Processes started from it (Image.NewProc) run
// the derived module, which has no data segments and exports its mutable
// globals, from a copy-on-write mapping of that memory, and skip
// _initialize.
type Image struct {
	hash        [32]byte
	fingerprint string
	mod         *Module
	c           *C.ward_image_t
	// Size is the memory, in bytes, that a process from the image starts
	// with.
	Size      int
	closeOnce sync.Once
}

// Preinitialize makes the image of the module whose bytes are wasm (and
// whose SHA-256 is hash): it instantiates the derived module once, in a
// store of its own with an empty WASI context (no arguments, environment
// or directories), runs _initialize, and keeps the memory and the globals
// it leaves. compile compiles the derived module's bytes (the runtime's
// compile cache applies). The run may use WASI's random_get, served from
// crypto/rand; any other host call that needs Go fails it. It fails with
// an error wrapping errNoImage for modules an image cannot reproduce.
func (e *Engine) Preinitialize(wasm []byte, hash [32]byte, compile func([]byte) (*Module, error)) (*Image, error) {
	src, err := imageSource(wasm)
	if errors.Is(err, errMalformed) {
		return nil, fmt.Errorf("ward: pre-initialising: %w", err)
	}
	if err != nil {
		return nil, err
	}
	dm, err := compile(src.derived)
	if err != nil {
		return nil, fmt.Errorf("ward: pre-initialising: compiling the derived module: %w", err)
	}
	dm.ReadTables(src.derived)
	if _, ok := dm.Exports["_initialize"]; !ok || !dm.HasInit {
		dm.Close()
		return nil, fmt.Errorf("%w: it has no _initialize", errNoImage)
	}
	img := &Image{hash: hash, fingerprint: e.Fingerprint(), mod: dm}
	if err := img.run(src); err != nil {
		img.Close()
		return nil, err
	}
	return img, nil
}

// run runs _initialize from src's initial memory and keeps what it leaves.
func (img *Image) run(src *imageSrc) error {
	start, err := newImageC(src.data, nil, nil)
	if err != nil {
		return err
	}
	defer C.ward_image_unref(start)
	p, err := img.mod.NewProc(0, imageMaxMemory, imageFuel, nil)
	if err != nil {
		return err
	}
	defer p.Free()
	p.c.init_name = nil
	p.c.image = start
	if err := p.SetWASI(WASI{}); err != nil {
		return err
	}
	if err := p.SetEntry("_initialize", nil, 0); err != nil {
		return err
	}
	st := p.Start()
	for st != Done {
		if st == Host {
			serveInit(p)
		}
		st = p.Poll()
	}
	if o := p.Outcome(); o.Kind != Returned {
		return fmt.Errorf("ward: pre-initialising: _initialize ended (outcome %d) in %s: %s", o.Kind, o.Phase, o.Message)
	}
	var n C.size_t
	base := C.ward_proc_memory_data(p.c, &n)
	if base == nil {
		return fmt.Errorf("%w: no exported memory", errNoImage)
	}
	mem := unsafe.Slice((*byte)(unsafe.Pointer(base)), int(n))
	vals := make([]int64, len(src.globals))
	for i, g := range src.globals {
		var v C.wt_val_t
		name := C.CString(g.export)
		ok := C.ward_proc_global(p.c, name, C.size_t(len(g.export)), &v)
		C.free(unsafe.Pointer(name))
		if ok == 0 {
			return fmt.Errorf("ward: pre-initialising: global %d is not exported", g.index)
		}
		vals[i] = *(*int64)(unsafe.Pointer(&v.of))
	}
	if img.c, err = newImageC(mem, src.globals, vals); err != nil {
		return err
	}
	img.Size = int(n)
	return nil
}

// serveInit serves a host call of the initialisation run: random_get,
// which the Go runtime makes to seed itself, and nothing else.
func serveInit(p *Proc) {
	if p.HostID() != WASIBase+1 { // WASIShadows[1]
		p.Trap("ward: a host call while pre-initialising")
		return
	}
	mem := p.Memory()
	ptr, n := uint64(uint32(p.HostArg(0))), uint64(uint32(p.HostArg(1)))
	if ptr+n > uint64(len(mem)) {
		p.Trap("random_get: buffer outside the caller's memory")
		return
	}
	rand.Read(mem[ptr : ptr+n])
	p.Return(0)
}

// newImageC copies mem into a sealed memory file, leaving its zero pages
// as holes, and makes the C image of it with the globals' values. The C
// image owns the file.
func newImageC(mem []byte, globals []imageGlobal, vals []int64) (*C.ward_image_t, error) {
	cfd, err := C.ward_memfd()
	if cfd < 0 {
		return nil, fmt.Errorf("ward: memory file for an image: %w", err)
	}
	fd := int(cfd)
	fail := func(what string, err error) (*C.ward_image_t, error) {
		syscall.Close(fd)
		return nil, fmt.Errorf("ward: %s an image: %w", what, err)
	}
	const page = 4096
	size := max((len(mem)+page-1)/page*page, page)
	if err := syscall.Ftruncate(fd, int64(size)); err != nil {
		return fail("sizing", err)
	}
	zero := make([]byte, page)
	for off := 0; off < len(mem); off += page {
		chunk := mem[off:min(off+page, len(mem))]
		if bytes.Equal(chunk, zero[:len(chunk)]) {
			continue
		}
		if err := pwriteAll(fd, chunk, int64(off)); err != nil {
			return fail("writing", err)
		}
	}
	if rc, err := C.ward_seal(cfd); rc != 0 {
		return fail("sealing", err)
	}
	c := C.ward_image_new(cfd, C.size_t(size))
	if c == nil {
		return fail("mapping", errors.New("mmap failed"))
	}
	if len(globals) > 0 {
		c.globals = (*C.ward_image_global_t)(C.calloc(C.size_t(len(globals)), C.size_t(unsafe.Sizeof(C.ward_image_global_t{}))))
		c.nglobals = C.size_t(len(globals))
		cgs := unsafe.Slice(c.globals, len(globals))
		for i := range cgs {
			cg := &cgs[i]
			cg.name = C.CString(globals[i].export)
			cg.len = C.size_t(len(globals[i].export))
			cg.val.kind = C.uint8_t(globals[i].kind)
			*(*int64)(unsafe.Pointer(&cg.val.of)) = vals[i]
		}
	}
	return c, nil
}

// BelongsTo checks that the image was made from the module whose bytes
// have SHA-256 hash, on an engine whose code runs on e: an error wrapping
// ErrImageMismatch otherwise.
func (img *Image) BelongsTo(hash [32]byte, e *Engine) error {
	if img.hash != hash {
		return fmt.Errorf("%w: made from sha256 %x, not %x", ErrImageMismatch, img.hash, hash)
	}
	if img.fingerprint != e.Fingerprint() {
		return fmt.Errorf("%w: made for engine %q", ErrImageMismatch, img.fingerprint)
	}
	return nil
}

// Module returns the derived module processes of the image run.
func (img *Image) Module() *Module { return img.mod }

// NewProc is Module.NewProc for a process started from the image: its
// memory maps the image, its globals are set from it, and _initialize is
// not run.
//
// wasmtime's limiter sees only the module's declared minimum, not the
// larger memory the image starts with, so NewProc refuses an image whose
// memory maxMemory does not hold.
func (img *Image) NewProc(id uint64, maxMemory int64, fuel uint64, budget *Budget) (*Proc, error) {
	if int64(img.Size) > maxMemory {
		return nil, fmt.Errorf("ward: the image's memory (%d bytes) exceeds MaxMemory (%d)", img.Size, maxMemory)
	}
	p, err := img.mod.NewProc(id, maxMemory, fuel, budget)
	if err != nil {
		return nil, err
	}
	p.c.init_name = nil
	p.c.image = img.c
	return p, nil
}

// Close frees the image and its derived module. Processes started from it
// must have been freed.
func (img *Image) Close() {
	img.closeOnce.Do(func() {
		if img.c != nil {
			C.ward_image_unref(img.c) // memories still made from it hold it
		}
		img.mod.Close()
	})
}

func pwriteAll(fd int, b []byte, off int64) error {
	for len(b) > 0 {
		n, err := syscall.Pwrite(fd, b, off)
		if err == syscall.EINTR {
			continue
		}
		if err != nil {
			return err
		}
		b, off = b[n:], off+int64(n)
	}
	return nil
}
