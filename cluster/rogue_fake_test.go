package cluster

import (
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nkeys"
	"github.com/wardrt/ward/internal/route"
)

// rogue is a client with bus access but no node identity: it can publish
// on every node's subject and read every frame.
type rogue struct {
	nc       *nats.Conn
	kp       nkeys.KeyPair
	captured chan *nats.Msg
}

// framesIn decodes, without checking them, the frames a NATS message
// on a node's subject carries: itself, or a batch's frames.
func framesIn(data []byte) []*frame {
	if len(data) > 0 && data[0] == batchMarker {
		var out []*frame
		if len(data) < batchHead {
			return nil
		}
		for b := data[batchHead:]; len(b) > 0; {
			item, rest, ok := nextItem(b)
			if !ok {
				break
			}
			if f, ok := decodeFrame(item); ok {
				out = append(out, f)
			}
			b = rest
		}
		return out
	}
	if f, _, err := open(data); err == nil {
		return []*frame{f}
	}
	return nil
}

// has reports whether the message m carries a frame of kind k.
func has(m *nats.Msg, k kind) bool {
	for _, f := range framesIn(m.Data) {
		if f.Kind == k {
			return true
		}
	}
	return false
}

func newRogue(t *testing.T, fc *fakeCluster) *rogue {
	t.Helper()
	nc, err := fc.srv.Connect(fc.bus)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	kp, _ := nkeys.CreateUser()
	r := &rogue{nc: nc, kp: kp, captured: make(chan *nats.Msg, 4096)}
	if _, err := nc.ChanSubscribe("ward.t.sig.*", r.captured); err != nil {
		t.Fatal(err)
	}
	nc.Flush()
	return r
}

// forge publishes f, signed with the rogue's own key, to node's subject.
func (r *rogue) forge(t *testing.T, node uint16, f frame) {
	t.Helper()
	b, err := seal(r.kp, &f)
	if err != nil {
		t.Fatal(err)
	}
	r.nc.Publish(fmtSig(node), b)
}

func fmtSig(node uint16) string { return Config{Cluster: "t"}.subject("sig", node) }

// capture returns the next real NATS message on the bus with a frame of
// kind k in it.
func (r *rogue) capture(t *testing.T, k kind) *nats.Msg {
	t.Helper()
	deadline := time.After(20 * time.Second)
	for {
		select {
		case m := <-r.captured:
			if has(m, k) {
				return m
			}
		case <-deadline:
			t.Fatalf("no frame of kind %d captured", k)
		}
	}
}

// A rogue client's forgeries and replays touch nothing, and each is
// counted by its cause.
func TestFakeRogue(t *testing.T) {
	fc := startFake(t, 3)
	a, b, c := fc.nodes[0], fc.nodes[1], fc.nodes[2]
	lb := fc.locals[1]
	victim := lb.spawn(9)
	r := newRogue(t, fc)

	// Real traffic to capture: a message and a kill from a to b.
	tr := (*transport)(a)
	if err := tr.Send(1, victim, 3, []byte("real")); err != nil {
		t.Fatal(err)
	}
	// Published on its own, not batched with the kill: each is
	// replayed below.
	a.flushQueue(a.peers[b.ID()])
	if err := tr.Kill(route.Caller{Node: a.ID()}, victim); err != nil {
		t.Fatal(err)
	}
	realMsg, realKill := r.capture(t, kindMsg), r.capture(t, kindKill)
	lb.wait(t, "the real kill", func(e event) bool { return e.op == "kill" })
	before := len(lb.all())

	// Garbage.
	r.nc.Publish(fmtSig(b.ID()), []byte("not a frame"))
	// Forged as node a: right epoch, the rogue's key.
	for _, k := range []kind{kindMsg, kindKill, kindExit, kindLink, kindReq} {
		r.forge(t, b.ID(), frame{Kind: k, Node: a.ID(), Dst: b.ID(), Epoch: a.epoch, Gen: 1, Seq: 3,
			From: route.Qualify(1, a.ID()), To: victim, Body: []byte("forged"), Op: "ward.spawn"})
	}
	// From a node number nobody has.
	r.forge(t, b.ID(), frame{Kind: kindKill, Node: 999, Dst: b.ID(), Epoch: 1, Gen: 1, Seq: 1, To: victim})
	// From a's number with another epoch.
	r.forge(t, b.ID(), frame{Kind: kindKill, Node: a.ID(), Dst: b.ID(), Epoch: a.epoch + 1, Gen: 1, Seq: 1, To: victim})
	// Another wire version.
	f := frame{Kind: kindKill, Node: a.ID(), Dst: b.ID(), Epoch: a.epoch, Gen: 1, Seq: 3, To: victim}
	body, _ := sealVersion(r.kp, &f, 9)
	r.nc.Publish(fmtSig(b.ID()), body)
	// Replays of real frames, to b and to c.
	r.nc.Publish(fmtSig(b.ID()), realMsg.Data)
	r.nc.Publish(fmtSig(b.ID()), realKill.Data)
	r.nc.Publish(fmtSig(c.ID()), realKill.Data)
	// A forged heartbeat for a.
	hb, _ := seal(r.kp, &frame{Kind: kindHB, Node: a.ID(), Epoch: a.epoch, Seq: 1 << 40})
	r.nc.Publish(Config{Cluster: "t"}.subject("hb", a.ID()), hb)
	r.nc.Flush()

	// b: five forgeries and the heartbeat are badly signed; c gets the
	// heartbeat too, and the replay meant for b.
	// Each replayed frame counts, batched or not.
	replays := uint64(len(framesIn(realMsg.Data)) + len(framesIn(realKill.Data)))
	want := Drops{Malformed: 1, BadSignature: 6, UnknownNode: 1, OldEpoch: 1, Version: 1, Replay: replays}
	wantC := Drops{BadSignature: 1, Misrouted: 1}
	deadline := time.Now().Add(20 * time.Second)
	for b.Stats().Dropped != want || c.Stats().Dropped != wantC {
		if time.Now().After(deadline) {
			t.Fatalf("b dropped %+v, want %+v; c %+v; a %+v", b.Stats().Dropped, want, c.Stats().Dropped, a.Stats().Dropped)
		}
		time.Sleep(5 * time.Millisecond)
	}
	// Nothing reached a process, and no session broke.
	if got := lb.all(); len(got) != before {
		t.Fatalf("the rogue's frames were applied: %+v", got[before:])
	}
	for i, n := range fc.nodes {
		if d := n.Stats().Downs; d != (Downs{}) {
			t.Fatalf("node %d lost a session to the rogue: %+v", n.ID(), d)
		}
		if fc.locals[i].count("nodedown") != 0 {
			t.Fatalf("node %d fired node down", n.ID())
		}
	}
	// And the real session goes on.
	if err := tr.Send(1, victim, 3, []byte("still")); err != nil {
		t.Fatal(err)
	}
	lb.wait(t, "a real message after the attack", func(e event) bool { return e.data == "still" })
}
