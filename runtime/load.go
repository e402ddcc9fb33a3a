package runtime

import (
	"context"
	"errors"
	"fmt"

	"github.com/wardrt/ward/internal/errs"
	"github.com/wardrt/ward/module"
)

// DefaultMaxModuleSize is the most bytes Load reads from a source unless
// WithMaxModuleSize or MaxModuleSize say otherwise: several times the
// largest Go guest, and far less than a host should compile on a whim.
const DefaultMaxModuleSize = 256 << 20

// ErrUnverified is matched by the error of a spawn refused because the
// environment requires verified modules (environment.Config
// RequireVerified) and the module was not verified when it was loaded.
var ErrUnverified = errors.New("ward: module not verified")

// A LoadOption configures one Load.
type LoadOption func(*loadOptions)

type loadOptions struct {
	verifier module.Verifier
	maxSize  int64
}

// Verify has Load check the module with v before compiling it; a module
// v refuses is not compiled, and Load returns v's error. A module loaded
// this way reports what vouched for it (Module.Verified), and can be
// spawned in environments that require verified modules.
func Verify(v module.Verifier) LoadOption { return func(o *loadOptions) { o.verifier = v } }

// MaxModuleSize bounds the bytes this Load reads from its source,
// overriding the runtime's bound (WithMaxModuleSize); 0 or less keeps the
// runtime's.
func MaxModuleSize(n int64) LoadOption { return func(o *loadOptions) { o.maxSize = n } }

// Load reads a module from src, verifies it if asked (Verify), and
// compiles it, as LoadModule does, under src's name. It reads at most the
// runtime's module size bound (WithMaxModuleSize, or MaxModuleSize for
// this call): more fails with an error matching module.ErrTooLarge. ctx
// bounds the read (a URL's request and body) and, as for LoadModule, the
// wait for the compilation.
//
// A typical plugin loader fetches, verifies, and falls back to a module
// built into the program when either fails:
//
//	trust := runtime.Verify(module.Ed25519(publisherKey))
//	m, err := rt.Load(ctx, module.Detached(module.URL(u), module.URL(u+".sig")), trust)
//	if err != nil {
//		log.Printf("using the built-in plugin: %v", err)
//		m, err = rt.Load(ctx, module.Bytes("plugin", builtin), trust)
//	}
//
// Compiled code is kept by content: loading bytes that are already loaded
// returns another handle on the same code. Verification is a fact about
// the bytes, so once any Load has verified them, every handle on them
// reports itself verified, including those loaded without verifying, for
// as long as their code lives.
func (r *Runtime) Load(ctx context.Context, src module.Source, opts ...LoadOption) (*Module, error) {
	var o loadOptions
	for _, opt := range opts {
		opt(&o)
	}
	if o.maxSize <= 0 {
		o.maxSize = r.opts.maxModuleSize
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if r.isClosing() {
		return nil, errs.Wrap(ErrClosed, "loading module %s", src.Name())
	}
	// Fetch's errors name the module already.
	wasm, ver, err := module.Fetch(ctx, src, o.maxSize, o.verifier)
	if err != nil {
		return nil, err
	}
	m, err := r.LoadModule(ctx, src.Name(), wasm)
	if err != nil {
		return nil, err
	}
	if o.verifier != nil {
		m.code.verified.CompareAndSwap(nil, &ver) // the first verification stands
	}
	return m, nil
}

// Verified reports whether the module's bytes were verified by a Load
// with Verify, and by what: a pinned digest or a signer's key.
func (m *Module) Verified() (module.Verified, bool) {
	if v := m.code.verified.Load(); v != nil {
		return *v, true
	}
	return module.Verified{}, false
}

// checkVerified refuses m in an environment that requires verified
// modules unless it was verified.
func (m *Module) checkVerified(env *Environment) error {
	if !env.cfg.RequireVerified {
		return nil
	}
	if _, ok := m.Verified(); ok {
		return nil
	}
	return fmt.Errorf("%w: module %s (sha256 %s) was loaded without verification, and this environment requires verified modules; load it with Runtime.Load and runtime.Verify", ErrUnverified, m.name, m.Hash())
}
