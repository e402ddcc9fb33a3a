package runtime

import (
	"encoding/binary"
	"errors"
	"fmt"
	"sync/atomic"

	"github.com/wardrt/ward/internal/abi"
)

// MonitorRef identifies one monitor.
type MonitorRef uint64

var nextMonitorRef atomic.Uint64

// ErrNoProcess is returned for a signal or message to a process that is not
// alive (it ended, or never existed).
var ErrNoProcess = errors.New("ward: no such process")

type noprocReason struct{}

func (noprocReason) Error() string { return "noproc" }
func (noprocReason) Normal() bool  { return false }

// NoProc is the reason a monitor of a process that was not alive reports.
var NoProc Reason = noprocReason{}

// termination is why a process is being ended from outside: a kill, or a
// linked peer's abnormal end.
type termination struct {
	reason  Reason
	viaLink bool // the reason is a peer's: do not log it as this process's failure
}

// signalState is a process's links and monitors, guarded by Runtime.sigMu.
// One lock for the whole runtime keeps link, spawn-link and death atomic
// with respect to each other, which is what makes "at most one link per
// pair" and "no end is missed" easy to see.
type signalState struct {
	dead     bool
	links    map[ProcessID]*Process
	watchers map[MonitorRef]watcher  // monitors on this process
	watching map[MonitorRef]*Process // monitors this process holds, by target
}

// watcher is a monitor seen from its target: who to tell, and under which
// tag (TagDown, or a request's reply tag: see Self.Request).
type watcher struct {
	p   *Process
	tag int64
}

// link links a and b. It fails with ErrNoProcess if b (or a) has ended.
func (r *Runtime) link(a, b *Process) error {
	if a == b {
		return nil // Erlang: linking to self does nothing
	}
	r.sigMu.Lock()
	defer r.sigMu.Unlock()
	if a.sig.dead || b.sig.dead {
		return fmt.Errorf("%w: %d", ErrNoProcess, b.id)
	}
	if a.sig.links == nil {
		a.sig.links = map[ProcessID]*Process{}
	}
	if b.sig.links == nil {
		b.sig.links = map[ProcessID]*Process{}
	}
	a.sig.links[b.id] = b
	b.sig.links[a.id] = a
	return nil
}

func (r *Runtime) unlink(a *Process, b ProcessID) {
	r.sigMu.Lock()
	defer r.sigMu.Unlock()
	if q, ok := a.sig.links[b]; ok {
		delete(a.sig.links, b)
		delete(q.sig.links, a.id)
	}
}

// monitor makes w watch target. A target that has ended gets a DOWN with
// NoProc at once.
func (r *Runtime) monitor(w *Process, target ProcessID) MonitorRef {
	return r.monitorWith(w, target, abi.TagDown)
}

// monitorWith is monitor with the DOWN message sent under tag.
func (r *Runtime) monitorWith(w *Process, target ProcessID, tag int64) MonitorRef {
	ref := MonitorRef(nextMonitorRef.Add(1))
	r.watch(w, r.lookup(target), target, ref, tag)
	return ref
}

// watch makes w watch t (nil when target is not alive) under ref, with
// the DOWN sent under tag.
func (r *Runtime) watch(w, t *Process, target ProcessID, ref MonitorRef, tag int64) {
	r.sigMu.Lock()
	if t == nil || t.sig.dead || w.sig.dead {
		r.sigMu.Unlock()
		w.signal(downMessage(ref, tag, target, NoProc)) // dropped if w has ended
		return
	}
	if t.sig.watchers == nil {
		t.sig.watchers = map[MonitorRef]watcher{}
	}
	if w.sig.watching == nil {
		w.sig.watching = map[MonitorRef]*Process{}
	}
	t.sig.watchers[ref] = watcher{w, tag}
	w.sig.watching[ref] = t
	r.sigMu.Unlock()
}

// demonitor ends a monitor. It reports false when there was none to end:
// the monitor fired (its DOWN is queued or on its way) or never existed.
func (r *Runtime) demonitor(w *Process, ref MonitorRef) bool {
	r.sigMu.Lock()
	defer r.sigMu.Unlock()
	t, ok := w.sig.watching[ref]
	if ok {
		delete(w.sig.watching, ref)
		delete(t.sig.watchers, ref)
	}
	return ok
}

// propagateExit runs once, when p has ended with reason: it tells linked
// processes and watchers.
func (p *Process) propagateExit(reason Reason) {
	r := p.env.rt
	r.sigMu.Lock()
	p.sig.dead = true
	links, watchers := p.sig.links, p.sig.watchers
	p.sig.links, p.sig.watchers = nil, nil
	for _, q := range links {
		delete(q.sig.links, p.id)
	}
	for ref, t := range p.sig.watching {
		delete(t.sig.watchers, ref)
	}
	p.sig.watching = nil
	// Signals go out before the lock does, as Erlang guarantees: once
	// demonitor or unlink has returned, that monitor's DOWN or that link's
	// exit signal can no longer arrive, and a requester whose demonitor
	// finds its watch fired finds the DOWN already queued (endRequest,
	// flushDown). Nothing below takes sigMu: a mailbox push, a wake-up, a
	// context cancel.
	for _, q := range links {
		q.exitSignal(p.id, reason)
	}
	for ref, w := range watchers {
		// A watcher forgets a monitor once it has fired, or a long-lived
		// one (a supervisor) would hold an entry for every process it
		// outlived.
		delete(w.p.sig.watching, ref)
		w.p.signal(downMessage(ref, w.tag, p.id, reason))
	}
	r.sigMu.Unlock()
}

// exitSignal delivers a linked peer's end: a message if p traps exits, its
// own end with the same reason if the reason is abnormal, nothing otherwise.
func (p *Process) exitSignal(from ProcessID, reason Reason) {
	if p.trapExit.Load() {
		p.signal(exitMessage(from, reason))
		return
	}
	if !reason.Normal() {
		p.terminate(reason, true)
	}
}

// signal puts a runtime message in p's mailbox; signals ignore the
// mailbox's limits (their number is bounded by links and monitors).
func (p *Process) signal(m Message) {
	_ = p.mb.PushSignal(m) // a closed mailbox means p has ended: nothing to tell
}

func exitMessage(from ProcessID, reason Reason) Message {
	text := reason.Error()
	b := make([]byte, 12+len(text))
	binary.LittleEndian.PutUint64(b, uint64(from))
	binary.LittleEndian.PutUint32(b[8:], reasonKind(reason))
	copy(b[12:], text)
	return Message{Sender: uint64(from), Tag: abi.TagExit, Data: b, Handles: []any{reason}}
}

func downMessage(ref MonitorRef, tag int64, from ProcessID, reason Reason) Message {
	text := reason.Error()
	b := make([]byte, 20+len(text))
	binary.LittleEndian.PutUint64(b, uint64(ref))
	binary.LittleEndian.PutUint64(b[8:], uint64(from))
	binary.LittleEndian.PutUint32(b[16:], reasonKind(reason))
	copy(b[20:], text)
	h := any(reason)
	if tag != abi.TagDown {
		h = requestEnded{reason}
	}
	return Message{Sender: uint64(from), Tag: tag, Data: b, Handles: []any{h}}
}

// requestEnded marks the DOWN of a request's monitor, which arrives under
// the reply's tag: no reply can carry one, as the type is not exported.
type requestEnded struct{ reason Reason }

// endedBeforeReply returns the target's reason if m is the DOWN of a
// request's monitor rather than its reply.
func endedBeforeReply(m Message) (Reason, bool) {
	if len(m.Handles) != 1 {
		return nil, false
	}
	e, ok := m.Handles[0].(requestEnded)
	return e.reason, ok
}

// reasonKind is the number guests see for a reason (abi.Reason*).
func reasonKind(r Reason) uint32 {
	var (
		fe *FuelError
		me *MemoryLimitError
		ee *ExitError
		ie *InstantiateError
		te *TrapError
		ge *GoError
	)
	switch {
	case r.Normal():
		return abi.ReasonNormal
	case r == Killed:
		return abi.ReasonKilled
	case r == NoProc:
		return abi.ReasonNoProc
	case errors.As(r, &fe):
		return abi.ReasonOutOfFuel
	case errors.As(r, &me):
		return abi.ReasonMemoryLimit
	case errors.As(r, &ie):
		return abi.ReasonInstantiate
	case errors.As(r, &ee):
		return abi.ReasonExitCode
	case errors.As(r, &te):
		return abi.ReasonTrap
	case errors.As(r, &ge):
		return abi.ReasonGoError
	}
	return abi.ReasonTrap
}

// ExitSignal is the content of a TagExit message: a linked process ended
// while the receiver traps exits.
type ExitSignal struct {
	From   ProcessID
	Reason Reason
}

// Down is the content of a TagDown message: a monitored process ended.
type Down struct {
	Ref     MonitorRef
	Process ProcessID
	Reason  Reason
}

// ParseExit reads a TagExit message.
func ParseExit(m Message) (ExitSignal, bool) {
	if m.Tag != abi.TagExit || len(m.Data) < 12 {
		return ExitSignal{}, false
	}
	s := ExitSignal{From: ProcessID(binary.LittleEndian.Uint64(m.Data))}
	s.Reason, _ = firstReason(m)
	return s, s.Reason != nil
}

// ParseDown reads a TagDown message.
func ParseDown(m Message) (Down, bool) {
	if m.Tag != abi.TagDown || len(m.Data) < 20 {
		return Down{}, false
	}
	d := Down{
		Ref:     MonitorRef(binary.LittleEndian.Uint64(m.Data)),
		Process: ProcessID(binary.LittleEndian.Uint64(m.Data[8:])),
	}
	d.Reason, _ = firstReason(m)
	return d, d.Reason != nil
}

func firstReason(m Message) (Reason, bool) {
	if len(m.Handles) == 0 {
		return nil, false
	}
	r, ok := m.Handles[0].(Reason)
	return r, ok
}
