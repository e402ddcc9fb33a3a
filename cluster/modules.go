package cluster

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/wardrt/ward/internal/errs"
	"github.com/wardrt/ward/runtime"
)

// DefaultMaxModuleSize is the largest module a node fetches from the
// object store and compiles for a remote caller, when Config does not
// say otherwise. Go guests are a few MiB; the bound keeps a remote caller
// from making a node read and compile an arbitrarily large object.
const DefaultMaxModuleSize = 64 << 20

// Errors of module shipping, for errors.Is.
var (
	// ErrModuleTooLarge: the module is larger than the node accepts
	// (Config.MaxModuleSize, or DefaultMaxModuleSize).
	ErrModuleTooLarge = errors.New("ward: module too large to ship between nodes")
	// ErrHashMismatch: the bytes the object store returned under a hash
	// are not the bytes of that hash; the store was tampered with or
	// damaged, and the module is refused.
	ErrHashMismatch = errors.New("ward: module bytes do not match their SHA-256")
	// ErrNoModule: no module with that hash is loaded on the node nor
	// published in the object store (Publish it first).
	ErrNoModule = errors.New("ward: no module with that hash; publish it first")
	// ErrBadHash: the hash is not a hex SHA-256 (64 lowercase hex digits).
	ErrBadHash = errors.New("ward: a module hash is 64 lowercase hex digits (SHA-256)")
	// ErrTooManyModules: the node has compiled MaxFetchedModules modules
	// for remote callers, which it keeps until its runtime closes, and
	// compiles no more.
	ErrTooManyModules = errors.New("ward: the node compiles no more modules for remote callers")
)

// modules keeps the modules of one node by hash, and ships them through
// the object store: it puts the bytes of those published here and fetches,
// checks and compiles those asked for by hash.
type modules struct {
	rt  *runtime.Runtime
	obs jetstream.ObjectStore
	max int64
	// fetching bounds the fetches and compiles under way at once, so
	// that remote callers asking for many different large modules
	// together make the node hold at most a few of them in memory.
	fetching chan struct{}
	// fetched counts the modules compiled for remote callers, which the
	// node keeps open until its runtime closes: at most maxFetched.
	fetched, maxFetched int

	mu       sync.Mutex
	byID     map[string]*runtime.Module
	inFlight map[string]*fetchCall
}

// fetchCall is one fetch of a hash, which every caller asking for that
// hash meanwhile waits for.
type fetchCall struct {
	done chan struct{}
	m    *runtime.Module
	err  error
}

// maxFetches is how many modules a node fetches and compiles at once for
// remote callers.
const maxFetches = 2

// MaxFetchedModules is how many distinct modules a node compiles for
// remote callers over its runtime's life (compiled modules stay until
// the runtime closes).
const MaxFetchedModules = 1024

// fetchTimeout bounds one fetch and compile, which no single caller's ctx
// does.
const fetchTimeout = 2 * time.Minute

// openModules opens (creating it if needed) the object store bucket that
// holds the bytes of published modules, each under the hex SHA-256 of its
// bytes.
func openModules(ctx context.Context, rt *runtime.Runtime, js jetstream.JetStream, bucket string, storage jetstream.StorageType, max int64) (*modules, error) {
	if max <= 0 {
		max = DefaultMaxModuleSize
	}
	obs, err := js.CreateOrUpdateObjectStore(ctx, jetstream.ObjectStoreConfig{
		Bucket:      bucket,
		Description: "ward: module bytes by SHA-256",
		Storage:     storage,
	})
	if err != nil {
		return nil, errs.Wrap(err, "opening the module object store %s", bucket)
	}
	return &modules{rt: rt, obs: obs, max: max, fetching: make(chan struct{}, maxFetches), maxFetched: MaxFetchedModules,
		byID: make(map[string]*runtime.Module), inFlight: make(map[string]*fetchCall)}, nil
}

// publish loads wasm here and puts its bytes in the object store, unless
// they are there already.
func (ms *modules) publish(ctx context.Context, name string, wasm []byte) (*runtime.Module, error) {
	if int64(len(wasm)) > ms.max {
		return nil, errs.Wrap(ErrModuleTooLarge, "publishing module %s: %d bytes, the limit is %d", name, len(wasm), ms.max)
	}
	m, err := ms.rt.LoadModule(ctx, name, wasm)
	if err != nil {
		return nil, err
	}
	hash := m.Hash()
	if _, err := ms.obs.GetInfo(ctx, hash); err == nil {
		return ms.keep(ctx, name, wasm, m)
	} else if !errors.Is(err, jetstream.ErrObjectNotFound) {
		m.Close()
		return nil, errs.Wrap(err, "publishing module %s", name)
	}
	meta := jetstream.ObjectMeta{Name: hash, Description: name}
	if _, err := ms.obs.Put(ctx, meta, bytes.NewReader(wasm)); err != nil {
		m.Close()
		return nil, errs.Wrap(err, "publishing module %s", name)
	}
	return ms.keep(ctx, name, wasm, m)
}

// keep records the module of wasm, loaded here as m, unless one of its
// hash is recorded already, and returns m. The node keeps a handle of its
// own: the caller may close m.
func (ms *modules) keep(ctx context.Context, name string, wasm []byte, m *runtime.Module) (*runtime.Module, error) {
	ms.mu.Lock()
	_, ok := ms.byID[m.Hash()]
	ms.mu.Unlock()
	if ok {
		return m, nil
	}
	own, err := ms.rt.LoadModule(ctx, name, wasm) // the same code: no compile
	if err != nil {
		m.Close()
		return nil, err
	}
	ms.mu.Lock()
	if _, ok := ms.byID[m.Hash()]; ok {
		own.Close()
	} else {
		ms.byID[m.Hash()] = own
	}
	ms.mu.Unlock()
	return m, nil
}

// module returns the module with that hash: the one loaded here, or else
// the bytes from the object store, checked against the hash and compiled.
// Concurrent asks for one hash share one fetch.
func (ms *modules) module(ctx context.Context, hash string) (*runtime.Module, error) {
	if !validHash(hash) {
		return nil, fmt.Errorf("%w: %q", ErrBadHash, hash)
	}
	ms.mu.Lock()
	if m := ms.byID[hash]; m != nil {
		ms.mu.Unlock()
		return m, nil
	}
	c := ms.inFlight[hash]
	if c == nil {
		c = &fetchCall{done: make(chan struct{})}
		ms.inFlight[hash] = c
		// Not the caller's ctx: the fetch is shared, and one caller
		// giving up must not fail the others.
		go func() {
			fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), fetchTimeout)
			defer cancel()
			c.m, c.err = ms.fetch(fctx, hash)
			ms.mu.Lock()
			delete(ms.inFlight, hash)
			ms.mu.Unlock()
			close(c.done)
		}()
	}
	ms.mu.Unlock()
	select {
	case <-c.done:
		return c.m, c.err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// fetch reads a module from the object store, checks its bytes against
// hash itself (whatever the store says of them) and compiles it.
func (ms *modules) fetch(ctx context.Context, hash string) (*runtime.Module, error) {
	info, err := ms.obs.GetInfo(ctx, hash)
	if errors.Is(err, jetstream.ErrObjectNotFound) {
		return nil, fmt.Errorf("%w: %s", ErrNoModule, hash)
	} else if err != nil {
		return nil, errs.Wrap(err, "fetching module %s", hash)
	}
	ms.mu.Lock()
	full := ms.fetched >= ms.maxFetched
	ms.mu.Unlock()
	if full {
		return nil, errs.Wrap(ErrTooManyModules, "fetching module %s: %d compiled already", hash, ms.maxFetched)
	}
	if info.Size > uint64(ms.max) {
		return nil, errs.Wrap(ErrModuleTooLarge, "fetching module %s: %d bytes, the limit is %d", hash, info.Size, ms.max)
	}
	ms.fetching <- struct{}{}
	defer func() { <-ms.fetching }()
	obj, err := ms.obs.Get(ctx, hash)
	if err != nil {
		return nil, errs.Wrap(err, "fetching module %s", hash)
	}
	defer obj.Close()
	// The size in the info is the store's word; the read is bounded by
	// the size checked above.
	b, err := io.ReadAll(io.LimitReader(obj, int64(info.Size)+1))
	if err != nil {
		return nil, errs.Wrap(err, "fetching module %s", hash)
	}
	if int64(len(b)) > int64(info.Size) {
		return nil, errs.Wrap(ErrHashMismatch, "fetching module %s: more bytes than the %d its entry says", hash, info.Size)
	}
	sum := sha256.Sum256(b)
	if got := hex.EncodeToString(sum[:]); got != hash {
		return nil, errs.Wrap(ErrHashMismatch, "fetching module %s: the store returned bytes of SHA-256 %s", hash, got)
	}
	name := info.Description
	if name == "" || len(name) > 128 {
		name = "module-" + hash[:12]
	}
	m, err := ms.rt.LoadModule(ctx, name, b)
	if err != nil {
		return nil, err
	}
	ms.mu.Lock()
	ms.fetched++
	ms.byID[m.Hash()] = m
	ms.mu.Unlock()
	return m, nil
}

// validHash reports whether h is a hex SHA-256 as Module.Hash writes it.
func validHash(h string) bool {
	if len(h) != 2*sha256.Size {
		return false
	}
	for i := 0; i < len(h); i++ {
		c := h[i]
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}
