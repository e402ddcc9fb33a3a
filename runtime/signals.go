package runtime

import (
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/wardrt/ward/internal/abi"
	"github.com/wardrt/ward/internal/errs"
	"github.com/wardrt/ward/mailbox"
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

// Errors of link and monitor past their bounds (environment.Config's
// MaxLinks and MaxMonitors), for errors.Is. A guest sees them as ErrLimit.
var (
	// ErrTooManyLinks: one of the two processes already has MaxLinks
	// links.
	ErrTooManyLinks = errors.New("ward: too many links")
	// ErrTooManyMonitors: the watcher already holds MaxMonitors monitors.
	ErrTooManyMonitors = errors.New("ward: too many monitors")
)

// signalState is a process's links, monitors and the timers aimed at it,
// guarded by its own mu: one environment's signals never wait on
// another's. An operation on two processes (link, unlink, monitor,
// demonitor) takes both locks in id order (lockPair); nothing holds two
// processes' locks otherwise, and nothing takes one while holding a
// mailbox's.
//
// The guarantees Erlang gives, and how they hold without a global lock:
//   - At most one link per pair, and no end missed: link checks that
//     neither process is dead and enters the link on both sides under
//     both locks, and a process ending sets dead under its own lock, so a
//     link is either refused or in the maps the end takes.
//   - Once unlink or demonitor has returned, no EXIT or DOWN from that
//     link or monitor can arrive: the end delivers each one under the
//     receiver's lock, and only while the receiver's side of it (its
//     links entry, its watching entry) is still there; unlink and
//     demonitor remove that side under the same lock. So demonitor
//     reporting false means the DOWN is already queued (endRequest,
//     flushDown rely on it).
type signalState struct {
	mu       sync.Mutex
	dead     bool
	remote   bool // it has ties to processes on other nodes (remote.go)
	links    map[ProcessID]*Process
	watchers map[MonitorRef]watcher  // monitors on this process
	watching map[MonitorRef]*Process // monitors this process holds, by target
	timersTo map[TimerID]struct{}    // pending timers aimed at this process (timers.go)
}

// watcher is a monitor seen from its target: who to tell, and under which
// tag (TagDown, or a request's reply tag: see Self.Request).
type watcher struct {
	p   *Process
	tag int64
}

// lockPair locks a's and b's signal state, in id order so that two pair
// operations cannot deadlock; a may be b.
func lockPair(a, b *Process) {
	switch {
	case a == b:
		a.sig.mu.Lock()
	case a.id < b.id:
		a.sig.mu.Lock()
		b.sig.mu.Lock()
	default:
		b.sig.mu.Lock()
		a.sig.mu.Lock()
	}
}

func unlockPair(a, b *Process) {
	a.sig.mu.Unlock()
	if a != b {
		b.sig.mu.Unlock()
	}
}

// link links a and b. It fails with ErrNoProcess if b (or a) has ended,
// with ErrTooManyLinks if either has MaxLinks links, and with an error
// matching mailbox.ErrFull if either mailbox is full: a link can bring an
// EXIT message, and refusing new ones while the mailbox is full is what
// bounds the EXITs a mailbox can hold past its limits (see signal).
func (r *Runtime) link(a, b *Process) error {
	if a == b {
		return nil // Erlang: linking to self does nothing
	}
	lockPair(a, b)
	defer unlockPair(a, b)
	if a.sig.dead || b.sig.dead {
		return fmt.Errorf("%w: %d", ErrNoProcess, b.id)
	}
	if _, ok := a.sig.links[b.id]; ok {
		return nil // at most one link per pair
	}
	for _, p := range [2]*Process{a, b} {
		if err := p.linkRoom(a.id, b.id); err != nil {
			return err
		}
	}
	if err := a.chargeEntry(ErrTooManyLinks); err != nil {
		return err
	}
	if err := b.chargeEntry(ErrTooManyLinks); err != nil {
		a.env.mem.Give(signalEntryCost)
		return err
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

// linkRoom says why p, one end of a link of a and b, may not take it:
// p has MaxLinks links already (with processes of any node), or its
// mailbox is full (a link can bring an EXIT message, see signal). The
// caller holds p.sig.mu.
func (p *Process) linkRoom(a, b ProcessID) error {
	if n := len(p.sig.links) + p.remoteLinks(); n >= p.env.cfg.MaxLinks {
		return fmt.Errorf("%w: process %d has %d, its environment's MaxLinks", ErrTooManyLinks, p.id, n)
	}
	if err := p.mb.CheckFull(); err != nil {
		return errs.Wrap(err, "link of %d and %d refused while process %d's mailbox is full", a, b, p.id)
	}
	return nil
}

// chargeEntry charges p's environment for one link end or monitor, or
// says with sentinel that its MaxTotalMemory has no room for it.
func (p *Process) chargeEntry(sentinel error) error {
	if !p.env.mem.Take(signalEntryCost) {
		return fmt.Errorf("%w: process %d's environment has no room left in its MaxTotalMemory", sentinel, p.id)
	}
	return nil
}

// chargeWatch admits and charges one more monitor held by w, of a target
// on any node. Only a plain monitor (bounded) is refused: at MaxMonitors
// (counting those on other nodes' processes), while w's mailbox is full
// (its DOWN could not be refused later), or past MaxTotalMemory. A
// request's watch is charged all the same, never refused: a process has
// one request pending at a time. The caller holds w.sig.mu.
func (w *Process) chargeWatch(target ProcessID, bounded bool) error {
	if !bounded {
		w.env.mem.Force(signalEntryCost)
		return nil
	}
	if n := len(w.sig.watching) + w.remoteMonitors(); n >= w.env.cfg.MaxMonitors {
		return fmt.Errorf("%w: process %d holds %d, its environment's MaxMonitors", ErrTooManyMonitors, w.id, n)
	}
	if err := w.mb.CheckFull(); err != nil {
		return errs.Wrap(err, "monitor of %d refused while process %d's mailbox is full", target, w.id)
	}
	return w.chargeEntry(ErrTooManyMonitors)
}

// signalEntryCost is what one side of a link, or a monitor, costs its
// process's environment against MaxTotalMemory while it stands: the map
// entries (measured at 222 bytes a link, 73 a monitor; docs/limits.md)
// and the EXIT or DOWN it may queue past the mailbox limits (a message
// with up to abi.MaxReasonText of reason).
const signalEntryCost = 2 << 10

func (r *Runtime) unlink(a *Process, b ProcessID) {
	if c := r.remoteOf(b); c != nil {
		c.unlinkRemote(a, b)
		return
	}
	if q := r.lookup(b); q != nil {
		b = q.id // the form it is known by, for an id given before the runtime joined a cluster
	}
	a.sig.mu.Lock()
	q := a.sig.links[b]
	a.sig.mu.Unlock()
	if q == nil {
		return
	}
	lockPair(a, q)
	if a.sig.links[b] == q {
		delete(a.sig.links, b)
		a.env.mem.Give(signalEntryCost)
		if q.sig.links[a.id] == a { // gone already once q has ended
			delete(q.sig.links, a.id)
			q.env.mem.Give(signalEntryCost)
		}
	}
	unlockPair(a, q)
}

// monitor makes w watch target. A target that has ended gets a DOWN with
// NoProc at once, counted against w's mailbox limits like any message. It
// fails with ErrTooManyMonitors when w holds MaxMonitors monitors, and
// with an error matching mailbox.ErrFull when w's mailbox is full.
func (r *Runtime) monitor(w *Process, target ProcessID) (MonitorRef, error) {
	ref := MonitorRef(nextMonitorRef.Add(1))
	if err := r.watchAny(w, target, ref, abi.TagDown); err != nil {
		return 0, err
	}
	return ref, nil
}

// watchRequest is monitor for a request (send_receive, Self.Request), its
// DOWN sent under tag. It is never refused: a process has one request
// pending at a time, so these need no bound of their own, and a requester
// must hear of its target's end.
func (r *Runtime) watchRequest(w *Process, target ProcessID, tag int64) MonitorRef {
	ref := MonitorRef(nextMonitorRef.Add(1))
	_ = r.watchAny(w, target, ref, tag) // a request tag is never refused
	return ref
}

// watchAny is watch for a target on this node or another.
func (r *Runtime) watchAny(w *Process, target ProcessID, ref MonitorRef, tag int64) error {
	t := r.lookup(target)
	if t == nil {
		if c := r.remoteOf(target); c != nil {
			return c.watchRemote(w, target, ref, tag)
		}
	}
	return r.watch(w, t, target, ref, tag)
}

// watch makes w watch t (nil when target is not alive) under ref, with
// the DOWN sent under tag. Only a plain monitor (tag TagDown) is bounded.
func (r *Runtime) watch(w, t *Process, target ProcessID, ref MonitorRef, tag int64) error {
	bounded := tag == abi.TagDown
	if t == nil {
		return w.noProc(ref, tag, target, bounded)
	}
	lockPair(w, t)
	defer unlockPair(w, t)
	if w.sig.dead {
		return nil // its mailbox is closed: there is no one to tell
	}
	if t.sig.dead {
		return w.noProc(ref, tag, target, bounded)
	}
	if err := w.chargeWatch(target, bounded); err != nil {
		return err
	}
	if t.sig.watchers == nil {
		t.sig.watchers = map[MonitorRef]watcher{}
	}
	if w.sig.watching == nil {
		w.sig.watching = map[MonitorRef]*Process{}
	}
	t.sig.watchers[ref] = watcher{w, tag}
	w.sig.watching[ref] = t
	return nil
}

// noProc queues the DOWN of a monitor of a process that is not alive. A
// plain monitor's is an ordinary message as far as the limits go: no link
// or monitor stands behind it to bound how many a loop could queue.
func (w *Process) noProc(ref MonitorRef, tag int64, target ProcessID, bounded bool) error {
	m := downMessage(ref, tag, target, NoProc)
	if !bounded {
		w.signal(m)
		return nil
	}
	err := w.mb.Push(m)
	switch {
	case errors.Is(err, mailbox.ErrClosed):
		return nil // w has ended: nothing to tell
	case err != nil:
		return errs.Wrap(err, "monitor of %d refused: no room for its DOWN in process %d's mailbox", target, w.id)
	}
	return nil
}

// demonitor ends a monitor. It reports false when there was none to end:
// the monitor fired (its DOWN is queued) or never existed.
func (r *Runtime) demonitor(w *Process, ref MonitorRef) bool {
	w.sig.mu.Lock()
	t, ok := w.sig.watching[ref]
	remote := w.sig.remote
	w.sig.mu.Unlock()
	if !ok {
		if c := r.cluster.Load(); remote && c != nil {
			return c.demonitorRemote(w, ref)
		}
		return false
	}
	lockPair(w, t)
	defer unlockPair(w, t)
	if _, ok = w.sig.watching[ref]; ok {
		delete(w.sig.watching, ref)
		w.env.mem.Give(signalEntryCost)
		delete(t.sig.watchers, ref) // a no-op once t has ended
	}
	return ok
}

// propagateExit runs once, when p has ended with reason: it tells linked
// processes and watchers, and cancels the timers aimed at p.
//
// It holds p's lock only to mark p dead and take its maps, then tells each
// peer under that peer's lock alone: a process ending with a million
// monitors on it holds no lock anyone else waits on for longer than one
// message takes. Under the peer's lock it delivers only if the peer's
// side of the link or monitor is still there, which is what keeps a
// returned unlink or demonitor final (see signalState).
func (p *Process) propagateExit(reason Reason) {
	p.sig.mu.Lock()
	p.sig.dead = true
	links, watchers, watching, timers := p.sig.links, p.sig.watchers, p.sig.watching, p.sig.timersTo
	p.sig.links, p.sig.watchers, p.sig.watching, p.sig.timersTo = nil, nil, nil, nil
	cluster, remote := p.takeRemote()
	p.sig.mu.Unlock()
	if cluster != nil {
		cluster.ended(p, remote, reason)
	}
	// p's sides of its links and the monitors it held go with it.
	p.env.mem.Give(int64(len(links)+len(watching)) * signalEntryCost)

	for _, q := range links {
		q.sig.mu.Lock()
		if q.sig.links[p.id] == p {
			delete(q.sig.links, p.id)
			q.env.mem.Give(signalEntryCost)
			q.exitSignal(p.id, reason)
		}
		q.sig.mu.Unlock()
	}
	for ref, w := range watchers {
		w.p.sig.mu.Lock()
		if _, ok := w.p.sig.watching[ref]; ok {
			// A watcher forgets a monitor once it has fired, or a
			// long-lived one (a supervisor) would hold an entry for
			// every process it outlived.
			delete(w.p.sig.watching, ref)
			w.p.env.mem.Give(signalEntryCost)
			w.p.signal(downMessage(ref, w.tag, p.id, reason))
		}
		w.p.sig.mu.Unlock()
	}
	for ref, t := range watching {
		t.sig.mu.Lock()
		delete(t.sig.watchers, ref)
		t.sig.mu.Unlock()
	}
	r := p.env.rt
	for id := range timers {
		r.cancelTimer(id, nil) // Erlang cancels a timer whose target ends
	}
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

// signal puts a runtime message in p's mailbox past its limits: losing an
// EXIT or DOWN would break supervision. Their number is bounded all the
// same: each comes from a link or monitor, at most MaxLinks and
// MaxMonitors of them are held at a time, and none is made while the
// mailbox is full, so signals take a mailbox at most MaxLinks +
// MaxMonitors messages (and one pending request's DOWN) past its limits.
func (p *Process) signal(m Message) {
	_ = p.mb.PushSignal(m) // a closed mailbox means p has ended: nothing to tell
}

// reasonText is the text of reason a signal message carries, at most
// abi.MaxReasonText bytes of it.
func reasonText(reason Reason) string {
	text := reason.Error()
	if len(text) <= abi.MaxReasonText {
		return text
	}
	// Dropping what is not UTF-8 drops a character the cut split.
	return strings.ToValidUTF8(text[:abi.MaxReasonText], "")
}

func exitMessage(from ProcessID, reason Reason) Message {
	text := reasonText(reason)
	b := make([]byte, 12+len(text))
	binary.LittleEndian.PutUint64(b, uint64(from))
	binary.LittleEndian.PutUint32(b[8:], reasonKind(reason))
	copy(b[12:], text)
	return Message{Sender: uint64(from), Tag: abi.TagExit, Data: b, Handles: []any{reason}}
}

func downMessage(ref MonitorRef, tag int64, from ProcessID, reason Reason) Message {
	text := reasonText(reason)
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
		rr *RemoteReason
	)
	switch {
	case errors.As(r, &rr):
		return rr.Kind
	case r == NoConnection:
		return abi.ReasonNoConnection
	case r.Normal():
		return abi.ReasonNormal
	case errors.Is(r, ErrPurged):
		return abi.ReasonPurged
	case r == Killed, errors.Is(r, ErrTimeLimit):
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
