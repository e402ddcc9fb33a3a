package cluster

// A node's membership: its entry in the nodes bucket (number, keys,
// epoch), and what it knows of everyone else's, kept by a watch.

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/fxamacker/cbor/v2"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/wardrt/ward/internal/errs"
	"github.com/wardrt/ward/internal/route"
)

// maxNode is the highest node number (ids keep 16 bits for it).
const maxNode = 1<<route.NodeBits - 1

// openBucket opens the bucket cfg names, creating it if it is not there;
// an existing bucket keeps its settings (nodes may differ in Storage).
func openBucket(ctx context.Context, js jetstream.JetStream, cfg jetstream.KeyValueConfig) (jetstream.KeyValue, error) {
	kv, err := js.KeyValue(ctx, cfg.Bucket)
	if errors.Is(err, jetstream.ErrBucketNotFound) {
		kv, err = js.CreateKeyValue(ctx, cfg)
		if errors.Is(err, jetstream.ErrBucketExists) {
			kv, err = js.KeyValue(ctx, cfg.Bucket)
		}
	}
	if err != nil {
		return nil, errs.Wrap(err, "cluster: the bucket %s", cfg.Bucket)
	}
	return kv, nil
}

// register takes the lowest free node number with an atomic Create,
// trying first the numbers no entry of known holds.
func (n *Node) register(ctx context.Context, known []jetstream.KeyValueEntry) error {
	taken := map[string]bool{}
	for _, e := range known {
		if e.Operation() == jetstream.KeyValuePut {
			taken[e.Key()] = true
		}
	}
	reg, err := newRegistration(n.kp, n.pub, n.epoch, n.dh)
	if err != nil {
		return err
	}
	val, err := cbor.Marshal(reg)
	if err != nil {
		return errs.Wrap(err, "cluster: encoding the registration")
	}
	for id := 1; id <= maxNode; id++ {
		if taken[strconv.Itoa(id)] {
			continue
		}
		rev, err := n.kv.Create(ctx, strconv.Itoa(id), val)
		if errors.Is(err, jetstream.ErrKeyExists) {
			continue
		}
		if err != nil {
			return errs.Wrap(err, "cluster: registering the node")
		}
		n.id, n.regRev = uint16(id), rev
		return nil
	}
	return fmt.Errorf("ward: cluster: all %d node numbers are taken", maxNode)
}

// reregister puts the node's registration back after a peer removed it.
func (n *Node) reregister() {
	reg, err := newRegistration(n.kp, n.pub, n.epoch, n.dh)
	if err != nil {
		return
	}
	val, _ := cbor.Marshal(reg)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	rev, err := n.kv.Create(ctx, strconv.Itoa(int(n.id)), val)
	if err != nil {
		n.log.Error("ward: cluster: a peer removed this node's registration and it could not be restored; leave and join again", "node", n.id, "err", err)
		return
	}
	n.regMu.Lock()
	n.regRev = rev
	n.regMu.Unlock()
	n.log.Warn("ward: cluster: restored this node's registration, which a peer had removed", "node", n.id)
}

// forget removes a lost peer's registration, if it is still the one this
// node knows, so that the cluster's list of nodes drops it and its number
// can be reused; a node that was only cut off restores it (reregister).
func (n *Node) forget(node uint16, rev uint64) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	// Several survivors try; the revision lets one win.
	n.kv.Delete(ctx, strconv.Itoa(int(node)), jetstream.LastRevision(rev))
}

// unregister removes the node's entry, if it is still the one it wrote.
func (n *Node) unregister() error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	n.regMu.Lock()
	rev := n.regRev
	n.regMu.Unlock()
	err := n.kv.Delete(ctx, strconv.Itoa(int(n.id)), jetstream.LastRevision(rev))
	if err != nil {
		return errs.Wrap(err, "cluster: removing node %d's registration", n.id)
	}
	return nil
}

// watchNodes loads the registrations there are and keeps following them,
// so that a frame's signer is known by the time it arrives (or looked up
// when it is not: see refreshPeer). It returns the ones there are, to be
// applied once this node has its number (session keys name both nodes).
func (n *Node) watchNodes(ctx context.Context) ([]jetstream.KeyValueEntry, error) {
	w, err := n.kv.WatchAll(ctx)
	if err != nil {
		return nil, errs.Wrap(err, "cluster: watching the nodes bucket")
	}
	n.watcher = w
	var initial []jetstream.KeyValueEntry
	for {
		select {
		case e, ok := <-w.Updates():
			if !ok {
				return nil, fmt.Errorf("ward: cluster: the nodes bucket's watch ended")
			}
			if e == nil {
				return initial, nil
			}
			initial = append(initial, e)
		case <-ctx.Done():
			w.Stop()
			return nil, errs.Wrap(ctx.Err(), "cluster: loading the nodes bucket")
		}
	}
}

func (n *Node) followNodes() {
	defer n.wg.Done()
	for e := range n.watcher.Updates() {
		if e != nil {
			n.applyEntry(e)
		}
	}
}

// applyEntry records a registration, or its removal.
func (n *Node) applyEntry(e jetstream.KeyValueEntry) {
	id, err := strconv.Atoi(e.Key())
	if err != nil || id < 1 || id > maxNode {
		return
	}
	node := uint16(id)
	if n.id != 0 && node == n.id {
		if e.Operation() != jetstream.KeyValuePut && !n.left.Load() {
			// A peer took this node for lost and removed its entry: put
			// it back, so the node is known again.
			go n.reregister()
		}
		return
	}
	if e.Operation() != jetstream.KeyValuePut {
		n.peersMu.RLock()
		p := n.peers[node]
		n.peersMu.RUnlock()
		if p != nil {
			n.peerGone(p, e.Revision())
		}
		return
	}
	var r registration
	if cbor.Unmarshal(e.Value(), &r) != nil {
		n.log.Warn("ward: unreadable node registration", "node", node)
		return
	}
	if r.Epoch == n.epoch && r.Pub == n.pub {
		return
	}
	key, dh, err := r.check()
	if err != nil {
		n.log.Warn("ward: node registration with a bad key", "node", node, "err", err)
		return
	}
	n.setPeer(node, key, dh, r, e.Revision())
}

// refreshGap spaces the registration reads of refreshPeer.
const refreshGap = 10 * time.Millisecond

// refreshPeer reads node's registration now, for a frame that arrived
// before the watch told of its sender; at most once per heartbeat
// interval per node, so forged frames cannot make a node hammer the
// bucket.
func (n *Node) refreshPeer(node uint16) *peer {
	if node == 0 || node == n.id {
		return nil
	}
	now := time.Now()
	p := n.peerOrNew(node)
	p.rmu.Lock()
	stale := now.Sub(p.refreshed) < n.cfg.HeartbeatInterval
	if !stale {
		p.refreshed = now
	}
	p.rmu.Unlock()
	// And at most one read per refreshGap for all numbers together: frames
	// naming made-up nodes must not keep the receive loop on the bucket.
	if !stale {
		n.refreshMu.Lock()
		stale = now.Sub(n.lastRefresh) < refreshGap
		if !stale {
			n.lastRefresh = now
		}
		n.refreshMu.Unlock()
	}
	if !stale {
		ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
		e, err := n.kv.Get(ctx, strconv.Itoa(int(node)))
		cancel()
		if err == nil {
			n.applyEntry(e)
		}
	}
	return p
}
