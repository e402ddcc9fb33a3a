package runtime

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"sync"

	"github.com/wardrt/ward/environment"
	"github.com/wardrt/ward/internal/errs"
	"github.com/wardrt/ward/internal/wasm"
)

// Module is a compiled Wasm module, ready to spawn processes from. Modules
// belong to the runtime that compiled them and live until it closes;
// loading the same bytes again returns the same Module.
type Module struct {
	name    string
	hash    [32]byte
	rt      *Runtime
	m       *wasm.Module
	imports []environment.Import
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
// second (a Go guest); the same bytes are compiled once per runtime, and
// once per cache directory when WithCacheDir is set. If ctx ends first,
// LoadModule returns its error; the compilation finishes in the background
// and stays cached.
func (r *Runtime) LoadModule(ctx context.Context, name string, wasmBytes []byte) (*Module, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if r.isClosing() {
		return nil, errs.Wrap(ErrClosed, "loading module %s", name)
	}
	hash := sha256.Sum256(wasmBytes)
	type result struct {
		m   *Module
		err error
	}
	ch := make(chan result, 1)
	go func() {
		m, err := r.modules.get(hash, func() (*Module, error) { return r.compile(name, hash, wasmBytes) })
		ch <- result{m, err}
	}()
	select {
	case res := <-ch:
		if res.err != nil {
			return nil, errs.Wrap(res.err, "loading module %s", name)
		}
		return res.m, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
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
	var wm *wasm.Module
	if r.cache != nil {
		wm = r.cache.load(hash)
	}
	if wm == nil {
		var err error
		if wm, err = r.engine.Compile(b); err != nil {
			return nil, err
		}
		if r.cache != nil {
			r.cache.store(hash, wm)
		}
	}
	wm.ReadTables(b)
	m := &Module{name: name, hash: hash, rt: r, m: wm}
	for _, im := range wm.Imports {
		m.imports = append(m.imports, environment.Import{Module: im.Module, Name: im.Name})
	}
	return m, nil
}

// checkImports reports whether env allows every import of m. The answer
// is cached on env (Environment.importOK), which modules must not point
// to: they live as long as the runtime.
func (m *Module) checkImports(env *Environment) error {
	if v, ok := env.importOK.Load(m); ok {
		if v.(error) == errOK {
			return nil
		}
		return v.(error)
	}
	err := env.cfg.CheckImports(m.imports)
	if err == nil {
		env.importOK.Store(m, errOK)
	} else {
		env.importOK.Store(m, err)
	}
	return err
}

// moduleCache holds one Module per content hash, compiling each at most
// once even when loads race.
type moduleCache struct {
	mu      sync.Mutex
	byHash  map[[32]byte]*Module
	pending map[[32]byte]*pendingCompile
	closed  bool
	// compiling counts compiles under way, which use the engine: one
	// whose LoadModule gave up on its ctx goes on in the background, and
	// Close must not free the engine under it.
	compiling sync.WaitGroup
}

type pendingCompile struct {
	done chan struct{}
	m    *Module
	err  error
}

func (c *moduleCache) init() {
	c.byHash = map[[32]byte]*Module{}
	c.pending = map[[32]byte]*pendingCompile{}
}

func (c *moduleCache) get(hash [32]byte, compile func() (*Module, error)) (*Module, error) {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return nil, ErrClosed
	}
	if m, ok := c.byHash[hash]; ok {
		c.mu.Unlock()
		return m, nil
	}
	if p, ok := c.pending[hash]; ok {
		c.mu.Unlock()
		<-p.done
		return p.m, p.err
	}
	p := &pendingCompile{done: make(chan struct{})}
	c.pending[hash] = p
	c.compiling.Add(1)
	c.mu.Unlock()

	p.m, p.err = compile()
	defer c.compiling.Done()

	c.mu.Lock()
	delete(c.pending, hash)
	if p.err == nil {
		if c.closed {
			p.m.m.Close()
			p.m, p.err = nil, ErrClosed
		} else {
			c.byHash[hash] = p.m
		}
	}
	c.mu.Unlock()
	close(p.done)
	return p.m, p.err
}

func (c *moduleCache) len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.byHash)
}

// drain refuses new compiles and waits, within ctx, for those under way.
func (c *moduleCache) drain(ctx context.Context) error {
	c.mu.Lock()
	c.closed = true
	c.mu.Unlock()
	done := make(chan struct{})
	go func() {
		c.compiling.Wait()
		close(done)
	}()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (c *moduleCache) closeAll() {
	c.mu.Lock()
	c.closed = true
	mods := c.byHash
	c.byHash = map[[32]byte]*Module{}
	c.mu.Unlock()
	for _, m := range mods {
		m.m.Close()
	}
}
