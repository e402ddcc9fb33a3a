package cluster

import (
	"crypto/ecdh"
	"hash"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nkeys"
)

// A session is one direction between two nodes: the frames one node sends
// the other, numbered 1, 2, ... within a generation (Gen). The receiver
// accepts them only in order. When either side ends a session (missed
// heartbeats, a gap, a slow consumer, its own disconnect) it fires
// noconnection for everything tied to the peer, starts a new generation
// for what it sends, and tells the peer with a reset, so the peer fires
// too: both sides see the same break, and frames of an ended session are
// never applied after it.

// peer is what a node knows of another.
type peer struct {
	id      uint16
	subject string
	// up: the peer was heard within the detection time and its session
	// was not ended since; sends and calls to it go out only while up.
	up atomic.Bool

	// rmu guards the receive side, and is held while one of the peer's
	// frames is applied and while the peer is taken down, so the two
	// never interleave.
	rmu       sync.Mutex
	key       nkeys.KeyPair
	inMAC     hash.Hash // checks the peer's frames to this node
	pubText   string
	epoch     uint64
	rev       uint64
	gone      bool // not registered, or said bye: nothing is accepted
	heard     time.Time
	hbSeq     uint64
	inOpen    bool   // a session from the peer is accepted
	inGen     uint32 // its generation
	inNext    uint64 // the sequence number expected next
	resetFor  uint32 // the peer's generation a reset was last sent for
	refreshed time.Time

	// smu numbers and publishes the frames to the peer in one step, so
	// that their order on the wire is their numbering.
	smu    sync.Mutex
	outMAC hash.Hash // authenticates this node's frames to the peer
	outGen uint32
	outSeq uint64
	// The outbound queue (batch.go): the batch being filled (outN frames
	// in outBuf), full batches before it, their bytes, whether a writer
	// is running, and the buffer the last batch left for the next.
	outBuf  []byte
	outN    int
	outQ    []batch
	queued  int
	writing bool
	spare   []byte
	drained sync.Cond // on smu: the writer published, or stopped
}

func newPeer(id uint16, subject string) *peer {
	p := &peer{id: id, subject: subject}
	p.drained.L = &p.smu
	return p
}

// Why a session ended.
type downCause int

const (
	causeHeartbeat downCause = iota
	causeBye
	causeGap
	causeSlowConsumer
	causeDisconnect
	causeReset
	causeRejoin
	causeDeregistered
)

var causeNames = [...]string{"missed heartbeats", "bye", "sequence gap", "slow consumer", "disconnected", "reset by peer", "rejoined", "deregistered"}

func (c downCause) String() string { return causeNames[c] }

// setPeer records node's registration: a new epoch ends the old one's
// session.
func (n *Node) setPeer(node uint16, key nkeys.KeyPair, dh *ecdh.PublicKey, r registration, rev uint64) {
	out, in, err := n.sessionMACs(node, r.Epoch, dh)
	if err != nil {
		n.log.Warn("ward: node registration with a bad session key", "node", node, "err", err)
		return
	}
	p := n.peerOrNew(node)
	p.rmu.Lock()
	defer p.rmu.Unlock()
	if rev <= p.rev {
		return
	}
	if p.key != nil && p.epoch != r.Epoch && !p.gone {
		p.gone = true
		n.downLocked(p, causeRejoin)
	}
	p.rev = rev
	if p.key != nil && p.epoch == r.Epoch {
		// The same Join put back after a peer took it for lost.
		p.gone = false
		return
	}
	p.key, p.epoch, p.gone = key, r.Epoch, false
	p.pubText, p.inMAC = r.Pub, in
	p.hbSeq, p.inOpen, p.inGen, p.inNext, p.resetFor = 0, false, 0, 0, 0
	p.smu.Lock()
	p.sealBatchLocked()
	p.outMAC = out
	p.outGen++
	p.outSeq = 0
	p.smu.Unlock()
}

// peerGone records that node's registration was removed.
func (n *Node) peerGone(p *peer, rev uint64) {
	p.rmu.Lock()
	defer p.rmu.Unlock()
	if rev <= p.rev {
		return
	}
	p.rev = rev
	if !p.gone {
		p.gone = true
		n.downLocked(p, causeDeregistered)
	}
}

// downLocked ends the sessions with p (p.rmu held): every tie of a local
// process to p's processes fires noconnection, node monitors of p are
// told, calls to p fail, and p is told with a reset unless it is gone.
// It does nothing for a peer with neither a session nor a reachable state,
// so every break fires once.
func (n *Node) downLocked(p *peer, cause downCause) {
	wasUp := p.up.Swap(false)
	if !wasUp && !p.inOpen {
		return
	}
	p.smu.Lock()
	newGen := p.outGen + 1
	if !p.gone && !n.left.Load() {
		var over uint32
		if p.inOpen {
			over = p.inGen
		}
		n.enqueueLocked(p, &frame{Kind: kindReset, Gen: newGen, Ref: uint64(over)}, false)
	}
	p.outGen, p.outSeq = newGen, 0
	p.smu.Unlock()
	p.inOpen = false
	n.stats.downs[cause].Add(1)
	n.log.Info("ward: node down", "node", p.id, "cause", cause.String())
	if cause == causeHeartbeat && !n.left.Load() {
		// Bounded by its own timeout; not waited for by Leave.
		go n.forget(p.id, p.rev)
	}
	n.local.NodeDown(p.id)
	n.notifyNodeMonitors(p.id)
	n.failCalls(p.id)
	n.cbMu.Lock()
	cbs := n.downCbs
	n.cbMu.Unlock()
	if len(cbs) > 0 {
		// Callbacks may talk to JetStream; the receive loop must not
		// wait for them.
		go func() {
			for _, cb := range cbs {
				cb(p.id)
			}
		}()
	}
}

// accept checks f's place in p's session (p.rmu held) and reports whether
// to apply it.
func (n *Node) accept(p *peer, f *frame) bool {
	switch {
	case p.inOpen && f.Gen == p.inGen:
		switch {
		case f.Seq == p.inNext:
			p.inNext++
			return true
		case f.Seq < p.inNext:
			n.drop(dropReplay, f)
			return false
		}
		n.drop(dropGap, f)
		n.downLocked(p, causeGap)
		return false
	case f.Gen > p.inGen:
		if p.inOpen {
			// The peer started over: it ended the session on its side.
			n.downLocked(p, causeReset)
		}
		if f.Seq != 1 {
			n.drop(dropStaleSession, f)
			n.resetLocked(p, f.Gen)
			return false
		}
		p.inOpen, p.inGen, p.inNext = true, f.Gen, 2
		return true
	}
	if f.Gen == p.inGen || f.Seq < p.inNext {
		n.drop(dropReplay, f)
	} else {
		n.drop(dropStaleSession, f)
	}
	n.resetLocked(p, f.Gen)
	return false
}

// resetLocked answers a frame of an ended session of p's (generation gen)
// with a reset, once per generation, so that p ends it too.
func (n *Node) resetLocked(p *peer, gen uint32) {
	if p.resetFor >= gen || p.gone || n.left.Load() {
		return
	}
	p.resetFor = gen
	p.smu.Lock()
	n.enqueueLocked(p, &frame{Kind: kindReset, Gen: p.outGen, Ref: uint64(gen)}, false)
	p.smu.Unlock()
}

// onReset applies p's reset (p.rmu held): p ended our session gen Ref, or
// every session of p's below Gen.
func (n *Node) onReset(p *peer, f *frame) {
	p.smu.Lock()
	mine := f.Ref != 0 && uint32(f.Ref) == p.outGen
	p.smu.Unlock()
	if mine || (p.inOpen && p.inGen < f.Gen) {
		n.downLocked(p, causeReset)
		return
	}
	// A reset of a session already over: a late copy, or a replay.
	n.drop(dropReplay, f)
}

// verify returns f's sender with its rmu held when f carries the MAC of
// the session keys its node registered for f's epoch, or for a heartbeat
// (broadcast) the signature of its nkey; otherwise it counts the drop and
// returns nil.
func (n *Node) verify(f *frame, env *envelope, broadcast bool) *peer {
	ok := func(p *peer) bool {
		if broadcast {
			return env.check(p.key)
		}
		return env.checkMAC(p.inMAC)
	}
	if f.V != frameVersion {
		n.drop(dropVersion, f)
		return nil
	}
	p := n.peer(f.Node)
	if p != nil {
		p.rmu.Lock()
		if p.key != nil && p.epoch == f.Epoch && !p.gone {
			if ok(p) {
				return p
			}
			p.rmu.Unlock()
			n.drop(dropBadSignature, f)
			return nil
		}
		p.rmu.Unlock()
	}
	if p = n.refreshPeer(f.Node); p == nil {
		n.drop(dropUnknownNode, f)
		return nil
	}
	p.rmu.Lock()
	switch {
	case p.key == nil:
		n.drop(dropUnknownNode, f)
	case p.epoch != f.Epoch:
		n.drop(dropOldEpoch, f)
	case p.gone:
		n.drop(dropLeft, f)
	case !ok(p):
		n.drop(dropBadSignature, f)
	default:
		return p
	}
	p.rmu.Unlock()
	return nil
}

// Why a frame was dropped.
type dropCause int

const (
	dropMalformed dropCause = iota
	dropVersion
	dropMisrouted
	dropUnknownNode
	dropOldEpoch
	dropBadSignature
	dropReplay
	dropStaleSession
	dropGap
	dropLeft
	dropCauses
)

var dropNames = [dropCauses]string{"malformed", "version", "misrouted", "unknown node", "old epoch", "bad signature", "replay", "stale session", "sequence gap", "node left"}

func (n *Node) drop(c dropCause, f *frame) {
	n.stats.drops[c].Add(1)
	if f != nil {
		n.log.Debug("ward: frame dropped", "cause", dropNames[c], "node", f.Node, "kind", f.Kind)
	} else {
		n.log.Debug("ward: frame dropped", "cause", dropNames[c])
	}
}
