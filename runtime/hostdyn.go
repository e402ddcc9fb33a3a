package runtime

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	goruntime "runtime"

	"github.com/wardrt/ward/environment"
	"github.com/wardrt/ward/hostapi"
	"github.com/wardrt/ward/internal/abi"
)

// Guest host functions of the ward_module and ward_environment
// namespaces: modules compiled by guests, and narrower environments made
// by guests. The handles they hand out are in handles.go.

// guestCompile is the outcome of a compile a guest asked for.
type guestCompile struct {
	mod  *Module
	cost int64 // what holding it is charged (codeCost)
	err  error
}

// compileReserve is what a compile in flight is charged per Wasm byte.
const compileReserve = 6

// codeCostOverhead is added to a module's serialized size: wasmtime's
// per-module structures (type tables, export maps) and ward's.
const codeCostOverhead = 16 << 10

// codeCost is what holding m's compiled code is charged against
// MaxTotalMemory: the length of its serialized form, which is the
// compiled image wasmtime maps into memory (machine code, data,
// metadata), plus a fixed overhead. Measured rather than guessed from
// the Wasm size, since the ratio varies several-fold between modules;
// should serializing fail, the compile's own reserve for wasmLen bytes
// stands in.
func codeCost(m *Module, wasmLen int) int64 {
	b, err := m.m.Serialize()
	if err != nil {
		return compileReserve*int64(wasmLen) + codeCostOverhead
	}
	return int64(len(b)) + codeCostOverhead
}

// compileForGuest compiles b for p without holding its run slot, and
// returns its outcome, or false when p was killed meanwhile. reserve, what
// p's environment was charged for the compile, is given back when the
// compile ends. The compile takes one of the runtime's compile slots; a
// killed caller's compile still finishes, in the background, and its
// result is released there.
func (p *Process) compileForGuest(b []byte, reserve int64) (guestCompile, bool) {
	r := p.env.rt
	env := p.env
	ctx := p.hostContext()
	ch := make(chan guestCompile, 1)
	// Runtime.Close waits for r.wg before it frees the budgets this
	// charges; p's own count keeps r.wg above zero while it is added.
	r.wg.Add(1)
	go func() {
		defer r.wg.Done()
		ch <- r.compileGuestModule(ctx, env, b, reserve)
	}()
	var res guestCompile
	killed := false
	p.unslotted(func() {
		select {
		case res = <-ch:
		case <-ctx.Done():
			killed = true
		}
	})
	if killed || p.killed.Load() {
		if !killed {
			releaseCompile(res)
			return res, false
		}
		r.wg.Add(1)
		go func() {
			defer r.wg.Done()
			releaseCompile(<-ch)
		}()
		return res, false
	}
	return res, true
}

// releaseCompile lets go of a compile nobody will hold.
func releaseCompile(res guestCompile) {
	if res.mod != nil {
		res.mod.Close()
	}
}

// compileGuestModule waits for a compile slot (unless ctx ends first),
// compiles b and gives back reserve.
func (r *Runtime) compileGuestModule(ctx context.Context, env *Environment, b []byte, reserve int64) guestCompile {
	defer func() {
		env.mem.Give(reserve)
		// env's budget is freed when env becomes unreachable (envLife.end),
		// and once its caller has ended only this goroutine refers to
		// it: without this, the collector may free the budget under Give.
		goruntime.KeepAlive(env)
	}()
	slots := r.dyn.slots()
	select {
	case slots <- struct{}{}:
	case <-ctx.Done():
		return guestCompile{err: ctx.Err()}
	}
	defer func() { <-slots }()
	n := r.dyn.compiling.Add(1)
	defer r.dyn.compiling.Add(-1)
	for most := r.dyn.mostCompiling.Load(); n > most && !r.dyn.mostCompiling.CompareAndSwap(most, n); {
		most = r.dyn.mostCompiling.Load()
	}
	hash := sha256.Sum256(b)
	name := fmt.Sprintf("guest-%x", hash[:6])
	code, err := r.modules.get(hash, func() (*Module, error) { return r.compileUncached(name, hash, b) })
	if err != nil {
		return guestCompile{err: err}
	}
	m := r.newHandle(name, code)
	return guestCompile{mod: m, cost: handleEntryCost + codeCost(m, len(b))}
}

// compileUncached compiles b without the cache directory: a guest that
// loads module after module would otherwise fill the disk with them.
func (r *Runtime) compileUncached(name string, hash [32]byte, b []byte) (*Module, error) {
	wm, err := r.engine.Compile(b)
	if err != nil {
		return nil, err
	}
	wm.ReadTables(b)
	m := &Module{name: name, hash: hash, rt: r, m: wm}
	for _, im := range wm.Imports {
		m.imports = append(m.imports, environment.Import{Module: im.Module, Name: im.Name})
	}
	return m, nil
}

func hostModuleLoad(_ context.Context, c *hostapi.Call) error {
	p, h := caller(c)
	b, errB := c.Read(c.Arg(0), c.Arg(1))
	out, errOut := c.Read(c.Arg(2), 8)
	if errB != nil || errOut != nil {
		return errors.New("module bytes or handle pointer outside the caller's memory")
	}
	if len(b) > p.env.cfg.MaxModuleBytes {
		c.Return(abi.ErrLimit)
		return nil
	}
	if !bytes.HasPrefix(b, []byte("\x00asm")) {
		// Binary modules only: the WAT parser LoadModule offers Go
		// callers is no surface to open to guests.
		c.Return(abi.ErrInvalid)
		return nil
	}
	// Refused before compiling, so a guest at its limit costs no compile.
	if len(h.tokens) >= p.env.cfg.MaxHandles {
		c.Return(abi.ErrLimit)
		return nil
	}
	// Charged while the compile runs: the copy of the bytes, which
	// outlives the guest's memory if it is killed meanwhile, and the
	// compiled image being built, about 5 times the Wasm bytes for a Go
	// guest (docs/limits.md).
	reserve := compileReserve * int64(len(b))
	if !p.env.mem.Take(reserve) {
		c.Return(abi.ErrLimit)
		return nil
	}
	res, alive := p.compileForGuest(append([]byte(nil), b...), reserve)
	if !alive {
		return nil // serveExternal sees the kill
	}
	if res.err != nil {
		c.Return(loadStatus(res.err))
		return nil
	}
	t, err := p.env.rt.dyn.add(h, &handleEntry{kind: handleModule, mod: res.mod, cost: res.cost})
	if err != nil {
		res.mod.Close()
		c.Return(abi.ErrLimit)
		return nil
	}
	p.wp.FreshSlice() // it waited: its slice has likely passed
	binary.LittleEndian.PutUint64(out, t)
	c.Return(abi.OK)
	return nil
}

// loadStatus maps a compile's error to the status a guest sees: the
// runtime closing, or bytes that are not a valid module.
func loadStatus(err error) int64 {
	if errors.Is(err, ErrClosed) || errors.Is(err, context.Canceled) {
		return abi.ErrClosed
	}
	return abi.ErrInvalid
}

func hostModuleSpawn(_ context.Context, c *hostapi.Call) error {
	p, h := caller(c)
	name, errName := c.Read(c.Arg(1), c.Arg(2))
	idOut, errID := c.Read(c.Arg(6), 8)
	if errName != nil || errID != nil {
		return errors.New("entry name or id pointer outside the caller's memory")
	}
	if len(name) > abi.MaxNameLen {
		c.Return(abi.ErrInvalid)
		return nil
	}
	params, st, err := guestSpawnParams(c, c.Arg(3), uint32(c.Arg(4)))
	if err != nil || st != abi.OK {
		c.Return(st)
		return err
	}
	d := &p.env.rt.dyn
	me, err := d.get(h, uint64(c.Arg(0)), handleModule)
	if err != nil {
		c.Return(abi.ErrNotFound)
		return nil
	}
	env := p.env
	if t := uint64(c.Arg(5)); t != 0 {
		ee, err := d.get(h, t, handleEnv)
		if err != nil {
			c.Return(abi.ErrNotFound)
			return nil
		}
		env = ee.env
	}
	// The caller holds the module, so its handle stays open throughout.
	child, err := env.spawn(me.mod, string(name), params, p, false)
	if err != nil {
		c.Return(statusOf(err))
		return nil
	}
	binary.LittleEndian.PutUint64(idOut, uint64(child.id))
	c.Return(abi.OK)
	return nil
}

// guestSpawnParams reads count spawn parameter records at ptr, as
// spawnParams does for goHost's spawns: a status other than OK refuses
// the call, an error traps the caller.
func guestSpawnParams(c *hostapi.Call, ptr int64, count uint32) ([]Value, int64, error) {
	if count > abi.MaxSpawnParams {
		return nil, abi.ErrInvalid, nil
	}
	recs, err := c.Read(ptr, int64(count)*abi.SpawnParamSize)
	if err != nil {
		return nil, 0, errors.New("params outside the caller's memory")
	}
	params, ok := decodeSpawnParams(recs)
	if !ok {
		return nil, abi.ErrInvalid, nil
	}
	return params, abi.OK, nil
}

func hostModuleDrop(_ context.Context, c *hostapi.Call) error {
	p, h := caller(c)
	c.Return(handleStatus(p.env.rt.dyn.drop(h, uint64(c.Arg(0)), handleModule)))
	return nil
}

func hostModuleTake(_ context.Context, c *hostapi.Call) error {
	p, h := caller(c)
	c.Return(handleStatus(p.env.rt.dyn.take(h, uint64(c.Arg(0)))))
	return nil
}

// handleStatus maps a handle table error to a guest status.
func handleStatus(err error) int64 {
	switch {
	case err == nil:
		return abi.OK
	case errors.Is(err, errNoHandle):
		return abi.ErrNotFound
	case errors.Is(err, errTooManyHandles):
		return abi.ErrLimit
	}
	return abi.ErrInvalid
}
