package cluster

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/wardrt/ward/cluster/embed"
	"github.com/wardrt/ward/internal/route"
)

// fakeLocal is a route.Local that records what arrives, for the tests of
// frames and sessions that need no runtime.
type fakeLocal struct {
	node uint16
	t    route.Transport

	mu     sync.Mutex
	alive  map[uint64]bool
	events []event
	notify chan struct{}
	gate   chan struct{}
	// delivered counts Deliver calls, for a benchmark to poll cheaply;
	// with countOnly set, deliveries are only counted, not recorded.
	delivered atomic.Int64
	countOnly atomic.Bool
}

type event struct {
	op       string
	from, to uint64
	ref      uint64
	tag      int64
	data     string
	reason   route.Reason
	node     uint16
}

func newFakeLocal() *fakeLocal {
	return &fakeLocal{alive: map[uint64]bool{}, notify: make(chan struct{}, 1)}
}

func (f *fakeLocal) add(e event) {
	f.mu.Lock()
	f.events = append(f.events, e)
	f.mu.Unlock()
	select {
	case f.notify <- struct{}{}:
	default:
	}
}

// spawn marks a local id alive.
func (f *fakeLocal) spawn(local uint64) uint64 {
	id := route.Qualify(local, f.node)
	f.mu.Lock()
	f.alive[id] = true
	f.mu.Unlock()
	return id
}

func (f *fakeLocal) all() []event {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]event(nil), f.events...)
}

// wait waits for an event that ok accepts, and returns it.
func (f *fakeLocal) wait(t *testing.T, what string, ok func(event) bool) event {
	t.Helper()
	deadline := time.After(20 * time.Second)
	for {
		for _, e := range f.all() {
			if ok(e) {
				return e
			}
		}
		select {
		case <-f.notify:
		case <-time.After(5 * time.Millisecond):
		case <-deadline:
			t.Fatalf("node %d: no %s; events: %+v", f.node, what, f.all())
		}
	}
}

func (f *fakeLocal) count(op string) int {
	n := 0
	for _, e := range f.all() {
		if e.op == op {
			n++
		}
	}
	return n
}

func (f *fakeLocal) Deliver(from, to uint64, tag int64, data []byte) {
	if f.countOnly.Load() {
		f.delivered.Add(1)
		return
	}
	f.mu.Lock()
	g := f.gate
	f.mu.Unlock()
	if g != nil {
		<-g
	}
	f.add(event{op: "deliver", from: from, to: to, tag: tag, data: string(data)})
	f.delivered.Add(1)
}
func (f *fakeLocal) Link(from, to uint64) {
	f.mu.Lock()
	ok := f.alive[to]
	f.mu.Unlock()
	if !ok {
		f.t.Exit(to, from, route.Reason{Kind: 7, Text: "noproc"})
		return
	}
	f.add(event{op: "link", from: from, to: to})
}
func (f *fakeLocal) Unlink(from, to uint64) { f.add(event{op: "unlink", from: from, to: to}) }
func (f *fakeLocal) Monitor(watcher, target, ref uint64, tag int64) {
	f.add(event{op: "monitor", from: watcher, to: target, ref: ref, tag: tag})
}
func (f *fakeLocal) Demonitor(watcher, target, ref uint64) {
	f.add(event{op: "demonitor", from: watcher, to: target, ref: ref})
}
func (f *fakeLocal) Exit(from, to uint64, r route.Reason) {
	f.add(event{op: "exit", from: from, to: to, reason: r})
}
func (f *fakeLocal) Down(watcher, target, ref uint64, tag int64, r route.Reason) {
	f.add(event{op: "down", from: target, to: watcher, ref: ref, tag: tag, reason: r})
}
func (f *fakeLocal) Kill(to uint64) { f.add(event{op: "kill", to: to}) }
func (f *fakeLocal) Exists(id uint64) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.alive[id]
}
func (f *fakeLocal) NodeDown(node uint16) { f.add(event{op: "nodedown", node: node}) }
func (f *fakeLocal) NotifyNodeDown(to uint64, node uint16) {
	f.add(event{op: "notifynodedown", to: to, node: node})
}
func (f *fakeLocal) Detach() { f.add(event{op: "detach"}) }

// fakeCluster is n nodes with fake runtimes on one embedded server.
type fakeCluster struct {
	srv    *embed.Server
	nodes  []*Node
	locals []*fakeLocal
	conns  []*nats.Conn
	creds  []embed.Cred
	bus    embed.Cred
}

// testConfig is the fast heartbeat setting of the tests: quick to detect
// a lost node, and loose enough for -race on a loaded 2-core machine.
func testConfig(nc *nats.Conn) Config {
	return Config{Conn: nc, Cluster: "t", HeartbeatInterval: 50 * time.Millisecond, HeartbeatMisses: 6}
}

func startServer(t testing.TB, n int, listen bool) (*embed.Server, []embed.Cred, embed.Cred) {
	t.Helper()
	creds := make([]embed.Cred, n)
	for i := range creds {
		c, err := embed.NewCred()
		if err != nil {
			t.Fatal(err)
		}
		creds[i] = c
	}
	bus, err := embed.NewCred()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	srv, err := embed.Start(ctx, embed.Options{StoreDir: t.TempDir(), Listen: listen, Nodes: creds, BusClients: []embed.Cred{bus}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Close)
	return srv, creds, bus
}

func startFake(t testing.TB, n int) *fakeCluster {
	t.Helper()
	srv, creds, bus := startServer(t, n, false)
	fc := &fakeCluster{srv: srv, creds: creds, bus: bus}
	for i := 0; i < n; i++ {
		fc.join(t, i)
	}
	fc.awaitMesh(t)
	return fc
}

// join joins node i (again, after a Leave) with a fresh fake runtime.
func (fc *fakeCluster) join(t testing.TB, i int) {
	t.Helper()
	nc, err := fc.srv.Connect(fc.creds[i])
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	l := newFakeLocal()
	cfg := testConfig(nc)
	cfg.Seed = fc.creds[i].Seed()
	cfg.attach = func(node uint16, tr route.Transport) (route.Local, error) {
		l.node, l.t = node, tr
		return l, nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	nd, err := Join(ctx, nil, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nd.Leave(context.Background()) })
	for len(fc.nodes) <= i {
		fc.nodes, fc.locals, fc.conns = append(fc.nodes, nil), append(fc.locals, nil), append(fc.conns, nil)
	}
	fc.nodes[i], fc.locals[i], fc.conns[i] = nd, l, nc
}

// awaitMesh waits until every node sees every other one up.
func (fc *fakeCluster) awaitMesh(t testing.TB) {
	t.Helper()
	awaitMesh(t, fc.nodes)
}

func awaitMesh(t testing.TB, nodes []*Node) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for _, a := range nodes {
		for _, b := range nodes {
			for a != b && !isUp(a, b.ID()) {
				if time.Now().After(deadline) {
					t.Fatalf("node %d does not see node %d up: %+v", a.ID(), b.ID(), a.Nodes())
				}
				time.Sleep(2 * time.Millisecond)
			}
		}
	}
}

func isUp(a *Node, id uint16) bool {
	for _, ni := range a.Nodes() {
		if ni.ID == id {
			return ni.Up
		}
	}
	return false
}

// hold makes the fake's Deliver wait until release, to stall a node's
// receive loop.
func (f *fakeLocal) hold() (release func()) {
	ch := make(chan struct{})
	f.mu.Lock()
	f.gate = ch
	f.mu.Unlock()
	return func() {
		f.mu.Lock()
		f.gate = nil
		f.mu.Unlock()
		close(ch)
	}
}
