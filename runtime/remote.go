package runtime

import (
	"encoding/binary"
	"errors"
	"fmt"
	"sync"

	"github.com/wardrt/ward/internal/abi"
	"github.com/wardrt/ward/internal/route"
)

// Processes on other nodes. A runtime that joins a cluster (package
// cluster, through route.Attach) gets an attachment: its node number and
// the transport that carries operations to other nodes. Links and
// monitors between a local process and a remote one keep their local end
// here, in a remoteTies beside the process, guarded by the process's
// signal lock like its local links; the remote end lives on the other
// node. When the local process ends, its ties become exit and DOWN
// frames; when a node goes, every tie to it fires noconnection.

// NoConnection is the reason a link or monitor to a process on another
// node reports when that node left the cluster or was lost: nothing more
// is known of the process, which may still run there.
var NoConnection Reason = noconnectionReason{}

type noconnectionReason struct{}

func (noconnectionReason) Error() string { return "noconnection" }
func (noconnectionReason) Normal() bool  { return false }

// RemoteReason is the end of a process on another node, as it crossed:
// its kind (the guest ABI's reason kinds) and its text. Ends with a
// reason of their own here (Normal, Killed, NoProc, NoConnection) arrive
// as those instead.
type RemoteReason struct {
	Kind uint32
	Text string
}

func (r *RemoteReason) Error() string { return r.Text }

// Normal reports whether the remote process ended normally.
func (r *RemoteReason) Normal() bool { return r.Kind == abi.ReasonNormal }

// TagNodeDown is the tag of the message a node monitor (see package
// cluster) delivers when the node leaves or is lost; ParseNodeDown reads
// it.
const TagNodeDown = abi.TagNodeDown

// ParseNodeDown reads a TagNodeDown message: the node that went.
func ParseNodeDown(m Message) (node uint16, ok bool) {
	if m.Tag != TagNodeDown || len(m.Data) < 2 {
		return 0, false
	}
	return binary.LittleEndian.Uint16(m.Data), true
}

func toRoute(r Reason) route.Reason { return route.Reason{Kind: reasonKind(r), Text: reasonText(r)} }

func fromRoute(r route.Reason) Reason {
	switch r.Kind {
	case abi.ReasonNormal:
		if r.Text == "normal" || r.Text == "" {
			return Normal
		}
	case abi.ReasonKilled:
		return Killed
	case abi.ReasonNoProc:
		if r.Text == NoProc.Error() {
			return NoProc
		}
	case abi.ReasonNoConnection:
		return NoConnection
	}
	return &RemoteReason{Kind: r.Kind, Text: r.Text}
}

// attachment is a runtime's place in a cluster.
type attachment struct {
	rt   *Runtime
	node uint16
	t    route.Transport

	mu     sync.Mutex
	ties   map[*Process]*remoteTies
	byNode map[uint16]map[*Process]struct{} // who may have ties to a node; may hold stale entries
}

// remoteTies is a local process's end of its links and monitors with
// processes on other nodes, guarded by the process's sig.mu.
type remoteTies struct {
	links    map[ProcessID]struct{}   // remote peers
	watching map[MonitorRef]remoteRef // monitors it holds on remote targets
	watchers map[MonitorRef]remoteRef // monitors remote processes hold on it
}

type remoteRef struct {
	id  ProcessID
	tag int64
}

func init() {
	route.Register(func(rt any, node uint16, t route.Transport) (route.Local, error) {
		r, ok := rt.(*Runtime)
		if !ok || r == nil {
			return nil, fmt.Errorf("ward: route: %T is not a *runtime.Runtime", rt)
		}
		return r.attach(node, t)
	})
}

func (r *Runtime) attach(node uint16, t route.Transport) (route.Local, error) {
	if node == 0 || t == nil {
		return nil, errors.New("ward: joining a cluster needs a node number above 0 and a transport")
	}
	if r.isClosing() {
		return nil, ErrClosed
	}
	a := &attachment{rt: r, node: node, t: t, ties: map[*Process]*remoteTies{}, byNode: map[uint16]map[*Process]struct{}{}}
	if !r.cluster.CompareAndSwap(nil, a) {
		return nil, errors.New("ward: the runtime has joined a cluster already; leave it first")
	}
	return a, nil
}

// tiesOf returns p's remote ties, made when create is set; the caller
// holds p.sig.mu.
func (a *attachment) tiesOf(p *Process, create bool) *remoteTies {
	if !p.sig.remote && !create {
		return nil
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	t := a.ties[p]
	if t == nil && create {
		t = &remoteTies{}
		a.ties[p] = t
		p.sig.remote = true
	}
	return t
}

// remoteLinks and remoteMonitors count p's links and monitors with
// processes on other nodes, which its bounds cover with the local ones;
// the caller holds p.sig.mu.
func (p *Process) remoteLinks() int {
	if t := p.remoteTies(); t != nil {
		return len(t.links)
	}
	return 0
}

func (p *Process) remoteMonitors() int {
	if t := p.remoteTies(); t != nil {
		return len(t.watching)
	}
	return 0
}

func (p *Process) remoteTies() *remoteTies {
	if !p.sig.remote {
		return nil
	}
	if a := p.env.rt.cluster.Load(); a != nil {
		return a.tiesOf(p, false)
	}
	return nil
}

// noteNode records that p has a tie to node; the caller holds p.sig.mu.
func (a *attachment) noteNode(p *Process, node uint16) {
	a.mu.Lock()
	s := a.byNode[node]
	if s == nil {
		s = map[*Process]struct{}{}
		a.byNode[node] = s
	}
	s[p] = struct{}{}
	a.mu.Unlock()
}

// linkRemote makes p's end of a link to the remote process to, then asks
// to's node for the other end. A node that is not there answers at once
// with an exit noconnection, as Erlang's link to an unreachable node does.
func (a *attachment) linkRemote(p *Process, to ProcessID) error {
	p.sig.mu.Lock()
	if p.sig.dead {
		p.sig.mu.Unlock()
		return fmt.Errorf("%w: %s", ErrNoProcess, p.id)
	}
	t := a.tiesOf(p, true)
	if _, ok := t.links[to]; ok {
		p.sig.mu.Unlock()
		return nil
	}
	err := p.linkRoom(p.id, to)
	if err == nil {
		err = p.chargeEntry(ErrTooManyLinks)
	}
	if err != nil {
		p.sig.mu.Unlock()
		return err
	}
	if t.links == nil {
		t.links = map[ProcessID]struct{}{}
	}
	t.links[to] = struct{}{}
	a.noteNode(p, to.Node())
	p.sig.mu.Unlock()
	if err := a.t.Link(p.caller(a.node), uint64(p.id), uint64(to)); err != nil {
		a.Exit(uint64(to), uint64(p.id), toRoute(NoConnection))
	}
	return nil
}

// unlinkRemote removes p's end of a link to to, and tells to's node.
func (a *attachment) unlinkRemote(p *Process, to ProcessID) {
	p.sig.mu.Lock()
	t := a.tiesOf(p, false)
	ok := false
	if t != nil {
		_, ok = t.links[to]
	}
	if ok {
		delete(t.links, to)
		p.env.mem.Give(signalEntryCost)
	}
	p.sig.mu.Unlock()
	if ok {
		a.t.Unlink(uint64(p.id), uint64(to))
	}
}

// watchRemote makes w watch the remote target under ref, with its DOWN
// under tag; bounded as watch bounds a local monitor. A node that is not
// there answers with a DOWN noconnection at once.
func (a *attachment) watchRemote(w *Process, target ProcessID, ref MonitorRef, tag int64) error {
	w.sig.mu.Lock()
	if w.sig.dead {
		w.sig.mu.Unlock()
		return nil
	}
	t := a.tiesOf(w, true)
	if err := w.chargeWatch(target, tag == abi.TagDown); err != nil {
		w.sig.mu.Unlock()
		return err
	}
	if t.watching == nil {
		t.watching = map[MonitorRef]remoteRef{}
	}
	t.watching[ref] = remoteRef{target, tag}
	a.noteNode(w, target.Node())
	w.sig.mu.Unlock()
	if err := a.t.Monitor(uint64(w.id), uint64(target), uint64(ref), tag); err != nil {
		a.Down(uint64(w.id), uint64(target), uint64(ref), tag, toRoute(NoConnection))
	}
	return nil
}

// demonitorRemote ends a monitor w holds on a remote process, reporting
// false when w holds no such monitor.
func (a *attachment) demonitorRemote(w *Process, ref MonitorRef) bool {
	w.sig.mu.Lock()
	t := a.tiesOf(w, false)
	var target remoteRef
	ok := false
	if t != nil {
		target, ok = t.watching[ref]
		if ok {
			delete(t.watching, ref)
			w.env.mem.Give(signalEntryCost)
		}
	}
	w.sig.mu.Unlock()
	if ok {
		a.t.Demonitor(uint64(w.id), uint64(target.id), uint64(ref))
	}
	return ok
}

// ended sends p's end to the remote ends of t, its ties, taken by
// takeRemote.
func (a *attachment) ended(p *Process, t *remoteTies, reason Reason) {
	if t == nil {
		return
	}
	nodes := map[uint16]struct{}{}
	rr := toRoute(reason)
	for id := range t.links {
		nodes[id.Node()] = struct{}{}
		a.t.Exit(uint64(p.id), uint64(id), rr)
	}
	for ref, w := range t.watchers {
		nodes[w.id.Node()] = struct{}{}
		a.t.Down(uint64(w.id), uint64(p.id), uint64(ref), w.tag, rr)
	}
	for ref, target := range t.watching {
		nodes[target.id.Node()] = struct{}{}
		a.t.Demonitor(uint64(p.id), uint64(target.id), uint64(ref))
	}
	p.env.mem.Give(int64(len(t.links)+len(t.watching)+len(t.watchers)) * signalEntryCost)
	a.mu.Lock()
	for n := range nodes {
		delete(a.byNode[n], p)
	}
	a.mu.Unlock()
}

// takeRemote takes p's remote ties as p ends, with the attachment they
// belong to; the caller holds p.sig.mu and has marked p dead, so nothing
// adds a tie from now on, and what arrives for the ties taken finds none.
func (p *Process) takeRemote() (*attachment, *remoteTies) {
	if !p.sig.remote {
		return nil, nil
	}
	p.sig.remote = false
	a := p.env.rt.cluster.Load()
	if a == nil {
		return nil, nil // detached: its ties were cut then
	}
	a.mu.Lock()
	t := a.ties[p]
	delete(a.ties, p)
	a.mu.Unlock()
	return a, t
}

// The route.Local side: operations arriving from other nodes.

// Deliver implements route.Local.
func (a *attachment) Deliver(from, to uint64, tag int64, data []byte) {
	p := a.rt.lookup(ProcessID(to))
	if p == nil || tag < 0 {
		a.rt.remoteDropped.Add(1)
		return
	}
	if p.deliver(Message{Sender: from, Tag: tag, Data: data}) != nil {
		a.rt.remoteDropped.Add(1) // full: dropped, as Erlang drops nothing but ward must
	}
}

// Link implements route.Local.
func (a *attachment) Link(from, to uint64) {
	p := a.rt.lookup(ProcessID(to))
	if p == nil {
		a.t.Exit(to, from, toRoute(NoProc))
		return
	}
	p.sig.mu.Lock()
	if p.sig.dead {
		p.sig.mu.Unlock()
		a.t.Exit(to, from, toRoute(NoProc))
		return
	}
	t := a.tiesOf(p, true)
	if _, ok := t.links[ProcessID(from)]; !ok {
		if len(p.sig.links)+len(t.links) >= p.env.cfg.MaxLinks || !p.env.mem.Take(signalEntryCost) {
			p.sig.mu.Unlock()
			// Refused: the requester's end fires, so both ends agree
			// there is no link.
			a.t.Exit(to, from, route.Reason{Kind: abi.ReasonNoProc, Text: "ward: link refused: too many links"})
			return
		}
		if t.links == nil {
			t.links = map[ProcessID]struct{}{}
		}
		t.links[ProcessID(from)] = struct{}{}
		a.noteNode(p, route.NodeOf(from))
	}
	p.sig.mu.Unlock()
}

// Unlink implements route.Local.
func (a *attachment) Unlink(from, to uint64) {
	p := a.rt.lookup(ProcessID(to))
	if p == nil {
		return
	}
	p.sig.mu.Lock()
	if t := a.tiesOf(p, false); t != nil {
		if _, ok := t.links[ProcessID(from)]; ok {
			delete(t.links, ProcessID(from))
			p.env.mem.Give(signalEntryCost)
		}
	}
	p.sig.mu.Unlock()
}

// Monitor implements route.Local. The entry is charged to the target's
// environment without a refusal: the watcher's own node bounds how many
// monitors it holds.
func (a *attachment) Monitor(watcher, target, ref uint64, tag int64) {
	p := a.rt.lookup(ProcessID(target))
	if p == nil {
		a.t.Down(watcher, target, ref, tag, toRoute(NoProc))
		return
	}
	p.sig.mu.Lock()
	if p.sig.dead {
		p.sig.mu.Unlock()
		a.t.Down(watcher, target, ref, tag, toRoute(NoProc))
		return
	}
	t := a.tiesOf(p, true)
	if t.watchers == nil {
		t.watchers = map[MonitorRef]remoteRef{}
	}
	if _, ok := t.watchers[MonitorRef(ref)]; !ok {
		p.env.mem.Force(signalEntryCost)
	}
	t.watchers[MonitorRef(ref)] = remoteRef{ProcessID(watcher), tag}
	a.noteNode(p, route.NodeOf(watcher))
	p.sig.mu.Unlock()
}

// Demonitor implements route.Local.
func (a *attachment) Demonitor(watcher, target, ref uint64) {
	p := a.rt.lookup(ProcessID(target))
	if p == nil {
		return
	}
	p.sig.mu.Lock()
	if t := a.tiesOf(p, false); t != nil {
		if w, ok := t.watchers[MonitorRef(ref)]; ok && w.id == ProcessID(watcher) {
			delete(t.watchers, MonitorRef(ref))
			p.env.mem.Give(signalEntryCost)
		}
	}
	p.sig.mu.Unlock()
}

// Exit implements route.Local.
func (a *attachment) Exit(from, to uint64, r route.Reason) {
	p := a.rt.lookup(ProcessID(to))
	if p == nil {
		return
	}
	p.sig.mu.Lock()
	if t := a.tiesOf(p, false); t != nil {
		if _, ok := t.links[ProcessID(from)]; ok {
			delete(t.links, ProcessID(from))
			p.env.mem.Give(signalEntryCost)
			p.exitSignal(ProcessID(from), fromRoute(r))
		}
	}
	p.sig.mu.Unlock()
}

// Down implements route.Local.
func (a *attachment) Down(watcher, target, ref uint64, tag int64, r route.Reason) {
	p := a.rt.lookup(ProcessID(watcher))
	if p == nil {
		return
	}
	p.sig.mu.Lock()
	if t := a.tiesOf(p, false); t != nil {
		if w, ok := t.watching[MonitorRef(ref)]; ok && w.id == ProcessID(target) {
			delete(t.watching, MonitorRef(ref))
			p.env.mem.Give(signalEntryCost)
			p.signal(downMessage(MonitorRef(ref), w.tag, ProcessID(target), fromRoute(r)))
		}
	}
	p.sig.mu.Unlock()
}

// Kill implements route.Local.
func (a *attachment) Kill(to uint64) {
	if p := a.rt.lookup(ProcessID(to)); p != nil {
		p.Kill()
	}
}

// Exists implements route.Local.
func (a *attachment) Exists(id uint64) bool { return a.rt.lookup(ProcessID(id)) != nil }

// NotifyNodeDown implements route.Local.
func (a *attachment) NotifyNodeDown(to uint64, node uint16) {
	if p := a.rt.lookup(ProcessID(to)); p != nil {
		p.signal(Message{Tag: TagNodeDown, Data: binary.LittleEndian.AppendUint16(nil, node)})
	}
}

// NodeDown implements route.Local: every tie to node fires noconnection.
func (a *attachment) NodeDown(node uint16) {
	a.mu.Lock()
	procs := a.byNode[node]
	delete(a.byNode, node)
	a.mu.Unlock()
	for p := range procs {
		a.cut(p, func(id ProcessID) bool { return id.Node() == node })
	}
}

// cut ends p's ties to the remote processes gone says are gone: links
// fire exit noconnection, monitors DOWN noconnection, monitors on p are
// dropped.
func (a *attachment) cut(p *Process, gone func(ProcessID) bool) {
	p.sig.mu.Lock()
	defer p.sig.mu.Unlock()
	t := a.tiesOf(p, false)
	if t == nil {
		return
	}
	for id := range t.links {
		if gone(id) {
			delete(t.links, id)
			p.env.mem.Give(signalEntryCost)
			p.exitSignal(id, NoConnection)
		}
	}
	for ref, w := range t.watching {
		if gone(w.id) {
			delete(t.watching, ref)
			p.env.mem.Give(signalEntryCost)
			p.signal(downMessage(ref, w.tag, w.id, NoConnection))
		}
	}
	for ref, w := range t.watchers {
		if gone(w.id) {
			delete(t.watchers, ref)
			p.env.mem.Give(signalEntryCost)
		}
	}
}

// Detach implements route.Local: the runtime leaves the cluster. Ids of
// other nodes are unknown again, and every tie to one fires noconnection.
func (a *attachment) Detach() {
	if !a.rt.cluster.CompareAndSwap(a, nil) {
		return
	}
	a.mu.Lock()
	procs := make([]*Process, 0, len(a.ties))
	for p := range a.ties {
		procs = append(procs, p)
	}
	a.byNode = map[uint16]map[*Process]struct{}{}
	a.mu.Unlock()
	for _, p := range procs {
		a.cut(p, func(ProcessID) bool { return true })
	}
}
