package runtime

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"sync/atomic"

	"github.com/wardrt/ward/environment"
	"github.com/wardrt/ward/internal/errs"
	"github.com/wardrt/ward/internal/wasm"
)

// Module is a handle on a compiled Wasm module, ready to spawn processes
// from. Modules belong to the runtime that compiled them. Loading the same
// bytes again returns another handle on the same compiled code, compiled
// once; the code is freed when every handle on it is closed (Close) and
// the last process running it has ended, or when the runtime closes.
type Module struct {
	name    string
	hash    [32]byte
	rt      *Runtime
	m       *wasm.Module
	imports []environment.Import
	code    *moduleCode
	image   *wasm.Image // compile's, handed to the code
	closed  atomic.Bool
	owned   bool // the runtime's, for an installed version (versions.go)
}

var errOK = errors.New("ok")

// Name returns the name the module was loaded under.
func (m *Module) Name() string { return m.name }

// Hash returns the SHA-256 of the module's bytes, hex-encoded.
func (m *Module) Hash() string { return hex.EncodeToString(m.hash[:]) }

// Runtime returns the runtime that compiled the module, the only one
// whose environments can spawn it.
func (m *Module) Runtime() *Runtime { return m.rt }

// Imports lists the module's imports.
func (m *Module) Imports() []environment.Import {
	return append([]environment.Import(nil), m.imports...)
}

// Exports lists the module's exported function names.
func (m *Module) Exports() []string {
	out := make([]string, 0, len(m.m.Exports))
	for name := range m.m.Exports {
		out = append(out, name)
	}
	return out
}

// LoadModule compiles Wasm bytes, or WAT text, under a name used in logs
// and exit reasons. Compiling a module takes from microseconds (WAT) to a
// second (a Go guest); the same bytes are compiled once per runtime while
// a handle or process still uses their code, and once per cache directory
// when WithCacheDir is set. Each call returns a handle of its own, which
// the caller closes (Close) when it spawns no more from it. If ctx ends
// first, LoadModule returns its error; the compilation finishes in the
// background.
func (r *Runtime) LoadModule(ctx context.Context, name string, wasmBytes []byte) (*Module, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if r.isClosing() {
		return nil, errs.Wrap(ErrClosed, "loading module %s", name)
	}
	hash := sha256.Sum256(wasmBytes)
	type result struct {
		code *moduleCode
		err  error
	}
	ch := make(chan result, 1)
	go func() {
		code, err := r.modules.get(hash, func() (*Module, error) { return r.compile(name, hash, wasmBytes) })
		ch <- result{code, err}
	}()
	select {
	case res := <-ch:
		if res.err != nil {
			return nil, errs.Wrap(res.err, "loading module %s", name)
		}
		return r.newHandle(name, res.code), nil
	case <-ctx.Done():
		go func() {
			// Nobody takes the handle: let go of its reference.
			if res := <-ch; res.code != nil {
				res.code.release()
			}
		}()
		return nil, ctx.Err()
	}
}

// newHandle returns a handle on code, owning one reference to it.
func (r *Runtime) newHandle(name string, code *moduleCode) *Module {
	return &Module{name: name, hash: code.hash, rt: r, m: code.m, imports: code.imports, code: code}
}

// LoadModuleFile loads a module from a .wasm (or .wat) file, named after
// the file.
func (r *Runtime) LoadModuleFile(ctx context.Context, path string) (*Module, error) {
	if r.isClosing() {
		return nil, errs.Wrap(ErrClosed, "loading module %s", path)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, errs.Wrap(err, "loading module")
	}
	return r.LoadModule(ctx, filepath.Base(path), b)
}

func (r *Runtime) compile(name string, hash [32]byte, b []byte) (*Module, error) {
	wm, err := r.compileCached(hash, b)
	if err != nil {
		return nil, err
	}
	wm.ReadTables(b)
	m := &Module{name: name, hash: hash, rt: r, m: wm}
	for _, im := range wm.Imports {
		m.imports = append(m.imports, environment.Import{Module: im.Module, Name: im.Name})
	}
	if wm.IsGo && wm.HasInit && !r.opts.noGoImages {
		if img := r.preinitialize(name, hash, b); img != nil {
			if err := m.setImage(img); err != nil {
				img.Close()
				r.opts.logger.Error("ward: Go guest image refused", "module", name, "err", err)
			}
		}
	}
	return m, nil
}

// compileCached compiles b, whose SHA-256 is hash, or loads it from the
// compile cache.
func (r *Runtime) compileCached(hash [32]byte, b []byte) (*wasm.Module, error) {
	if r.cache != nil {
		if wm := r.cache.load(hash); wm != nil {
			return wm, nil
		}
	}
	wm, err := r.engine.Compile(b)
	if err != nil {
		return nil, err
	}
	if r.cache != nil {
		r.cache.store(hash, wm)
	}
	return wm, nil
}

// preinitialize makes the image of a Go guest (docs/why.md, "Pre-
// initialised Go guests"), or returns nil, logging why, when it cannot:
// its processes then start as any other, running _initialize.
func (r *Runtime) preinitialize(name string, hash [32]byte, b []byte) *wasm.Image {
	img, err := r.engine.Preinitialize(b, hash, func(d []byte) (*wasm.Module, error) {
		return r.compileCached(sha256.Sum256(d), d)
	})
	if err != nil {
		r.opts.logger.Info("ward: Go guest not pre-initialised; its processes run its start-up each", "module", name, "err", err)
		return nil
	}
	return img
}

// Preinitialized reports whether the module's processes start from a
// pre-initialised image (WithGoImages; docs/why.md, "Pre-initialised Go
// guests"), and the bytes of linear memory each then starts with. A
// process starts from it when its environment gives WASI no arguments,
// environment variables or directories, and its MaxMemory holds that
// memory; any other starts normally, running the module's _initialize.
func (m *Module) Preinitialized() (memory int, ok bool) {
	if img := m.code.image; img != nil {
		return img.Size, true
	}
	return 0, false
}

// setImage gives the module being compiled its image, once it has checked
// that the image was made from these bytes for this engine.
func (m *Module) setImage(img *wasm.Image) error {
	if err := img.BelongsTo(m.hash, m.rt.engine); err != nil {
		return err
	}
	m.image = img
	return nil
}
