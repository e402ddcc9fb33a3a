package cluster

import (
	"context"
	"testing"
	"time"

	"github.com/wardrt/ward/internal/abi"
	"github.com/wardrt/ward/runtime"
)

// A client with bus access but no node identity forges frames (send,
// kill, exit, link, spawn) as if from a real node, and replays real
// frames it captured: no process is touched, no session breaks, and each
// frame is counted by why it was dropped.
func TestRogueClient(t *testing.T) {
	srv, creds, bus := startServer(t, 2, false)
	nodes := []*Node{joinNode(t, srv, creds[0]), joinNode(t, srv, creds[1])}
	awaitMesh(t, nodes)
	a, b := nodes[0], nodes[1]
	ctx := testCtx(t)
	r := newRogue(t, &fakeCluster{srv: srv, bus: bus})

	// victim, on b, counts what it gets and is linked to a process on a,
	// so a forged exit from that process would kill it.
	victim, got := collectorNoTrap(t, b)
	friend, err := a.rt.Environment().SpawnGo(ctx, "friend", func(ctx context.Context, s *runtime.Self) error {
		if err := s.Link(victim.ID()); err != nil {
			return err
		}
		_, err := s.Receive(ctx)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	defer friend.Kill()
	// A real message, and a real kill of a process made to be killed,
	// for the rogue to capture.
	if err := a.rt.Send(ctx, victim.ID(), runtime.Message{Tag: 1, Data: []byte("real")}); err != nil {
		t.Fatal(err)
	}
	// Published on its own, not batched with the kill: each is
	// replayed below.
	a.flushQueue(a.peers[b.ID()])
	doomed, _ := collector(t, b)
	if err := a.rt.Kill(ctx, doomed.ID()); err != nil {
		t.Fatal(err)
	}
	waitEnd(t, doomed)
	realMsg, realKill := r.capture(t, kindMsg), r.capture(t, kindKill)
	if m := recv(t, got); string(m.Data) != "real" {
		t.Fatalf("the real message: %q", m.Data)
	}
	before := b.Stats()

	forged := []frame{
		{Kind: kindMsg, From: uint64(friend.ID()), To: uint64(victim.ID()), Tag: 1, Body: []byte("forged")},
		{Kind: kindKill, To: uint64(victim.ID())},
		{Kind: kindExit, From: uint64(friend.ID()), To: uint64(victim.ID()), Reason: abi.ReasonTrap, Text: "forged"},
		{Kind: kindLink, From: uint64(friend.ID()), To: uint64(victim.ID())},
		{Kind: kindReq, Op: "ward.spawn", Ref: 1, Body: []byte{0xa0}},
	}
	// Signed by the rogue's key, as node a in its current epoch and the
	// next numbers of its session, so only the signature gives it away.
	pb := a.peers[b.ID()]
	pb.smu.Lock()
	gen, seq := pb.outGen, pb.outSeq
	pb.smu.Unlock()
	for i, f := range forged {
		f.Node, f.Dst, f.Epoch, f.Gen, f.Seq = a.ID(), b.ID(), a.epoch, gen, seq+1+uint64(i)
		r.forge(t, b.ID(), f)
	}
	// As a node that is not registered.
	r.forge(t, b.ID(), frame{Kind: kindKill, Node: 77, Dst: b.ID(), Epoch: 5, Gen: 1, Seq: 1, To: uint64(victim.ID())})
	// Replays: the real message again (a duplicate), the real kill again,
	// and the real message re-addressed to another node's subject.
	r.nc.Publish(fmtSig(b.ID()), realMsg.Data)
	r.nc.Publish(fmtSig(b.ID()), realKill.Data)
	r.nc.Publish(fmtSig(a.ID()), realMsg.Data)
	r.nc.Flush()

	want := before.Dropped
	want.BadSignature += uint64(len(forged))
	want.UnknownNode++
	// Each replayed frame counts, batched or not.
	want.Replay += uint64(len(framesIn(realMsg.Data)) + len(framesIn(realKill.Data)))
	deadline := time.Now().Add(testTimeout)
	for b.Stats().Dropped != want || a.Stats().Dropped.Misrouted != 1 {
		if time.Now().After(deadline) {
			t.Fatalf("b dropped %+v, want %+v; a dropped %+v", b.Stats().Dropped, want, a.Stats().Dropped)
		}
		time.Sleep(5 * time.Millisecond)
	}
	// Nothing touched the victim: alive, no message, still linked (a real
	// exit of friend reaches it), and the real session carries on.
	if ok, err := a.rt.Exists(ctx, victim.ID()); err != nil || !ok {
		t.Fatalf("victim alive: %v, %v", ok, err)
	}
	select {
	case m := <-got:
		t.Fatalf("the victim got %+v", m)
	default:
	}
	if err := a.rt.Send(ctx, victim.ID(), runtime.Message{Tag: 1, Data: []byte("after")}); err != nil {
		t.Fatal(err)
	}
	if m := recv(t, got); string(m.Data) != "after" {
		t.Fatalf("after the attack: %q", m.Data)
	}
	for _, n := range nodes {
		if d := n.Stats().Downs; d != (Downs{}) {
			t.Fatalf("node %d lost a session to the rogue: %+v", n.ID(), d)
		}
	}
	if b.Stats().KillsRefused != 0 || b.Stats().LinksRefused != 0 {
		t.Fatalf("forged frames reached the permission checks: %+v", b.Stats())
	}
	// The real link still holds: friend's end ends the victim.
	friend.Kill()
	if r := waitEnd(t, victim); r.Normal() {
		t.Fatalf("victim ended %v after its linked friend was killed", r)
	}
}

// collectorNoTrap is collector without trapping exits: a linked end
// kills it.
func collectorNoTrap(t *testing.T, n *Node) (*runtime.Process, chan runtime.Message) {
	t.Helper()
	ch := make(chan runtime.Message, 1024)
	p, err := n.rt.Environment().SpawnGo(testCtx(t), "collector", func(ctx context.Context, s *runtime.Self) error {
		for {
			m, err := s.Receive(ctx)
			if err != nil {
				return err
			}
			ch <- m
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Kill)
	return p, ch
}
