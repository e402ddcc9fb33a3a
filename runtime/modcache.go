package runtime

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/wardrt/ward/environment"
	"github.com/wardrt/ward/internal/wasm"
	"github.com/wardrt/ward/module"
)

// ErrModuleClosed is returned, wrapped, by a spawn from a Module that
// Close closed. Load the bytes again for a new handle.
var ErrModuleClosed = errors.New("ward: module closed")

// moduleCode is compiled code shared by every Module handle of the same
// bytes and by the processes running it. It is freed when the last of
// them lets go: a runtime that loads and retires modules for days holds
// only the code something still uses.
type moduleCode struct {
	hash    [32]byte
	m       *wasm.Module
	imports []environment.Import
	cache   *moduleCache
	// image is the pre-initialised image processes start from when they
	// can (Module.startImage), or nil.
	image *wasm.Image
	// refs counts open handles and live processes. It only goes up from
	// a positive count (tryAcquire): once zero, the code is freed for
	// good, and a later load compiles again.
	refs  atomic.Int64
	freed atomic.Bool // read by Environment.importOK's sweep

	// verified is what vouched for the bytes, once a Load verified them
	// (load.go): a property of the bytes, so of every handle on them, and
	// gone with the code.
	verified atomic.Pointer[module.Verified]

	// installed is the name the code is installed under (versions.go),
	// "" when none; guarded by the runtime's versions lock.
	installed string
}

// tryAcquire takes a reference unless the code is already freed.
func (c *moduleCode) tryAcquire() bool {
	for {
		n := c.refs.Load()
		if n <= 0 {
			return false
		}
		if c.refs.CompareAndSwap(n, n+1) {
			return true
		}
	}
}

// release gives a reference back, freeing the code with the last.
func (c *moduleCode) release() {
	if c.refs.Add(-1) == 0 {
		c.cache.free(c)
	}
}

// close frees the compiled code and the image; twice does nothing.
func (c *moduleCode) close() {
	c.m.Close()
	if c.image != nil {
		c.image.Close()
	}
}

// newProc makes the store of a process of the code in env: from the
// image when there is one and env lets it start from there (imageFits),
// otherwise as a normal start, which runs _initialize.
func (c *moduleCode) newProc(env *Environment, id uint64) (*wasm.Proc, error) {
	cfg := &env.cfg
	if c.image != nil && imageFits(env, c.image) {
		return c.image.NewProc(id, int64(cfg.MaxMemory), cfg.MaxFuel, env.mem)
	}
	return c.m.NewProc(id, int64(cfg.MaxMemory), cfg.MaxFuel, env.mem)
}

// imageFits reports whether a process in env may start from img: its
// WASI context reads as the pre-initialisation run's did (no arguments,
// environment variables or directories: the Go runtime reads them at
// start-up and would keep the image's), and its MaxMemory holds the
// memory the image starts with (otherwise the normal start fails as it
// always has, in _initialize, with the same error).
func imageFits(env *Environment, img *wasm.Image) bool {
	w := &env.cfg.WASI
	return len(w.Args) == 0 && len(w.Env) == 0 && len(w.Dirs) == 0 && uint64(img.Size) <= uint64(env.cfg.MaxMemory)
}

// moduleCache holds the live code by content hash, compiling each at most
// once even when loads race.
type moduleCache struct {
	mu      sync.Mutex
	byHash  map[[32]byte]*moduleCode
	pending map[[32]byte]*pendingCompile
	closed  bool
	// compiling counts compiles under way, which use the engine: one
	// whose LoadModule gave up on its ctx goes on in the background, and
	// Close must not free the engine under it.
	compiling sync.WaitGroup
}

type pendingCompile struct {
	done chan struct{}
	err  error
}

func (c *moduleCache) init() {
	c.byHash = map[[32]byte]*moduleCode{}
	c.pending = map[[32]byte]*pendingCompile{}
}

// get returns the code of hash with a reference taken, compiling it if
// no live code has that hash.
func (c *moduleCache) get(hash [32]byte, compile func() (*Module, error)) (*moduleCode, error) {
	for {
		c.mu.Lock()
		if c.closed {
			c.mu.Unlock()
			return nil, ErrClosed
		}
		// A code whose last reference just went is still in the map
		// until free takes it out; tryAcquire refuses it.
		if code, ok := c.byHash[hash]; ok && code.tryAcquire() {
			c.mu.Unlock()
			return code, nil
		}
		if p, ok := c.pending[hash]; ok {
			c.mu.Unlock()
			<-p.done
			if p.err != nil {
				return nil, p.err
			}
			continue // and take a reference, if it is still there
		}
		p := &pendingCompile{done: make(chan struct{})}
		c.pending[hash] = p
		c.compiling.Add(1)
		c.mu.Unlock()
		return c.compileNew(hash, p, compile)
	}
}

func (c *moduleCache) compileNew(hash [32]byte, p *pendingCompile, compile func() (*Module, error)) (*moduleCode, error) {
	defer c.compiling.Done()
	tmpl, err := compile()
	var code *moduleCode
	c.mu.Lock()
	delete(c.pending, hash)
	switch {
	case err != nil:
		p.err = err
	case c.closed:
		tmpl.m.Close()
		if tmpl.image != nil {
			tmpl.image.Close()
		}
		err = ErrClosed
	default:
		code = &moduleCode{hash: hash, m: tmpl.m, imports: tmpl.imports, cache: c, image: tmpl.image}
		code.refs.Store(1)
		c.byHash[hash] = code
	}
	c.mu.Unlock()
	close(p.done)
	return code, err
}

// free frees code, whose last reference is gone. Under the lock, so that
// closeAll, and the engine's end after it, never race a free.
func (c *moduleCache) free(code *moduleCode) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.byHash[code.hash] == code {
		delete(c.byHash, code.hash)
	}
	code.close() // once: closeAll may have closed it already
	code.freed.Store(true)
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

// closeAll frees all code, whatever handles are still open: the runtime
// is closing, and no process is left.
func (c *moduleCache) closeAll() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.closed = true
	for _, code := range c.byHash {
		code.close()
		code.freed.Store(true)
	}
	c.byHash = map[[32]byte]*moduleCode{}
}

// Close releases the handle: it spawns no more processes (ErrModuleClosed),
// and the compiled code is freed once no other handle of the same bytes is
// open and the last process running it has ended. Processes already
// spawned from it run on. Closing twice does nothing; Close never fails.
//
// A handle from Current or Resolve belongs to the runtime: closing it
// returns an error wrapping ErrInstalled and does nothing.
func (m *Module) Close() error {
	if m.owned {
		return fmt.Errorf("%w: %s belongs to the runtime, which releases it when the version is purged", ErrInstalled, m.name)
	}
	if m.closed.CompareAndSwap(false, true) {
		m.code.release()
	}
	return nil
}

// acquire takes a reference to m's code for a new process. A guest
// spawning from its own module (fromGuest) may, whether or not the handle
// it was spawned from has been closed since: it holds the code itself.
func (m *Module) acquire(fromGuest bool) error {
	if !fromGuest && m.closed.Load() {
		return fmt.Errorf("%w: %s; load it again to spawn from it", ErrModuleClosed, m.name)
	}
	if !m.code.tryAcquire() {
		return fmt.Errorf("%w: %s; load it again to spawn from it", ErrModuleClosed, m.name)
	}
	if !fromGuest && m.closed.Load() {
		// Closed while taking it: after Close returns, no spawn starts.
		m.code.release()
		return fmt.Errorf("%w: %s; load it again to spawn from it", ErrModuleClosed, m.name)
	}
	return nil
}

// importSweepEvery is how many new import checks an environment caches
// between sweeps that drop those of freed code.
const importSweepEvery = 64

// checkImports reports whether env allows every import of m. The answer
// is cached on env (Environment.importOK), keyed by m's code: it is the
// same for every handle of the same bytes. Entries of freed code are swept
// now and then, so that an environment spawning from a stream of short-
// lived modules does not grow.
func (m *Module) checkImports(env *Environment) error {
	if v, ok := env.importOK.Load(m.code); ok {
		if v.(error) == errOK {
			return nil
		}
		return v.(error)
	}
	err := env.cfg.CheckImports(m.imports)
	var v error = errOK
	if err != nil {
		v = err
	}
	if _, loaded := env.importOK.LoadOrStore(m.code, v); !loaded && env.importAdds.Add(1)%importSweepEvery == 0 {
		env.importOK.Range(func(k, _ any) bool {
			if k.(*moduleCode).freed.Load() {
				env.importOK.Delete(k)
			}
			return true
		})
	}
	return err
}
