package cluster

import (
	"context"
	"crypto/ecdh"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/nats-io/nkeys"
	"github.com/wardrt/ward/internal/errs"
	"github.com/wardrt/ward/internal/route"
	"github.com/wardrt/ward/runtime"
)

// ErrLeft is wrapped (with route.ErrNoNode) by what a node is asked to
// send after its Leave.
var ErrLeft = errors.New("ward: the node has left the cluster")

// Node is a runtime joined to a cluster.
type Node struct {
	rt     *runtime.Runtime
	id     uint16
	js     jetstream.JetStream
	nc     *nats.Conn
	log    *slog.Logger
	cfg    Config
	kp     nkeys.KeyPair
	pub    string
	dh     *ecdh.PrivateKey
	epoch  uint64
	kv     jetstream.KeyValue
	regMu  sync.Mutex
	regRev uint64

	refreshMu   sync.Mutex
	lastRefresh time.Time
	local       route.Local
	maxPay      int64

	// handlers is written by initHandlers before the receive loop starts
	// and only read after.
	handlers map[string]handlerFunc

	peersMu sync.RWMutex
	peers   map[uint16]*peer
	// peerTab is a copy of peers made on each change (peers are only
	// ever added), for the paths of every frame to read without a lock.
	peerTab atomic.Pointer[map[uint16]*peer]

	cbMu    sync.Mutex
	downCbs []func(node uint16)

	monMu    sync.Mutex
	nodeMons map[uint16]map[uint64]struct{}

	callMu   sync.Mutex
	calls    map[uint64]*pendingCall
	nextCall atomic.Uint64

	stats counters

	// global is the node's global registry (global_node.go), nil if it
	// did not start; spawn its share of spawning (spawn.go).
	global *Global
	spawn  spawnState

	hbMu  sync.Mutex
	hbSeq uint64

	sigSub, hbSub *nats.Subscription
	watcher       jetstream.KeyWatcher
	left          atomic.Bool
	stop          chan struct{}
	wg            sync.WaitGroup
	leaveOnce     sync.Once
	leaveErr      error
}

// NodeInfo describes a node as this node sees it.
type NodeInfo struct {
	ID    uint16
	Key   string // its nkey's public key
	Epoch uint64 // its Join
	Up    bool   // heard within the detection time, session not ended
	Self  bool
}

// Join makes rt a node of the cluster cfg names: it takes the lowest free
// node number, registers the node's key, attaches rt to the transport and
// starts heartbeats. Peers already up are heard before Join returns (or
// the detection time passes), so their processes can be reached at once.
func Join(ctx context.Context, rt *runtime.Runtime, cfg Config) (*Node, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	if rt == nil && cfg.attach == nil {
		return nil, fmt.Errorf("%w: the runtime is nil", ErrConfig)
	}
	n := &Node{
		rt:       rt,
		nc:       cfg.Conn,
		cfg:      cfg,
		log:      cfg.Logger,
		peers:    map[uint16]*peer{},
		nodeMons: map[uint16]map[uint64]struct{}{},
		calls:    map[uint64]*pendingCall{},
		handlers: map[string]handlerFunc{},
		stop:     make(chan struct{}),
		maxPay:   cfg.Conn.MaxPayload(),
	}
	if cfg.Seed != nil {
		n.kp, err = nkeys.FromSeed(cfg.Seed)
	} else {
		n.kp, err = nkeys.CreateUser()
	}
	if err != nil {
		return nil, fmt.Errorf("%w: node key: %w", ErrConfig, err)
	}
	if n.pub, err = n.kp.PublicKey(); err != nil {
		return nil, fmt.Errorf("%w: node key: %w", ErrConfig, err)
	}
	if n.dh, err = ecdh.X25519().GenerateKey(rand.Reader); err != nil {
		return nil, errs.Wrap(err, "cluster: session key")
	}
	var eb [8]byte
	rand.Read(eb[:])
	n.epoch = binary.LittleEndian.Uint64(eb[:]) | 1 // never 0
	if n.js, err = jetstream.New(n.nc); err != nil {
		return nil, errs.Wrap(err, "cluster: JetStream")
	}
	if n.kv, err = openBucket(ctx, n.js, jetstream.KeyValueConfig{
		Bucket: cfg.nodesBucket(), Storage: cfg.Storage, History: 1,
		Description: "ward nodes: number -> keys and epoch",
	}); err != nil {
		return nil, err
	}
	initial, err := n.watchNodes(ctx)
	if err != nil {
		return nil, err
	}
	if err := n.register(ctx, initial); err != nil {
		n.watcher.Stop()
		return nil, err
	}
	for _, e := range initial {
		n.applyEntry(e)
	}
	// Following starts once the node's number is known, so the watch
	// never sees this node as a peer.
	n.wg.Add(1)
	go n.followNodes()
	if err := n.start(ctx); err != nil {
		n.unregister()
		n.watcher.Stop()
		return nil, err
	}
	n.awaitPeers(ctx)
	n.log.Info("ward: joined cluster", "cluster", cfg.Cluster, "node", n.id)
	return n, nil
}

// start attaches the runtime and opens the node's subjects.
func (n *Node) start(ctx context.Context) error {
	n.initHandlers()
	var err error
	if n.cfg.attach != nil {
		n.local, err = n.cfg.attach(n.id, (*transport)(n))
	} else {
		n.local, err = route.Attach(n.rt, n.id, (*transport)(n))
	}
	if err != nil {
		return errs.Wrap(err, "cluster: attaching the runtime as node %d", n.id)
	}
	fail := func(err error) error {
		if n.sigSub != nil {
			n.sigSub.Unsubscribe()
		}
		n.local.Detach()
		return err
	}
	if n.sigSub, err = n.nc.Subscribe(n.cfg.subject("sig", n.id), n.onSig); err != nil {
		return fail(errs.Wrap(err, "cluster: subscribing to the node's subject"))
	}
	if n.hbSub, err = n.nc.Subscribe(n.cfg.allSubject("hb"), n.onHB); err != nil {
		return fail(errs.Wrap(err, "cluster: subscribing to heartbeats"))
	}
	// A node's frames wait in the client's queue when the runtime is
	// busy; NATS's default limits (64 MiB) hold a burst, and past them
	// the slow-consumer check ends the sessions instead of losing frames
	// silently.
	n.sigSub.SetPendingLimits(-1, 256<<20)
	if err := n.nc.FlushWithContext(ctx); err != nil {
		n.hbSub.Unsubscribe()
		return fail(errs.Wrap(err, "cluster: flushing the subscriptions"))
	}
	n.wg.Add(1)
	go n.heartbeats()
	return nil
}

// ID returns the node's number in the cluster.
func (n *Node) ID() uint16 { return n.id }

// Nodes lists the nodes registered in the cluster as this node knows
// them, itself included; a node that crashed stays listed, not up, until
// its registration is removed.
func (n *Node) Nodes() []NodeInfo {
	out := []NodeInfo{{ID: n.id, Key: n.pub, Epoch: n.epoch, Up: !n.left.Load(), Self: true}}
	n.peersMu.RLock()
	defer n.peersMu.RUnlock()
	for _, p := range n.peers {
		p.rmu.Lock()
		if p.key != nil && !p.gone {
			out = append(out, NodeInfo{ID: p.id, Key: p.pubText, Epoch: p.epoch, Up: p.up.Load()})
		}
		p.rmu.Unlock()
	}
	return out
}

// Leave says goodbye to every peer (after everything sent before it),
// removes the node's registration, and detaches the runtime: its ties to
// remote processes fire noconnection, and remote ids are unknown again.
// The connection stays open; it is the caller's.
func (n *Node) Leave(ctx context.Context) error {
	n.leaveOnce.Do(func() { n.leaveErr = n.leave(ctx) })
	return n.leaveErr
}

func (n *Node) leave(ctx context.Context) error {
	// The bye goes in each peer's session, not on a subject of its own,
	// so it arrives after everything this node sent before it.
	for _, p := range n.peerList() {
		n.sendTo(p, &frame{Kind: kindBye})
	}
	n.left.Store(true)
	for _, p := range n.peerList() {
		n.flushQueue(p)
	}
	fctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	flushErr := n.nc.FlushWithContext(fctx)
	cancel()
	close(n.stop)
	n.sigSub.Unsubscribe()
	n.hbSub.Unsubscribe()
	n.watcher.Stop()
	regErr := n.unregister()
	n.local.Detach()
	for _, p := range n.peerList() {
		p.up.Store(false)
		n.failCalls(p.id)
	}
	if n.global != nil {
		// After the calls failed, so none of its work waits on a peer.
		// Names stay: they go when the peers see the node leave.
		n.global.close()
	}
	n.wg.Wait()
	n.log.Info("ward: left cluster", "cluster", n.cfg.Cluster, "node", n.id)
	if flushErr != nil {
		return errs.Wrap(flushErr, "cluster: leaving: the goodbye may not have reached every node")
	}
	return regErr
}

// addPeerLocked adds p to the peers (peersMu held).
func (n *Node) addPeerLocked(p *peer) {
	n.peers[p.id] = p
	tab := make(map[uint16]*peer, len(n.peers))
	for id, q := range n.peers {
		tab[id] = q
	}
	n.peerTab.Store(&tab)
}

// peerOrNew returns the peer of number node, entering a new one, gone
// until its registration is read, when there is none yet.
func (n *Node) peerOrNew(node uint16) *peer {
	n.peersMu.Lock()
	defer n.peersMu.Unlock()
	p := n.peers[node]
	if p == nil {
		p = newPeer(node, n.cfg.subject("sig", node))
		p.gone = true
		n.addPeerLocked(p)
	}
	return p
}

// peer returns the peer of number id, or nil, without a lock.
func (n *Node) peer(id uint16) *peer {
	if tab := n.peerTab.Load(); tab != nil {
		return (*tab)[id]
	}
	return nil
}

// peerList returns the peers known now.
func (n *Node) peerList() []*peer {
	n.peersMu.RLock()
	defer n.peersMu.RUnlock()
	out := make([]*peer, 0, len(n.peers))
	for _, p := range n.peers {
		out = append(out, p)
	}
	return out
}

// onNodeDown registers fn to run whenever a peer is lost or leaves.
func (n *Node) onNodeDown(fn func(node uint16)) {
	n.cbMu.Lock()
	n.downCbs = append(n.downCbs, fn)
	n.cbMu.Unlock()
}
