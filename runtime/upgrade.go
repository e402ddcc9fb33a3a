package runtime

import (
	goruntime "runtime"
	"time"
	"weak"

	"github.com/wardrt/ward/environment"
	"github.com/wardrt/ward/internal/abi"
	"github.com/wardrt/ward/internal/wasm"
)

// upgradedTo is what an upgraded process runs now: the module of the
// version it moved to, and the entry it started there.
type upgradedTo struct {
	mod   *Module
	entry string
}

// running returns the module and entry p runs now: those it was spawned
// with, unless it upgraded since.
func (p *Process) running() (*Module, string) {
	if v, ok := p.env.rt.upgraded.Load(p); ok {
		u := v.(*upgradedTo)
		return u.mod, u.entry
	}
	return p.mod, p.entry
}

// module returns the module p runs now.
func (p *Process) module() *Module {
	m, _ := p.running()
	return m
}

// ranLast returns the module p runs now or, once it has ended, ran last.
// It costs more than module: a weak pointer to p.
func (p *Process) ranLast() *Module {
	r := p.env.rt
	if v, ok := r.upgraded.Load(p); ok {
		return v.(*upgradedTo).mod
	}
	if v, ok := r.upgradedEnded.Load(weak.Make(p)); ok {
		return v.(*Module)
	}
	return p.mod
}

// forgetUpgrade takes p, ending, out of the table of upgraded processes,
// and keeps what it ran last for Process.Module, keyed weakly: until the
// program drops p.
func (p *Process) forgetUpgrade() {
	r := p.env.rt
	v, ok := r.upgraded.Load(p)
	if !ok {
		return
	}
	// Kept before it is forgotten, so that ranLast always finds it.
	key := weak.Make(p)
	r.upgradedEnded.Store(key, v.(*upgradedTo).mod)
	goruntime.AddCleanup(p, func(key weak.Pointer[Process]) { r.upgradedEnded.Delete(key) }, key)
	r.upgraded.Delete(p)
}

// hostUpgrade serves ward_process.upgrade: the process moves to the
// current version of its module's name, keeping everything that is the
// Process (id, mailbox, names, links, monitors, environment) and dropping
// everything that is the instance. It runs on the process's own goroutine
// holding a run slot, never on a borrower's (pollBorrowed hands every
// call but send and receive back), so no one else touches the instance.
//
// Messages the old instance holds ahead of the mailbox (its C inbox) move
// to the new one as they are: they are older than anything in the
// mailbox, and nothing takes from the mailbox meanwhile. Those behind it,
// in its intake (sends in C), go into the mailbox, and the new instance
// takes the old one's place for sends in C.
func hostUpgrade(p *Process, wp *wasm.Proc) bool {
	mem := wp.Memory()
	entryB, ok1 := guestBytes(mem, wp.HostArg(0), wp.HostArg(1))
	state, ok2 := guestBytes(mem, wp.HostArg(2), wp.HostArg(3))
	if !ok1 || !ok2 {
		wp.Trap(calledName(wp) + ": entry name or state outside the caller's memory")
		return true
	}
	if len(entryB) > abi.MaxNameLen || len(state) > abi.MaxMessageSize {
		wp.Return(abi.ErrInvalid)
		return true
	}
	entry := string(entryB)
	r := p.env.rt
	to, ok := r.currentFor(p.module().code)
	if !ok {
		wp.Return(abi.ErrNotFound)
		return true
	}
	if ft, ok := to.m.Exports[entry]; !ok || len(ft.Params) > 0 {
		wp.Return(abi.ErrNotFound)
		return true
	}
	if to.checkImports(p.env) != nil {
		wp.Return(abi.ErrPermission)
		return true
	}
	if to.acquire(false) != nil {
		wp.Return(abi.ErrNotFound) // purged since: there is nothing to move to
		return true
	}
	nwp, status := p.instantiate(to, entry, append([]byte(nil), state...))
	if status != abi.OK {
		to.code.release()
		wp.Return(status)
		return true
	}
	old := p.module()
	if !r.commitUpgrade(p, to, entry) {
		p.teardown(nwp)
		to.code.release()
		wp.Return(abi.ErrNotFound) // purged meanwhile: there is nothing to move to
		return true
	}
	if wp.ReceivesInC() {
		// Sends in C go to Go while the intake moves: none may land in
		// the old one once the mailbox has let go of it.
		wp.Wait()
		p.mb.SetIntake(nwp) // the old intake's messages go into the mailbox
		wp.MoveInbox(nwp)
		nwp.Resume()
	} else {
		wp.MoveInbox(nwp)
	}
	p.wp = nwp
	p.teardown(wp)
	old.code.release()
	// execute polls p.wp next, and serves this status first (Process.next).
	p.resume, p.handedBack = nwp.Start(), true
	return true
}

// commitUpgrade records that p runs entry of to from now on, unless to
// has been purged since it was current. Under the versions lock, which a
// purge takes to uninstall the code before it looks for processes on it:
// so either this sees the purge, or the purge sees p on to.
func (r *Runtime) commitUpgrade(p *Process, to *Module, entry string) bool {
	vs := &r.versions
	vs.mu.Lock()
	defer vs.mu.Unlock()
	if to.code.installed == "" {
		return false
	}
	r.upgraded.Store(p, &upgradedTo{mod: to, entry: entry})
	return true
}

// instantiate makes the store of a new instance of m for p, ready to
// start entry with state as its current message under TagUpgrade. It
// returns the status the guest sees when it cannot.
func (p *Process) instantiate(m *Module, entry string, state []byte) (*wasm.Proc, int64) {
	cfg := &p.env.cfg
	nwp, err := m.code.newProc(p.env, uint64(p.id))
	if err != nil {
		return nil, abi.ErrLimit
	}
	fail := func(status int64) (*wasm.Proc, int64) {
		p.teardown(nwp)
		return nil, status
	}
	if cfg.FuelScope == environment.FuelPerMessage {
		nwp.RefillPerMessage(cfg.MaxFuel)
	}
	nwp.CountFuelFrom(p.fuelUsed.Load()) // FuelUsed counts the process's life, not the instance's
	nwp.SendInC(p.env.permits(abi.Funcs[idSend].Permission))
	if m.m.UsesWASI {
		w, _, err := p.env.wasi(false) // see execute: an upgraded process has no stderr tail
		if err != nil {
			return fail(abi.ErrLimit)
		}
		nwp.SetClockEpoch(time.Now())
		err = nwp.SetWASI(w)
		if p.outHeld {
			p.env.releaseOutputs() // the process holds them already
		} else {
			p.outHeld = true
		}
		if err != nil {
			return fail(abi.ErrLimit)
		}
		p.env.syncOutputs()
	}
	if err := nwp.SetEntry(entry, nil, len(m.m.Exports[entry].Results)); err != nil {
		return fail(abi.ErrInvalid)
	}
	if !nwp.SetMessage(state, abi.TagUpgrade, uint64(p.id)) {
		return fail(abi.ErrLimit)
	}
	return nwp, abi.OK
}
