package cluster

// Heartbeats: how a node says it is alive, and finds peers that are not.

import (
	"context"
	"time"

	"github.com/nats-io/nats.go"
)

// onHB handles a heartbeat from any node.
func (n *Node) onHB(m *nats.Msg) {
	f, env, err := open(m.Data)
	if err != nil {
		n.drop(dropMalformed, nil)
		return
	}
	if f.Node == n.id && f.Epoch == n.epoch {
		return
	}
	if f.Kind != kindHB {
		n.drop(dropMalformed, f)
		return
	}
	p := n.verify(f, env, true)
	if p == nil {
		return
	}
	defer p.rmu.Unlock()
	if f.Seq <= p.hbSeq {
		n.drop(dropReplay, f)
		return
	}
	p.hbSeq = f.Seq
	n.heard(p)
}

// heard marks p alive (p.rmu held); a peer that comes up hears from this
// node at once, so a node that just joined need not wait for a beat.
func (n *Node) heard(p *peer) {
	p.heard = time.Now()
	if !p.up.Load() && !p.gone && !n.left.Load() {
		p.up.Store(true)
		n.log.Info("ward: node up", "node", p.id)
		go n.beat()
	}
}

// checksPerBeat is how many times per heartbeat interval a node looks for
// peers gone silent: a peer is found within a quarter interval of its
// HeartbeatMisses intervals, not up to a whole one late.
const checksPerBeat = 4

// heartbeats beats every interval and ends the sessions the beats show
// are over.
func (n *Node) heartbeats() {
	defer n.wg.Done()
	t := time.NewTicker(max(n.cfg.HeartbeatInterval/checksPerBeat, time.Millisecond/4))
	defer t.Stop()
	n.beat()
	var disconnected bool
	var dropped int
	for tick := 1; ; tick++ {
		select {
		case <-n.stop:
			return
		case <-t.C:
		}
		if tick%checksPerBeat == 0 {
			n.beat()
		}
		// Ending sessions waits for the receive loop to finish the frame
		// it is applying: beats must go on meanwhile.
		if !n.nc.IsConnected() {
			if !disconnected {
				disconnected = true
				go n.downAll(causeDisconnect)
			}
			continue
		}
		disconnected = false
		if d, err := n.sigSub.Dropped(); err == nil && d > dropped {
			dropped = d
			go n.downAll(causeSlowConsumer)
		}
		limit := n.cfg.HeartbeatInterval * time.Duration(n.cfg.HeartbeatMisses)
		now := time.Now()
		for _, p := range n.peerList() {
			// A peer whose frame is being applied now was heard.
			if !p.up.Load() || !p.rmu.TryLock() {
				continue
			}
			if p.up.Load() && now.Sub(p.heard) > limit {
				n.downLocked(p, causeHeartbeat)
			}
			p.rmu.Unlock()
		}
	}
}

// beat publishes one heartbeat; numbered, so a replayed one is dropped,
// and numbered and published in one step, so they go out in order.
func (n *Node) beat() {
	n.hbMu.Lock()
	defer n.hbMu.Unlock()
	if n.left.Load() {
		return
	}
	n.hbSeq++
	b, err := seal(n.kp, &frame{Kind: kindHB, Node: n.id, Epoch: n.epoch, Seq: n.hbSeq})
	if err == nil {
		n.nc.Publish(n.cfg.subject("hb", n.id), b)
	}
}

// downAll ends the sessions with every peer.
func (n *Node) downAll(cause downCause) {
	for _, p := range n.peerList() {
		p.rmu.Lock()
		n.downLocked(p, cause)
		p.rmu.Unlock()
	}
}

// awaitPeers waits until every registered peer was heard, or the
// detection time passed. A registration still unheard then is taken for a
// node that crashed with no survivor to remove it, and removed (a node
// that was only slow puts it back, see reregister).
func (n *Node) awaitPeers(ctx context.Context) {
	deadline := time.Now().Add(n.cfg.HeartbeatInterval * time.Duration(n.cfg.HeartbeatMisses))
	for {
		var silent []*peer
		for _, p := range n.peerList() {
			p.rmu.Lock()
			if p.key != nil && !p.gone && !p.up.Load() {
				silent = append(silent, p)
			}
			p.rmu.Unlock()
		}
		switch {
		case len(silent) == 0 || ctx.Err() != nil:
			return
		case time.Now().After(deadline):
			for _, p := range silent {
				p.rmu.Lock()
				rev, still := p.rev, !p.gone && !p.up.Load()
				p.rmu.Unlock()
				if still {
					n.log.Info("ward: removing the registration of a node not heard since this node joined", "node", p.id)
					go n.forget(p.id, rev)
				}
			}
			return
		}
		time.Sleep(2 * time.Millisecond)
	}
}
