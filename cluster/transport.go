package cluster

import (
	"context"

	"github.com/nats-io/nats.go"
	"github.com/wardrt/ward/internal/abi"
	"github.com/wardrt/ward/internal/errs"
	"github.com/wardrt/ward/internal/route"
)

// transport is the Node as the runtime's route.Transport: every operation
// on another node's process becomes one frame on that node's subject,
// numbered in the session to it.
type transport Node

var _ route.Transport = (*transport)(nil)

func (t *transport) node() *Node { return (*Node)(t) }

// Send implements route.Transport.
func (t *transport) Send(from, to uint64, tag int64, data []byte) error {
	n := t.node()
	return n.send(route.NodeOf(to), &frame{Kind: kindMsg, From: route.Qualify(from, n.id), To: to, Tag: tag, Body: data})
}

// Link implements route.Transport.
func (t *transport) Link(c route.Caller, from, to uint64) error {
	n := t.node()
	return n.send(route.NodeOf(to), &frame{Kind: kindLink, From: route.Qualify(from, n.id), To: to, Env: c.Env})
}

// Unlink implements route.Transport.
func (t *transport) Unlink(from, to uint64) {
	n := t.node()
	n.send(route.NodeOf(to), &frame{Kind: kindUnlink, From: route.Qualify(from, n.id), To: to})
}

// Monitor implements route.Transport.
func (t *transport) Monitor(watcher, target, ref uint64, tag int64) error {
	n := t.node()
	return n.send(route.NodeOf(target), &frame{Kind: kindMonitor, From: route.Qualify(watcher, n.id), To: target, Ref: ref, Tag: tag})
}

// Demonitor implements route.Transport.
func (t *transport) Demonitor(watcher, target, ref uint64) {
	n := t.node()
	n.send(route.NodeOf(target), &frame{Kind: kindDemonitor, From: route.Qualify(watcher, n.id), To: target, Ref: ref})
}

// Exit implements route.Transport.
func (t *transport) Exit(from, to uint64, r route.Reason) {
	n := t.node()
	n.send(route.NodeOf(to), &frame{Kind: kindExit, From: route.Qualify(from, n.id), To: to, Reason: r.Kind, Text: r.Text})
}

// Down implements route.Transport: From is the target that ended, To the
// remote watcher.
func (t *transport) Down(watcher, target, ref uint64, tag int64, r route.Reason) {
	n := t.node()
	n.send(route.NodeOf(watcher), &frame{Kind: kindDown, From: route.Qualify(target, n.id), To: watcher, Ref: ref, Tag: tag, Reason: r.Kind, Text: r.Text})
}

// Kill implements route.Transport.
func (t *transport) Kill(c route.Caller, to uint64) error {
	return t.node().send(route.NodeOf(to), &frame{Kind: kindKill, To: to, Env: c.Env})
}

// Exists implements route.Transport.
func (t *transport) Exists(ctx context.Context, id uint64) (bool, error) {
	var ok bool
	err := t.node().call(ctx, route.NodeOf(id), opExists, id, &ok)
	return ok, err
}

// send numbers f in the session to node and publishes it.
func (n *Node) send(node uint16, f *frame) error {
	p := n.peer(node)
	if p == nil || node == n.id {
		return errs.Wrap(route.ErrNoNode, "node %d", node)
	}
	return n.sendTo(p, f)
}

// sendTo is send to a known peer: it fails with route.ErrNoNode unless
// the peer is up.
func (n *Node) sendTo(p *peer, f *frame) error {
	if n.left.Load() {
		return errs.Errorf("%w: %w", ErrLeft, route.ErrNoNode)
	}
	if !p.up.Load() {
		return errs.Wrap(route.ErrNoNode, "node %d is not up", p.id)
	}
	p.smu.Lock()
	defer p.smu.Unlock()
	return n.enqueueLocked(p, f, true)
}

// onSig is the receive loop: NATS calls it for each message on the node's
// subject, one at a time, in the order they came.
func (n *Node) onSig(m *nats.Msg) {
	if len(m.Data) > 0 && m.Data[0] == batchMarker {
		n.onBatch(m.Data[1:])
		return
	}
	n.onFrame(m.Data)
}

// onFrame checks and applies one sealed frame.
func (n *Node) onFrame(data []byte) {
	f, env, err := open(data)
	p := n.authenticate(f, env, err)
	if p == nil {
		return
	}
	defer p.rmu.Unlock()
	if n.left.Load() {
		return
	}
	n.placeAndApply(p, f, true)
}

// authenticate checks what open or openBatch gave (f, the frame or a
// batch's first frame, and env, what carries its MAC): a frame that came
// whole, of a kind a node's own subject carries, addressed here, from a
// known peer whose key made its MAC. It returns that peer with its rmu
// held, or nil once the frame is dropped and counted.
func (n *Node) authenticate(f *frame, env *envelope, err error) *peer {
	switch {
	case err != nil:
		n.drop(dropMalformed, nil)
		return nil
	case !frameKindOK(f.Kind):
		n.drop(dropMalformed, f)
		return nil
	case f.Dst != n.id:
		n.drop(dropMisrouted, f)
		return nil
	}
	return n.verify(f, env, false)
}

// frameKindOK reports whether k may come on a node's own subject.
func frameKindOK(k kind) bool { return k != 0 && k < kindHB }

// placeAndApply places an authenticated frame in p's session and applies
// it if it is next (p.rmu held), marking p heard if hear is set. It
// reports whether it applied f.
func (n *Node) placeAndApply(p *peer, f *frame, hear bool) bool {
	if f.Kind == kindReset {
		n.onReset(p, f)
		return false
	}
	if !n.accept(p, f) {
		return false
	}
	n.stats.framesIn.Add(1)
	if hear {
		n.heard(p)
	}
	n.apply(p, f)
	return true
}

// apply carries out an accepted frame (p.rmu held).
func (n *Node) apply(p *peer, f *frame) {
	l := n.local
	switch f.Kind {
	case kindMsg:
		l.Deliver(f.From, f.To, f.Tag, f.Body)
	case kindLink:
		if !n.permits(route.Caller{Node: p.id, Env: f.Env}, f.To) {
			n.stats.linksRefused.Add(1)
			n.sendTo(p, &frame{Kind: kindExit, From: f.To, To: f.From, Reason: abi.ReasonNoProc, Text: route.ErrRemotePermission.Error()})
			return
		}
		l.Link(f.From, f.To)
	case kindUnlink:
		l.Unlink(f.From, f.To)
	case kindMonitor:
		l.Monitor(f.From, f.To, f.Ref, f.Tag)
	case kindDemonitor:
		l.Demonitor(f.From, f.To, f.Ref)
	case kindExit:
		l.Exit(f.From, f.To, route.Reason{Kind: f.Reason, Text: f.Text})
	case kindDown:
		l.Down(f.To, f.From, f.Ref, f.Tag, route.Reason{Kind: f.Reason, Text: f.Text})
	case kindKill:
		if !n.permits(route.Caller{Node: p.id, Env: f.Env}, f.To) {
			n.stats.killsRefused.Add(1)
			return
		}
		l.Kill(f.To)
	case kindReq:
		n.serve(p.id, f)
	case kindRep:
		n.complete(p.id, f)
	case kindBye:
		p.gone = true
		n.downLocked(p, causeBye)
	}
}
