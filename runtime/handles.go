package runtime

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	goruntime "runtime"
	"sync"
	"sync/atomic"
)

// Handles are what a guest holds of the modules it compiled or took
// (ward_module) and of the environments it made (ward_environment). A
// handle is an unguessable 64-bit token naming a runtime-wide entry: a
// guest may send a module's token in a message, and the receiver takes it
// (ward_module.take) to hold it too. Guessing a live token takes about
// 2^63 tries, so the token is the capability; an environment's token is
// usable by its creator alone.
//
// Each process's holdings are bounded by its environment's MaxHandles,
// and each holding is charged to its environment's MaxTotalMemory (the
// entry's cost, which for a module includes its compiled code) until the
// process drops it or ends. The entry goes with its last holder: for a
// module, its handle is closed, so the code is freed once no process runs
// it either.

// errTooManyHandles is wrapped by the errors of a load, take or create
// that would take a process past its environment's MaxHandles, or its
// environment past MaxTotalMemory. Guests get the ErrLimit status.
var errTooManyHandles = errors.New("ward: too many handles")

// errNoHandle: the process holds no handle of that token and kind.
// Guests get ErrNotFound.
var errNoHandle = errors.New("ward: no such handle")

type handleKind uint8

const (
	handleModule handleKind = iota + 1
	handleEnv
)

// handleEntry is what one token names.
type handleEntry struct {
	kind handleKind
	mod  *Module      // handleModule: owns one reference to the code
	env  *Environment // handleEnv
	// cost is what each holder's environment is charged while it holds
	// the entry: the same for every holder, so a holder gives back what
	// it took whoever else came and went.
	cost    int64
	holders int
}

// dynState is the runtime's part of guest-made modules and environments:
// the handle table and the compile slots. What each process holds is its
// own heldHandles.
type dynState struct {
	mu      sync.Mutex
	entries map[uint64]*handleEntry

	slotsOnce sync.Once
	// compileSlots bounds the guest compiles running at once, runtime
	// wide, to GOMAXPROCS: however many guests load, the host compiles
	// at most that many modules at a time.
	compileSlots chan struct{}
	// compiling counts the compiles holding a slot; mostCompiling is the
	// most there ever were, for tests.
	compiling, mostCompiling atomic.Int32
}

func (d *dynState) slots() chan struct{} {
	d.slotsOnce.Do(func() { d.compileSlots = make(chan struct{}, goruntime.GOMAXPROCS(0)) })
	return d.compileSlots
}

// Costs charged to MaxTotalMemory per handle held, besides a module's
// code (see codeCost).
const (
	// handleEntryCost covers the entry, its map slots and the Module
	// handle.
	handleEntryCost = 512
	// envHandleCost covers an environment: its struct, registry, memory
	// budget and lifetime record, a few KiB together.
	envHandleCost = 8 << 10
)

// newToken returns a random token that is not 0 and not in use; d.mu must
// be held.
func (d *dynState) newToken() uint64 {
	var b [8]byte
	for {
		if _, err := rand.Read(b[:]); err != nil {
			panic(fmt.Sprintf("ward: crypto/rand failed: %v", err)) // crypto/rand does not fail on Linux
		}
		t := binary.LittleEndian.Uint64(b[:])
		if _, used := d.entries[t]; t != 0 && !used {
			return t
		}
	}
}

// heldHandles is what one process holds: the state of the built-in
// ward_module and ward_environment modules (hostbuiltin.go), one for both,
// since MaxHandles bounds them together. Only the process's goroutine
// touches tokens (its handlers, then Close), so it needs no lock; the
// entries they name are d's, under d.mu.
type heldHandles struct {
	p      *Process
	tokens []uint64 // at most the environment's MaxHandles
}

// Close ends every holding of the process, which has ended.
func (h *heldHandles) Close(context.Context) { h.p.env.rt.dyn.dropAll(h) }

// charge counts one more handle for h's process and charges cost to its
// environment; d.mu must be held.
func (d *dynState) charge(h *heldHandles, cost int64) error {
	p := h.p
	if n := len(h.tokens); n >= p.env.cfg.MaxHandles {
		return fmt.Errorf("%w: the process holds %d and its environment's MaxHandles is %d; drop one first",
			errTooManyHandles, n, p.env.cfg.MaxHandles)
	}
	if !p.env.mem.Take(cost) {
		return fmt.Errorf("%w: %d bytes more do not fit the environment's MaxTotalMemory %d (%d in use)",
			errTooManyHandles, cost, p.env.cfg.MaxTotalMemory, p.env.mem.Used())
	}
	return nil
}

// add makes a new entry held by h's process alone and returns its token.
func (d *dynState) add(h *heldHandles, e *handleEntry) (uint64, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if err := d.charge(h, e.cost); err != nil {
		return 0, err
	}
	if d.entries == nil {
		d.entries = map[uint64]*handleEntry{}
	}
	t := d.newToken()
	e.holders = 1
	d.entries[t] = e
	h.tokens = append(h.tokens, t)
	return t, nil
}

// take makes h's process a holder of the module entry t; holding it
// already is fine.
func (d *dynState) take(h *heldHandles, t uint64) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	e, ok := d.entries[t]
	if !ok || e.kind != handleModule {
		return fmt.Errorf("%w: no module handle %#x is held by any process", errNoHandle, t)
	}
	if h.holds(t) {
		return nil
	}
	if err := d.charge(h, e.cost); err != nil {
		return err
	}
	e.holders++
	h.tokens = append(h.tokens, t)
	return nil
}

// holds reports whether the process holds t.
func (h *heldHandles) holds(t uint64) bool {
	for _, x := range h.tokens {
		if x == t {
			return true
		}
	}
	return false
}

// get returns the entry t of kind if h's process holds it.
func (d *dynState) get(h *heldHandles, t uint64, kind handleKind) (*handleEntry, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if e, ok := d.entries[t]; ok && e.kind == kind && h.holds(t) {
		return e, nil
	}
	return nil, fmt.Errorf("%w: the process holds no %s handle %#x", errNoHandle, kind, t)
}

func (k handleKind) String() string {
	if k == handleModule {
		return "module"
	}
	return "environment"
}

// drop ends h's process's holding of t, of kind.
func (d *dynState) drop(h *heldHandles, t uint64, kind handleKind) error {
	d.mu.Lock()
	e, ok := d.entries[t]
	if !ok || e.kind != kind || !h.holds(t) {
		d.mu.Unlock()
		return fmt.Errorf("%w: the process holds no %s handle %#x", errNoHandle, kind, t)
	}
	hs := h.tokens
	for i, x := range hs {
		if x == t {
			hs[i] = hs[len(hs)-1]
			h.tokens = hs[:len(hs)-1]
			break
		}
	}
	last := d.unhold(h.p, t, e)
	d.mu.Unlock()
	last.release()
	return nil
}

// unhold gives back p's charge for e and returns e if p was its last
// holder, for release outside the lock; d.mu must be held.
func (d *dynState) unhold(p *Process, t uint64, e *handleEntry) *handleEntry {
	p.env.mem.Give(e.cost)
	e.holders--
	if e.holders > 0 {
		return nil
	}
	delete(d.entries, t)
	return e
}

// release lets go of what an entry no process holds any more referred
// to: a module's code reference (the code goes when no process runs it
// either). An environment needs nothing: it lives while a process runs in
// it, like one made by Environment.NewChild and dropped.
func (e *handleEntry) release() {
	if e != nil && e.mod != nil {
		e.mod.Close()
	}
}

// dropAll ends every holding of h's process, which has ended. A process
// that never called ward_module or ward_environment has no heldHandles,
// so its end takes no lock here.
func (d *dynState) dropAll(h *heldHandles) {
	if len(h.tokens) == 0 {
		return
	}
	d.mu.Lock()
	var last []*handleEntry
	for _, t := range h.tokens {
		if e := d.unhold(h.p, t, d.entries[t]); e != nil {
			last = append(last, e)
		}
	}
	h.tokens = nil
	d.mu.Unlock()
	for _, e := range last {
		e.release()
	}
}

// numHandles reports the module and environment handles the processes of
// the runtime hold, counting each entry once however many hold it.
func (r *Runtime) numHandles() int {
	r.dyn.mu.Lock()
	defer r.dyn.mu.Unlock()
	return len(r.dyn.entries)
}
