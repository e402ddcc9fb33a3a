package cluster

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/wardrt/ward/internal/route"
	"github.com/wardrt/ward/runtime"
)

// Three nodes take three different numbers and see each other.
func TestFakeJoinNumbers(t *testing.T) {
	fc := startFake(t, 3)
	seen := map[uint16]bool{}
	for _, n := range fc.nodes {
		if n.ID() == 0 || seen[n.ID()] {
			t.Fatalf("node number %d repeated or zero", n.ID())
		}
		seen[n.ID()] = true
		if len(n.Nodes()) != 3 {
			t.Fatalf("node %d knows %d nodes, want 3", n.ID(), len(n.Nodes()))
		}
	}
}

// 1000 messages from one node to another arrive in order, with ids
// qualified with the sender's node.
func TestFakeSendOrder(t *testing.T) {
	fc := startFake(t, 2)
	a, b := fc.nodes[0], fc.nodes[1]
	to := route.Qualify(5, b.ID())
	tr := (*transport)(a)
	for i := 0; i < 1000; i++ {
		if err := tr.Send(3, to, 7, []byte(fmt.Sprint(i))); err != nil {
			t.Fatalf("message %d: %v; a: %+v; b: %+v", i, err, a.Stats(), b.Stats())
		}
	}
	fc.locals[1].wait(t, "1000 messages", func(event) bool { return fc.locals[1].count("deliver") == 1000 })
	i := 0
	for _, e := range fc.locals[1].all() {
		if e.op != "deliver" {
			continue
		}
		if e.data != fmt.Sprint(i) || e.from != route.Qualify(3, a.ID()) || e.to != to || e.tag != 7 {
			t.Fatalf("message %d: %+v", i, e)
		}
		i++
	}
}

// Every kind of signal arrives as the operation it stands for.
func TestFakeSignals(t *testing.T) {
	fc := startFake(t, 2)
	a, b := fc.nodes[0], fc.nodes[1]
	lb := fc.locals[1]
	target := lb.spawn(9)
	tr := (*transport)(a)
	from := route.Qualify(4, a.ID())
	if err := tr.Link(route.Caller{Node: a.ID()}, 4, target); err != nil {
		t.Fatal(err)
	}
	tr.Unlink(4, target)
	if err := tr.Monitor(4, target, 77, -2); err != nil {
		t.Fatal(err)
	}
	tr.Demonitor(4, target, 77)
	tr.Exit(4, target, route.Reason{Kind: 2, Text: "trap"})
	tr.Down(target, 4, 78, -2, route.Reason{Kind: 1, Text: "killed"}) // a DOWN for a watcher on b
	if err := tr.Kill(route.Caller{Node: a.ID()}, target); err != nil {
		t.Fatal(err)
	}
	lb.wait(t, "kill", func(e event) bool { return e.op == "kill" })
	want := []event{
		{op: "link", from: from, to: target},
		{op: "unlink", from: from, to: target},
		{op: "monitor", from: from, to: target, ref: 77, tag: -2},
		{op: "demonitor", from: from, to: target, ref: 77},
		{op: "exit", from: from, to: target, reason: route.Reason{Kind: 2, Text: "trap"}},
		{op: "down", from: from, to: target, ref: 78, tag: -2, reason: route.Reason{Kind: 1, Text: "killed"}},
		{op: "kill", to: target},
	}
	got := lb.all()
	if len(got) != len(want) {
		t.Fatalf("got %+v\nwant %+v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("event %d: got %+v, want %+v", i, got[i], want[i])
		}
	}
	_ = b
}

// A guest caller (an environment chain) may not kill or link on another
// node until grants say so: the kill is refused and counted, the link is
// answered with an exit.
func TestFakePermits(t *testing.T) {
	fc := startFake(t, 2)
	a, b := fc.nodes[0], fc.nodes[1]
	target := fc.locals[1].spawn(9)
	tr := (*transport)(a)
	guest := route.Caller{Node: a.ID(), Env: []uint64{3, 1}}
	tr.Kill(guest, target)
	tr.Link(guest, 4, target)
	e := fc.locals[0].wait(t, "exit for a refused link", func(e event) bool { return e.op == "exit" })
	if e.from != target || e.to != route.Qualify(4, a.ID()) || e.reason.Text != route.ErrRemotePermission.Error() {
		t.Fatalf("exit %+v", e)
	}
	st := b.Stats()
	if st.KillsRefused != 1 || st.LinksRefused != 1 || fc.locals[1].count("kill") != 0 || fc.locals[1].count("link") != 0 {
		t.Fatalf("stats %+v, events %+v", st, fc.locals[1].all())
	}
}

// Exists asks the node; a node that is not there is ErrNoNode at once.
func TestFakeExists(t *testing.T) {
	fc := startFake(t, 2)
	a, b := fc.nodes[0], fc.nodes[1]
	alive := fc.locals[1].spawn(9)
	tr := (*transport)(a)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if ok, err := tr.Exists(ctx, alive); err != nil || !ok {
		t.Fatalf("Exists(alive) = %v, %v", ok, err)
	}
	if ok, err := tr.Exists(ctx, route.Qualify(10, b.ID())); err != nil || ok {
		t.Fatalf("Exists(dead) = %v, %v", ok, err)
	}
	if _, err := tr.Exists(ctx, route.Qualify(10, 999)); !errors.Is(err, route.ErrNoNode) {
		t.Fatalf("Exists on node 999: %v", err)
	}
	if err := tr.Send(1, route.Qualify(10, 999), 0, nil); !errors.Is(err, route.ErrNoNode) {
		t.Fatalf("Send to node 999: %v", err)
	}
}

// call: a handler's error comes back wrapping ErrRemote (and the route
// sentinel it wrapped); an op nobody serves is an ErrRemote too.
func TestFakeCall(t *testing.T) {
	fc := startFake(t, 2)
	a, b := fc.nodes[0], fc.nodes[1]
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var s string
	if err := a.call(ctx, b.ID(), "nope", 1, &s); !errors.Is(err, ErrRemote) {
		t.Fatalf("unknown op: %v", err)
	}
	// Handlers are registered before the receive loop; this test adds
	// one late, with no frame in flight, to see the error path.
	b.handlers["perm"] = func(ctx context.Context, from uint16, req []byte) (any, error) {
		if from != a.ID() {
			return nil, fmt.Errorf("from %d", from)
		}
		return nil, fmt.Errorf("ward: no: %w", route.ErrRemotePermission)
	}
	b.handlers["echo"] = func(ctx context.Context, from uint16, req []byte) (any, error) {
		return fmt.Sprint(from, len(req)), nil
	}
	if err := a.call(ctx, b.ID(), "perm", 1, &s); !errors.Is(err, ErrRemote) || !errors.Is(err, route.ErrRemotePermission) {
		t.Fatalf("perm: %v", err)
	}
	if err := a.call(ctx, b.ID(), "echo", "abc", &s); err != nil || s != fmt.Sprint(a.ID(), 4) {
		t.Fatalf("echo: %q, %v", s, err)
	}
}

// A graceful Leave: the others see a bye at once (no heartbeat timeout),
// and the leaver detaches its runtime.
func TestFakeLeave(t *testing.T) {
	fc := startFake(t, 3)
	c := fc.nodes[2]
	for _, n := range fc.nodes[:2] {
		n.MonitorNode(runtime.ProcessID(route.Qualify(1, n.ID())), c.ID())
	}
	if err := c.Leave(context.Background()); err != nil {
		t.Fatal(err)
	}
	if fc.locals[2].count("detach") != 1 {
		t.Fatal("Leave did not detach the runtime")
	}
	for i, n := range fc.nodes[:2] {
		fc.locals[i].wait(t, "node down", func(e event) bool { return e.op == "nodedown" && e.node == c.ID() })
		fc.locals[i].wait(t, "node-down message", func(e event) bool { return e.op == "notifynodedown" && e.node == c.ID() })
		if st := n.Stats(); st.Downs.Bye != 1 || st.Downs.Heartbeat != 0 {
			t.Fatalf("node %d downs: %+v", n.ID(), st.Downs)
		}
		if err := (*transport)(n).Send(1, route.Qualify(1, c.ID()), 0, nil); !errors.Is(err, route.ErrNoNode) {
			t.Fatalf("send to a node that left: %v", err)
		}
	}
}

// A node that goes silent (its connection closed) is down after the
// missed heartbeats: NodeDown, node monitors, and a pending call fails.
func TestFakeSilentNode(t *testing.T) {
	fc := startFake(t, 2)
	a, b := fc.nodes[0], fc.nodes[1]
	block := make(chan struct{})
	b.handlers["block"] = func(ctx context.Context, from uint16, req []byte) (any, error) {
		<-block
		return nil, nil
	}
	defer close(block)
	a.MonitorNode(runtime.ProcessID(route.Qualify(1, a.ID())), b.ID())
	errc := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		errc <- a.call(ctx, b.ID(), "block", nil, nil)
	}()
	time.Sleep(50 * time.Millisecond) // let the call reach b
	fc.conns[1].Close()
	fc.locals[0].wait(t, "node down", func(e event) bool { return e.op == "nodedown" && e.node == b.ID() })
	fc.locals[0].wait(t, "node-down message", func(e event) bool { return e.op == "notifynodedown" && e.node == b.ID() })
	select {
	case err := <-errc:
		if !errors.Is(err, route.ErrNoNode) {
			t.Fatalf("pending call: %v, want ErrNoNode", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("the pending call did not fail")
	}
	if st := a.Stats(); st.Downs.Heartbeat != 1 {
		t.Fatalf("downs %+v", st.Downs)
	}
	// Monitoring a node that is down answers at once.
	a.MonitorNode(runtime.ProcessID(route.Qualify(2, a.ID())), b.ID())
	fc.locals[0].wait(t, "immediate node-down", func(e event) bool { return e.op == "notifynodedown" && e.to == route.Qualify(2, a.ID()) })
}

// Nodes joining at once, on a server with no bucket yet, each get their
// own number: the bucket is made once, and numbers are taken with Create.
func TestFakeConcurrentJoin(t *testing.T) {
	const n = 5
	srv, creds, _ := startServer(t, n, false)
	nodes := make([]*Node, n)
	errs := make(chan error, n)
	for i := range n {
		go func() {
			nc, err := srv.Connect(creds[i])
			if err != nil {
				errs <- err
				return
			}
			t.Cleanup(nc.Close)
			l := newFakeLocal()
			cfg := testConfig(nc)
			cfg.Storage = jetstream.MemoryStorage
			cfg.attach = func(node uint16, tr route.Transport) (route.Local, error) {
				l.node, l.t = node, tr
				return l, nil
			}
			nd, err := Join(testCtx(t), nil, cfg)
			if err == nil {
				t.Cleanup(func() { nd.Leave(context.Background()) })
				nodes[i] = nd
			}
			errs <- err
		}()
	}
	for range n {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	seen := map[uint16]bool{}
	for _, nd := range nodes {
		if seen[nd.ID()] {
			t.Fatalf("node number %d given twice", nd.ID())
		}
		seen[nd.ID()] = true
	}
	awaitMesh(t, nodes)
}
