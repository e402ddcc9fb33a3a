package cluster

import (
	"errors"
	"testing"
	"time"

	"github.com/wardrt/ward/internal/route"
)

// A frame missing from a session (here: a number skipped) ends it on both
// sides: the receiver sees the gap, its reset makes the sender fire too,
// and the next send opens a new session that delivers.
func TestFakeGapEndsSessionBothSides(t *testing.T) {
	fc := startFake(t, 2)
	a, b := fc.nodes[0], fc.nodes[1]
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
	for i := 0; i < 50; i++ {
		if err := tr.Send(1, route.Qualify(5, b.ID()), 1, []byte("x")); err != nil && !errors.Is(err, route.ErrNoNode) {
			t.Fatal(err)
		}
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
	for b.Stats().Downs.SlowConsumer == 0 {
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
