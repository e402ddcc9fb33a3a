package cluster

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"reflect"
	"sync"
	"sync/atomic"

	"github.com/fxamacker/cbor/v2"

	"github.com/wardrt/ward/environment"
	"github.com/wardrt/ward/internal/errs"
	"github.com/wardrt/ward/internal/route"
	"github.com/wardrt/ward/runtime"
)

// ErrUnknownGrant: the target node grants no environment under the name
// a remote spawn asked for (see Config.Grants).
var ErrUnknownGrant = errors.New("ward: the node grants no environment of that name")

// ErrNotPortable: a remote spawn's Config names host resources of the
// caller's machine (WASI directories, output writers, host modules'
// configurations), which mean nothing on another node; the target's grant
// decides those.
var ErrNotPortable = errors.New("ward: WASI directories and writers, and host modules' configurations, cannot cross nodes; the target's grant sets them")

// SpawnOptions say where on the target node a remote spawn runs and who
// may reach the process from the caller's node.
type SpawnOptions struct {
	// Grant names the environment the target node grants to remote
	// spawns (its Config.Grants). The process runs in a fresh child
	// environment of it.
	Grant string
	// Config is the limits the caller asks for: the child environment
	// narrows the grant by it (zero fields inherit the grant's), and the
	// spawn is refused, with an error matching environment.ErrWiden,
	// when the result is wider than the grant or than Owner's own
	// environment. WASI.Dirs, Stdout and Stderr must be unset
	// (ErrNotPortable).
	Config environment.Config
	// Owner is the caller's environment on whose behalf the process is
	// spawned: the guests of Owner and of the environments above it on
	// the caller's node may kill and link the process remotely, as
	// though it ran below Owner; no other guest may. nil: only Go code
	// may, and the grant alone bounds the limits.
	Owner *runtime.Environment
}

// spawnRequest is the body of a "spawn" call.
type spawnRequest struct {
	Hash   string             `cbor:"1,keyasint"`
	Entry  string             `cbor:"2,keyasint"`
	Params []wireValue        `cbor:"3,keyasint"`
	Grant  string             `cbor:"4,keyasint"`
	Config environment.Config `cbor:"5,keyasint"`
	// OwnerConfig is the effective Config of the Owner, nil without one.
	OwnerConfig *environment.Config `cbor:"6,keyasint,omitempty"`
	// Owner is the Owner's environment chain, innermost first.
	Owner []uint64 `cbor:"7,keyasint,omitempty"`
}

// spawnReply is the answer to a "spawn" call: the new process's id, or
// why there is none (an error code that keeps errors.Is working across
// nodes, and the error's text).
type spawnReply struct {
	PID  uint64 `cbor:"1,keyasint,omitempty"`
	Code int    `cbor:"2,keyasint,omitempty"`
	Text string `cbor:"3,keyasint,omitempty"`
}

// wireValue is an entry parameter as it crosses nodes.
type wireValue struct {
	Kind uint8 `cbor:"1,keyasint"`
	Bits int64 `cbor:"2,keyasint"`
}

// Kinds of wireValue, as the runtime numbers them.
const (
	kindI32 = 0
	kindI64 = 1
	kindF32 = 2
	kindF64 = 3
)

// toWire encodes entry parameters. runtime.Value keeps its kind and bits
// unexported; reflection reads them (it may read, not write, unexported
// fields), and TestWireValuesRoundTrip fails if their shape changes.
func toWire(params []runtime.Value) []wireValue {
	out := make([]wireValue, len(params))
	for i, v := range params {
		inner := reflect.ValueOf(v).Field(0)
		out[i] = wireValue{Kind: uint8(inner.FieldByName("Kind").Uint()), Bits: inner.FieldByName("Bits").Int()}
	}
	return out
}

// fromWire decodes entry parameters.
func fromWire(ws []wireValue) ([]runtime.Value, error) {
	out := make([]runtime.Value, len(ws))
	for i, w := range ws {
		switch w.Kind {
		case kindI32:
			out[i] = runtime.I32(int32(w.Bits))
		case kindI64:
			out[i] = runtime.I64(w.Bits)
		case kindF32:
			out[i] = runtime.F32(math.Float32frombits(uint32(w.Bits)))
		case kindF64:
			out[i] = runtime.F64(math.Float64frombits(uint64(w.Bits)))
		default:
			return nil, fmt.Errorf("%w: parameter %d of unknown kind %d", runtime.ErrBadParams, i, w.Kind)
		}
	}
	return out, nil
}

// portable returns c as it crosses nodes: its writers dropped (they are
// the caller's), and an error for WASI.Dirs (host paths of the caller's
// machine, which grant nothing on another).
func portable(c environment.Config) (environment.Config, error) {
	// Host: a module's configuration is a Go value of this node's module,
	// which cbor cannot rebuild on another; dropping it instead would
	// inherit the grant's, wider than asked.
	if c.WASI.Dirs != nil || c.WASI.Stdout != nil || c.WASI.Stderr != nil || c.Host != nil {
		return c, ErrNotPortable
	}
	return c, nil
}

// withoutHost returns c without the host resources in its WASI part and
// its host modules' configurations, for comparing the limits of configs of
// different machines (the writers are there only because an effective
// Config must have them).
func withoutHost(c environment.Config) environment.Config {
	c.WASI = environment.WASI{Stdout: io.Discard, Stderr: io.Discard}
	c.Host = nil
	return c
}

// spawner serves spawns on one node: the module by hash, the grant by
// name, a fresh child environment of it narrowed as asked, and the
// owner's record for the subtree rule.
type spawner struct {
	rt     *runtime.Runtime
	grants map[string]*runtime.Environment
	mods   *modules
	owners *owners
}

// spawn starts req's process for node from and returns its local id.
func (s *spawner) spawn(ctx context.Context, from uint16, req spawnRequest) (uint64, error) {
	grant := s.grants[req.Grant]
	if grant == nil {
		return 0, fmt.Errorf("%w: %q", ErrUnknownGrant, req.Grant)
	}
	cfg, err := portable(req.Config)
	if err != nil {
		return 0, err
	}
	eff, err := grant.Config().Narrow(cfg)
	if err != nil {
		return 0, errs.Wrap(err, "spawn in grant %q: the limits asked for", req.Grant)
	}
	if req.OwnerConfig != nil {
		owner := withoutHost(*req.OwnerConfig)
		eff = meet(eff, cfg, owner)
		// What the caller set itself may still be wider than its own.
		if _, err := owner.Narrow(withoutHost(eff)); err != nil {
			return 0, errs.Wrap(err, "spawn in grant %q: wider than the caller's own environment", req.Grant)
		}
	}
	params, err := fromWire(req.Params)
	if err != nil {
		return 0, err
	}
	m, err := s.mods.module(ctx, req.Hash)
	if err != nil {
		return 0, err
	}
	env, err := grant.NewChild(eff)
	if err != nil {
		return 0, errs.Wrap(err, "spawn in grant %q", req.Grant)
	}
	s.owners.record(env, from, req.Owner)
	p, err := env.Spawn(ctx, m, req.Entry, params...)
	if err != nil {
		return 0, err
	}
	return uint64(p.ID()), nil
}

// meet narrows eff, the grant narrowed by asked, where asked left a field
// to inherit: a bound to the owner's when that is smaller, a permission
// to Deny when the owner's is, the namespaces to those the owner's cover.
// So a zero field inherits the narrower of the grant and the caller's own
// environment, never the wider.
func meet(eff, asked, owner environment.Config) environment.Config {
	e, a, o := reflect.ValueOf(&eff).Elem(), reflect.ValueOf(asked), reflect.ValueOf(owner)
	for i := 0; i < e.NumField(); i++ {
		f := e.Field(i)
		switch f.Kind() {
		case reflect.Uint64:
			if a.Field(i).Uint() == 0 && o.Field(i).Uint() < f.Uint() {
				f.SetUint(o.Field(i).Uint())
			}
		case reflect.Int:
			if a.Field(i).Int() == 0 && o.Field(i).Int() < f.Int() {
				f.SetInt(o.Field(i).Int())
			}
		case reflect.Bool:
			// RequireVerified: true is the narrower.
			if o.Field(i).Bool() {
				f.SetBool(true)
			}
		}
	}
	perms := func(c *environment.Config) []*environment.Permission {
		return []*environment.Permission{&c.Permissions.Spawn, &c.Permissions.CreateEnvironments, &c.Permissions.CompileModules}
	}
	askedP, ownerP := perms(&asked), perms(&owner)
	for i, p := range perms(&eff) {
		if *askedP[i] == environment.Inherit && *ownerP[i] == environment.Deny {
			*p = environment.Deny
		}
	}
	if asked.Namespaces == nil {
		kept := []string{} // not nil, which would inherit the grant's
		for _, ns := range eff.Namespaces {
			// Narrow is the one public judge of whether the owner's
			// namespaces cover ns.
			if _, err := owner.Narrow(environment.Config{Namespaces: []string{ns}}); err == nil {
				kept = append(kept, ns)
			}
		}
		eff.Namespaces = kept
	}
	return eff
}

// remoteErrors are the errors whose identity crosses nodes: a remote
// error matching one of them matches it (errors.Is) on the caller too.
// Append only: the index is the wire code.
var remoteErrors = []error{
	nil, // 0: none of these
	ErrUnknownGrant,
	ErrNotPortable,
	ErrModuleTooLarge,
	ErrHashMismatch,
	ErrNoModule,
	ErrBadHash,
	environment.ErrWiden,
	environment.ErrInvalid,
	environment.ErrNamespaceDenied,
	runtime.ErrNoEntry,
	runtime.ErrBadParams,
	runtime.ErrProcessLimit,
	runtime.ErrEnvironmentClosed,
	runtime.ErrClosed,
	runtime.ErrMemoryLimit,
	ErrTooManyModules,
}

// errorCode returns the wire code of err.
func errorCode(err error) int {
	for i, e := range remoteErrors {
		if e != nil && errors.Is(err, e) {
			return i
		}
	}
	return 0
}

// remoteError is an error that crossed nodes: its text as the remote
// node wrote it, matching the sentinel its code names.
type remoteError struct {
	text     string
	sentinel error
}

func (e *remoteError) Error() string { return e.text }
func (e *remoteError) Unwrap() error { return e.sentinel }

// fromCode rebuilds an error that crossed nodes.
func fromCode(code int, text string) error {
	var sentinel error
	if code > 0 && code < len(remoteErrors) {
		sentinel = remoteErrors[code]
	}
	return &remoteError{text: text, sentinel: sentinel}
}

// spawnState is a node's share of spawning: its module store, opened on
// first use, and the owners of the environments it made for remote
// spawns.
type spawnState struct {
	mu     sync.Mutex
	mods   *modules
	owners owners
	next   atomic.Uint32    // the round-robin of Any
	jobs   *runtime.Process // the job server, once started
}

// spawning returns n's spawnState.
func (n *Node) spawning() *spawnState { return &n.spawn }

// modules returns n's module store, opening its bucket on first use.
func (n *Node) modules(ctx context.Context) (*modules, error) {
	st := n.spawning()
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.mods == nil {
		ms, err := openModules(ctx, n.rt, n.js, "ward_"+n.cfg.Cluster+"_modules", n.cfg.Storage, DefaultMaxModuleSize)
		if err != nil {
			return nil, err
		}
		st.mods = ms
	}
	return st.mods, nil
}

// initSpawn serves remote spawns.
func (n *Node) initSpawn() {
	n.handle("spawn", func(ctx context.Context, from uint16, body []byte) (any, error) {
		var req spawnRequest
		if err := cbor.Unmarshal(body, &req); err != nil {
			return nil, errs.Wrap(err, "decoding a spawn request from node %d", from)
		}
		id, err := n.spawnHere(ctx, from, req)
		if err != nil {
			return spawnReply{Code: errorCode(err), Text: err.Error()}, nil
		}
		return spawnReply{PID: id}, nil
	})
}

// spawnHere serves a spawn on this node for the caller node from.
func (n *Node) spawnHere(ctx context.Context, from uint16, req spawnRequest) (uint64, error) {
	ms, err := n.modules(ctx)
	if err != nil {
		return 0, err
	}
	s := spawner{rt: n.rt, grants: n.cfg.Grants, mods: ms, owners: &n.spawning().owners}
	return s.spawn(ctx, from, req)
}

// Publish loads a module on this node and puts its bytes in the
// cluster's object store under their SHA-256 (unless they are there
// already), so that any node can spawn it by its Hash. A module larger
// than DefaultMaxModuleSize is refused (ErrModuleTooLarge): the nodes
// would refuse to fetch it. The caller owns the returned handle and may
// Close it: the node keeps one of its own.
func (n *Node) Publish(ctx context.Context, name string, wasm []byte) (*runtime.Module, error) {
	ms, err := n.modules(ctx)
	if err != nil {
		return nil, err
	}
	return ms.publish(ctx, name, wasm)
}

// Spawn starts a process on node running the export entry of the module
// with SHA-256 hash (Module.Hash) with params, in a fresh child
// environment of the environment node grants as opts.Grant (see
// SpawnOptions), and returns its id, qualified with node. A node that has
// not loaded the module fetches it from the object store (see Publish)
// and checks its bytes against the hash first. node 0 or n.ID() spawns
// here, under the same rules, and returns the id the runtime gave.
//
// Errors match route.ErrNoNode (node is not up), ErrUnknownGrant,
// ErrNoModule (never published), ErrModuleTooLarge, ErrHashMismatch (the
// store holds other bytes under the hash), environment.ErrWiden (limits
// wider than the grant or than Owner's environment), ErrNotPortable, and
// the runtime's spawn errors (runtime.ErrNoEntry and the like), on this
// node or on node alike. A Spawn cut short by ctx may still have started
// the process on node, with no id here to kill it by: give ctx room for
// the round trip (a fetch and compile on a node new to the module
// included) rather than cancelling it mid-way.
func (n *Node) Spawn(ctx context.Context, node uint16, hash string, entry string, opts SpawnOptions, params ...runtime.Value) (runtime.ProcessID, error) {
	if !validHash(hash) {
		return 0, errs.Errorf("ward: spawn %s: %w: %q", entry, ErrBadHash, hash)
	}
	cfg, err := portable(opts.Config)
	if err != nil {
		return 0, errs.Wrap(err, "spawn %s", entry)
	}
	req := spawnRequest{Hash: hash, Entry: entry, Params: toWire(params), Grant: opts.Grant, Config: cfg}
	if opts.Owner != nil {
		if opts.Owner.Runtime() != n.rt {
			return 0, errs.Wrap(runtime.ErrForeignModule, "spawn %s: SpawnOptions.Owner is an environment of another runtime", entry)
		}
		own := opts.Owner.Config()
		own.WASI = environment.WASI{} // host resources, which do not cross
		own.Host = nil
		req.OwnerConfig = &own
		req.Owner = envChain(opts.Owner)
	}
	if node == 0 || node == n.id {
		id, err := n.spawnHere(ctx, n.id, req)
		if err != nil {
			return 0, err
		}
		return runtime.ProcessID(id), nil
	}
	var rep spawnReply
	if err := n.call(ctx, node, "spawn", req, &rep); err != nil {
		return 0, errs.Wrap(err, "spawn %s on node %d", entry, node)
	}
	if rep.Code != 0 || rep.Text != "" {
		return 0, fromCode(rep.Code, rep.Text)
	}
	return runtime.ProcessID(route.Qualify(rep.PID, node)), nil
}
