package cluster

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/wardrt/ward/internal/route"
	"github.com/wardrt/ward/runtime"
)

// A frame missing from a session (here: a number skipped) ends it on both
// sides: the receiver sees the gap, its reset makes the sender fire too,
// and the next send opens a new session that delivers.
func TestFakeGapEndsSessionBothSides(t *testing.T) {
	fc := startFake(t, 2)
	a, b := fc.nodes[0], fc.nodes[1]
	r := newRogue(t, fc) // records the resets, to replay them at the end
	to := route.Qualify(5, b.ID())
	tr := (*transport)(a)
	if err := tr.Send(1, to, 1, []byte("before")); err != nil {
		t.Fatal(err)
	}
	pb := a.peers[b.ID()]
	pb.smu.Lock()
	pb.outSeq++ // a frame that never went out
	pb.smu.Unlock()
	if err := tr.Send(1, to, 1, []byte("after the gap")); err != nil {
		t.Fatal(err)
	}
	fc.locals[1].wait(t, "node down at the receiver", func(e event) bool { return e.op == "nodedown" && e.node == a.ID() })
	fc.locals[0].wait(t, "node down at the sender", func(e event) bool { return e.op == "nodedown" && e.node == b.ID() })
	if st := b.Stats(); st.Downs.Gap != 1 || st.Dropped.Gap != 1 {
		t.Fatalf("receiver: %+v", st)
	}
	if st := a.Stats(); st.Downs.Reset != 1 {
		t.Fatalf("sender: %+v", st)
	}
	for _, e := range fc.locals[1].all() {
		if e.data == "after the gap" {
			t.Fatal("the frame after the gap was applied")
		}
	}
	// The peers hear each other again, and a new session carries on.
	fc.awaitMesh(t)
	if err := tr.Send(1, to, 1, []byte("new session")); err != nil {
		t.Fatal(err)
	}
	fc.locals[1].wait(t, "delivery in the new session", func(e event) bool { return e.data == "new session" })

	// Resets are not numbered: a replayed one must not end the new
	// session.
	downsA, downsB := a.Stats().Downs, b.Stats().Downs
	replays := 0
	for len(r.captured) > 0 {
		m := <-r.captured
		if has(m, kindReset) {
			r.nc.Publish(m.Subject, m.Data)
			replays++
		}
	}
	if replays == 0 {
		t.Fatal("no reset was captured")
	}
	r.nc.Flush()
	if err := tr.Send(1, to, 1, []byte("still on")); err != nil {
		t.Fatal(err)
	}
	fc.locals[1].wait(t, "delivery after the replays", func(e event) bool { return e.data == "still on" })
	deadline := time.Now().Add(testTimeout)
	for a.Stats().Dropped.Replay+b.Stats().Dropped.Replay < uint64(replays) {
		if time.Now().After(deadline) {
			t.Fatalf("replayed resets not counted: a %+v b %+v", a.Stats().Dropped, b.Stats().Dropped)
		}
		time.Sleep(5 * time.Millisecond)
	}
	if a.Stats().Downs != downsA || b.Stats().Downs != downsB {
		t.Fatalf("a replayed reset ended a session: a %+v b %+v", a.Stats().Downs, b.Stats().Downs)
	}
}

// A node whose receive loop falls so far behind that NATS drops its
// frames (a slow consumer) ends its sessions instead of going on with a
// hole in them.
func TestFakeSlowConsumer(t *testing.T) {
	fc := startFake(t, 2)
	a, b := fc.nodes[0], fc.nodes[1]
	b.sigSub.SetPendingLimits(10, 1<<20)
	release := fc.locals[1].hold()
	tr := (*transport)(a)
	pb := a.peerList()[0]
	for i := 0; i < 50; i++ {
		if err := tr.Send(1, route.Qualify(5, b.ID()), 1, []byte("x")); err != nil && !errors.Is(err, route.ErrNoNode) {
			t.Fatal(err)
		}
		// One NATS message each: batched, they would not fill the
		// subscription's 10-message limit.
		a.flushQueue(pb)
	}
	deadline := time.Now().Add(20 * time.Second)
	for d, _ := b.sigSub.Dropped(); d == 0; d, _ = b.sigSub.Dropped() {
		if time.Now().After(deadline) {
			release()
			t.Fatal("NATS dropped nothing")
		}
		time.Sleep(5 * time.Millisecond)
	}
	release()
	// The heartbeat ticker's slow-consumer check and the receive loop's
	// gap check race to end the session; either must.
	for d := b.Stats().Downs; d.SlowConsumer+d.Gap == 0; d = b.Stats().Downs {
		if time.Now().After(deadline) {
			t.Fatalf("no slow-consumer down: %+v", b.Stats())
		}
		time.Sleep(5 * time.Millisecond)
	}
	fc.locals[1].wait(t, "node down", func(e event) bool { return e.op == "nodedown" && e.node == a.ID() })
	fc.locals[0].wait(t, "node down at the sender", func(e event) bool { return e.op == "nodedown" && e.node == b.ID() })
}

// A node that leaves and joins again is a new epoch: its peers end the
// old session, and take frames of the new one.
func TestFakeRejoin(t *testing.T) {
	fc := startFake(t, 2)
	a, b := fc.nodes[0], fc.nodes[1]
	old := b.epoch
	if err := b.Leave(t.Context()); err != nil {
		t.Fatal(err)
	}
	fc.locals[0].wait(t, "node down", func(e event) bool { return e.op == "nodedown" })
	fc.join(t, 1)
	b = fc.nodes[1]
	if b.epoch == old {
		t.Fatal("the same epoch after a rejoin")
	}
	fc.awaitMesh(t)
	if err := (*transport)(b).Send(1, route.Qualify(5, a.ID()), 1, []byte("again")); err != nil {
		t.Fatal(err)
	}
	fc.locals[0].wait(t, "a message from the new epoch", func(e event) bool { return e.data == "again" })
}

// ties is a set of processes on one node tied to a process on another:
// a linked process that traps exits, a monitor, a node monitor and a
// request waiting for an answer that will not come.
type ties struct {
	trapped <-chan runtime.Message
	down    <-chan runtime.Message
	nodemon <-chan runtime.Message
	request <-chan error
}

func tieTo(t *testing.T, here, there *Node) ties {
	t.Helper()
	ctx := testCtx(t)
	target, _ := collector(t, there) // never answers a request
	linked := make(chan error, 1)
	trapped := make(chan runtime.Message, 1)
	trapper, err := here.rt.Environment().SpawnGo(ctx, "trapper", func(ctx context.Context, s *runtime.Self) error {
		s.TrapExit(true)
		linked <- s.Link(target.ID())
		m, err := s.Receive(ctx)
		trapped <- m
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(trapper.Kill)
	if err := <-linked; err != nil {
		t.Fatal(err)
	}
	_, down, err := monitorFrom(t, here, target.ID())
	if err != nil {
		t.Fatal(err)
	}
	nm, nodemon := collector(t, here)
	here.MonitorNode(nm.ID(), there.ID())
	request := make(chan error, 1)
	go func() {
		_, err := here.rt.Request(ctx, target.ID(), runtime.Message{Tag: 1})
		request <- err
	}()
	// Everything above is in the session before this round trip ends.
	if ok, err := here.rt.Exists(ctx, target.ID()); err != nil || !ok {
		t.Fatalf("Exists(target) = %v, %v", ok, err)
	}
	return ties{trapped: trapped, down: down, nodemon: nodemon, request: request}
}

// check asserts that every tie fired for the loss of node.
func (ts ties) check(t *testing.T, node uint16) {
	t.Helper()
	ex, ok := runtime.ParseExit(recv(t, ts.trapped))
	if !ok || ex.Reason != runtime.NoConnection {
		t.Fatalf("link: %+v, want exit noconnection", ex)
	}
	d, ok := runtime.ParseDown(recv(t, ts.down))
	if !ok || d.Reason != runtime.NoConnection {
		t.Fatalf("monitor: %+v, want DOWN noconnection", d)
	}
	if got, ok := runtime.ParseNodeDown(recv(t, ts.nodemon)); !ok || got != node {
		t.Fatalf("node monitor: node %d (%v), want %d", got, ok, node)
	}
	select {
	case err := <-ts.request:
		if err == nil {
			t.Fatal("the pending request succeeded")
		}
	case <-time.After(testTimeout):
		t.Fatal("the pending request did not fail")
	}
}

// A node cut off (its connection gone, no goodbye) is found by missed
// heartbeats: links fire exit noconnection, monitors DOWN noconnection,
// node monitors a node-down message, pending requests fail; on every
// survivor.
func TestNodeLostNoConnection(t *testing.T) {
	srv, creds, _ := startServer(t, 3, false)
	nodes := []*Node{joinNode(t, srv, creds[0]), joinNode(t, srv, creds[1]), joinNode(t, srv, creds[2])}
	awaitMesh(t, nodes)
	a, b, c := nodes[0], nodes[1], nodes[2]
	ta, tb := tieTo(t, a, c), tieTo(t, b, c)
	c.nc.Close()
	ta.check(t, c.ID())
	tb.check(t, c.ID())
	// The first survivor to miss c's heartbeats removes its registration;
	// the other may see that first.
	da, db := a.Stats().Downs, b.Stats().Downs
	if da.Heartbeat+db.Heartbeat == 0 || da.Heartbeat+da.Deregistered != 1 || db.Heartbeat+db.Deregistered != 1 || da.Bye+db.Bye != 0 {
		t.Fatalf("downs %+v and %+v, want one each, by heartbeats or the removal", da, db)
	}
	// c is gone from the survivors' lists once its registration is.
	deadline0 := time.Now().Add(testTimeout)
	for len(a.Nodes()) != 2 || len(b.Nodes()) != 2 {
		if time.Now().After(deadline0) {
			t.Fatalf("the lost node is still listed: %+v", a.Nodes())
		}
		time.Sleep(5 * time.Millisecond)
	}
	// The cut-off node ends its sessions too, on its own disconnect.
	deadline := time.Now().Add(testTimeout)
	for c.Stats().Downs.Disconnect != 2 {
		if time.Now().After(deadline) {
			t.Fatalf("the cut-off node's downs: %+v", c.Stats().Downs)
		}
		time.Sleep(5 * time.Millisecond)
	}
	// The lost node's processes are unreachable now.
	ctx := testCtx(t)
	if err := a.rt.Send(ctx, runtime.ProcessID(route.Qualify(1, c.ID())), runtime.Message{Tag: 1}); !errors.Is(err, route.ErrNoNode) {
		t.Fatalf("send to a lost node: %v", err)
	}
}

// A graceful Leave is seen as a bye, not by waiting out heartbeats, and
// fires the same ties.
func TestLeaveSeenAtOnce(t *testing.T) {
	_, nodes := startCluster(t, 2)
	a, b := nodes[0], nodes[1]
	ta := tieTo(t, a, b)
	if err := b.Leave(testCtx(t)); err != nil {
		t.Fatal(err)
	}
	ta.check(t, b.ID())
	if d := a.Stats().Downs; d.Bye != 1 || d.Heartbeat != 0 {
		t.Fatalf("downs %+v, want one bye", d)
	}
	if got := len(a.Nodes()); got != 1 {
		t.Fatalf("after the leave a knows %d nodes: %+v", got, a.Nodes())
	}
}

// A node taken for lost while it was only silent for a while (here: its
// beats held back) has its registration removed by the peer; it puts the
// registration back, both sides fire for the broken session, and a new
// session carries messages again.
func TestFakeSilentNodeComesBack(t *testing.T) {
	fc := startFake(t, 2)
	a, b := fc.nodes[0], fc.nodes[1]
	to := route.Qualify(5, b.ID())
	if err := (*transport)(a).Send(1, to, 1, []byte("before")); err != nil {
		t.Fatal(err)
	}
	fc.locals[1].wait(t, "the first message", func(e event) bool { return e.data == "before" })
	b.hbMu.Lock() // b's beats stop
	fc.locals[0].wait(t, "node down at a", func(e event) bool { return e.op == "nodedown" && e.node == b.ID() })
	fc.locals[1].wait(t, "node down at b (reset)", func(e event) bool { return e.op == "nodedown" && e.node == a.ID() })
	b.hbMu.Unlock()
	fc.awaitMesh(t)
	if err := (*transport)(a).Send(1, to, 1, []byte("after")); err != nil {
		t.Fatal(err)
	}
	fc.locals[1].wait(t, "a message in the new session", func(e event) bool { return e.data == "after" })
	if d := a.Stats().Downs; d.Heartbeat != 1 {
		t.Fatalf("a's downs: %+v", d)
	}
	if len(a.Nodes()) != 2 {
		t.Fatalf("b is not listed again: %+v", a.Nodes())
	}
}

// A runtime that leaves can join again: it takes its number back (the
// lowest free), and its processes, old and new, are reachable.
func TestRuntimeRejoins(t *testing.T) {
	srv, creds, _ := startServer(t, 2, false)
	a, b := joinNode(t, srv, creds[0]), joinNode(t, srv, creds[1])
	awaitMesh(t, []*Node{a, b})
	old, got := collector(t, b)
	if err := b.Leave(testCtx(t)); err != nil {
		t.Fatal(err)
	}
	nc, err := srv.Connect(creds[1])
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	cfg := testConfig(nc)
	cfg.Seed = creds[1].Seed()
	b2, err := Join(testCtx(t), b.rt, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b2.Leave(context.Background()) })
	if b2.ID() != b.ID() {
		t.Fatalf("rejoined as node %d, was %d", b2.ID(), b.ID())
	}
	awaitMesh(t, []*Node{a, b2})
	ctx := testCtx(t)
	if err := a.rt.Send(ctx, old.ID(), runtime.Message{Tag: 1, Data: []byte("again")}); err != nil {
		t.Fatal(err)
	}
	if m := recv(t, got); string(m.Data) != "again" {
		t.Fatalf("got %q", m.Data)
	}
}
