package cluster

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/wardrt/ward/internal/route"
	"github.com/wardrt/ward/runtime"
)

// holdWriter makes n's frames to p queue, as if a writer were busy
// publishing, until release starts the writer on what queued.
func holdWriter(n *Node, p *peer) (release func()) {
	n.flushQueue(p)
	p.smu.Lock()
	p.writing = true
	p.smu.Unlock()
	return func() { go n.write(p) }
}

// takeBatches seals what queued for p (whose writer is held) and takes
// it off the queue, in order.
func takeBatches(p *peer) []batch {
	p.smu.Lock()
	defer p.smu.Unlock()
	p.sealBatchLocked()
	q := p.outQ
	p.outQ, p.queued = nil, 0
	return q
}

// Several processes of one node send 10000 messages in all to one
// process of another; the first ones queue behind a held writer, so some
// surely go in batches. Each sender's messages arrive all, in the order
// sent.
func TestBatchKeepsOrderPerSender(t *testing.T) {
	_, nodes := startCluster(t, 2)
	a, b := nodes[0], nodes[1]
	dst, got := collector(t, b)
	release := holdWriter(a, a.peers[b.ID()])
	const senders, each = 4, 2500
	start := make(chan struct{})
	ids := map[runtime.ProcessID]int{}
	var procs []*runtime.Process
	for s := range senders {
		p, err := a.rt.Environment().SpawnGo(testCtx(t), "sender", func(ctx context.Context, self *runtime.Self) error {
			<-start
			for i := range uint64(each) {
				if err := self.Send(dst.ID(), runtime.Message{Tag: 1, Data: binary.LittleEndian.AppendUint64(nil, i)}); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		ids[p.ID()] = s
		procs = append(procs, p)
	}
	close(start)
	// Let a good part queue, then publish it and the rest as it comes.
	pb := a.peers[b.ID()]
	deadline := time.Now().Add(testTimeout)
	for {
		pb.smu.Lock()
		queued := pb.outN
		pb.smu.Unlock()
		if queued >= senders*each/4 || time.Now().After(deadline) {
			break
		}
		time.Sleep(time.Millisecond)
	}
	release()
	for _, p := range procs {
		if r := waitEnd(t, p); !r.Normal() {
			t.Fatalf("sender: %v", r)
		}
	}
	next := make([]uint64, senders)
	for range senders * each {
		m := recv(t, got)
		s, ok := ids[runtime.ProcessID(m.Sender)]
		if !ok {
			t.Fatalf("a message from %d", m.Sender)
		}
		if v := binary.LittleEndian.Uint64(m.Data); v != next[s] {
			t.Fatalf("sender %d: message %d came when %d was due", s, v, next[s])
		}
		next[s]++
	}
	if a.Stats().BatchesOut == 0 {
		t.Fatal("no batch was sent")
	}
	if d := b.Stats().Dropped; d != (Drops{}) {
		t.Fatalf("dropped %+v", d)
	}
}

// A batch is applied frame by frame, in order; replayed, each of its
// frames is dropped as a replay; with one frame altered, the whole batch
// fails its MAC and is dropped, counted once. The session goes on.
func TestBatchReplayAndForgery(t *testing.T) {
	fc := startFake(t, 2)
	a, b := fc.nodes[0], fc.nodes[1]
	lb := fc.locals[1]
	to := lb.spawn(7)
	tr := (*transport)(a)
	r := newRogue(t, fc)
	pb := a.peers[b.ID()]

	release := holdWriter(a, pb)
	for i := range 3 {
		if err := tr.Send(1, to, 1, []byte(fmt.Sprint("batched ", i))); err != nil {
			t.Fatal(err)
		}
	}
	q := takeBatches(pb)
	release()
	if len(q) != 1 || q[0].n != 3 || q[0].b[0] != batchMarker {
		t.Fatalf("queued %d batches, the first of %d frames", len(q), q[0].n)
	}
	real := q[0].b
	r.nc.Publish(fmtSig(b.ID()), real)
	r.nc.Flush()
	for i := range 3 {
		lb.wait(t, "a batched message", func(e event) bool { return e.data == fmt.Sprint("batched ", i) })
	}
	if got := lb.count("deliver"); got != 3 {
		t.Fatalf("%d deliveries", got)
	}
	before := lb.all()
	for i, e := range before {
		if e.op == "deliver" && e.data != fmt.Sprint("batched ", i-(len(before)-3)) {
			t.Fatalf("out of order: %+v", before)
		}
	}

	// The same batch again.
	r.nc.Publish(fmtSig(b.ID()), real)
	// The batch with one byte of its last frame's body changed.
	forged := bytes.Clone(real)
	forged[len(forged)-2] ^= 1
	r.nc.Publish(fmtSig(b.ID()), forged)
	r.nc.Flush()
	want := Drops{Replay: 3, BadSignature: 1}
	deadline := time.Now().Add(testTimeout)
	for b.Stats().Dropped != want {
		if time.Now().After(deadline) {
			t.Fatalf("dropped %+v, want %+v", b.Stats().Dropped, want)
		}
		time.Sleep(5 * time.Millisecond)
	}
	if err := tr.Send(1, to, 1, []byte("after")); err != nil {
		t.Fatal(err)
	}
	lb.wait(t, "the message after", func(e event) bool { return e.data == "after" })
	if got := len(lb.all()); got != len(before)+1 {
		t.Fatalf("the replay or the forgery was applied: %+v", lb.all()[len(before):])
	}
	if a.Stats().Downs != (Downs{}) || b.Stats().Downs != (Downs{}) {
		t.Fatalf("a session ended: %+v %+v", a.Stats().Downs, b.Stats().Downs)
	}
}

// A batch is bounded by the payload limit, and a frame over the limit is
// refused at once, using no number, even while frames queue.
func TestBatchPayloadLimit(t *testing.T) {
	fc := startFake(t, 2)
	a, b := fc.nodes[0], fc.nodes[1]
	lb := fc.locals[1]
	to := lb.spawn(7)
	tr := (*transport)(a)
	pb := a.peers[b.ID()]

	release := holdWriter(a, pb)
	third := make([]byte, a.maxPay/3)
	for i := range 5 {
		third[0] = byte(i)
		if err := tr.Send(1, to, 1, third); err != nil {
			t.Fatal(err)
		}
	}
	if err := tr.Send(1, to, 1, make([]byte, a.maxPay)); !errors.Is(err, route.ErrTooLarge) {
		t.Fatalf("a frame over the limit: %v", err)
	}
	q := takeBatches(pb)
	release()
	frames := 0
	for _, bt := range q {
		if int64(len(bt.b)) > a.maxPay {
			t.Fatalf("a %d-byte batch, the limit is %d", len(bt.b), a.maxPay)
		}
		frames += bt.n
	}
	if len(q) < 3 || frames != 5 {
		t.Fatalf("%d batches of %d frames", len(q), frames)
	}
	fc2 := newRogue(t, fc)
	for _, bt := range q {
		fc2.nc.Publish(fmtSig(b.ID()), bt.b)
	}
	fc2.nc.Flush()
	if err := tr.Send(1, to, 1, []byte("last")); err != nil {
		t.Fatal(err)
	}
	lb.wait(t, "the message after", func(e event) bool { return e.data == "last" })
	if got := lb.count("deliver"); got != 6 {
		t.Fatalf("%d deliveries, want 6", got)
	}
	if d := b.Stats().Dropped; d != (Drops{}) {
		t.Fatalf("dropped %+v (the refused frame used a number?)", d)
	}
}

// A batch's parts never panic the receiver, whatever arrives.
func FuzzOpenBatch(f *testing.F) {
	m := hmac.New(sha256.New, []byte("k"))
	p := newPeer(2, "s")
	p.outMAC = m
	p.writing = true
	n := &Node{id: 1, maxPay: 1 << 20}
	p.smu.Lock()
	for i := range 3 {
		n.enqueueLocked(p, &frame{Kind: kindMsg, Body: []byte{byte(i)}, Env: []uint64{1}}, true)
	}
	p.smu.Unlock()
	good := takeBatches(p)[0].b
	for _, s := range [][]byte{{batchMarker}, good, good[:40], good[:len(good)-1], append(bytes.Clone(good), 0, 0, 0, 9)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) == 0 || data[0] != batchMarker {
			return
		}
		first, env, err := openBatch(data[1:])
		if err != nil {
			return
		}
		_ = first.Kind
		env.checkMAC(m)
		var fr frame
		for b := env.Body; len(b) > 0; {
			item, rest, ok := nextItem(b)
			if !ok {
				return
			}
			decodeFrameInto(&fr, item)
			b = rest
		}
	})
}

// BenchmarkRemoteSend streams 8-byte messages from one node to a process
// of another (fake runtimes: the transport alone), until all arrived.
func BenchmarkRemoteSend(b *testing.B) {
	fc := startFake(b, 2)
	a, lb := fc.nodes[0], fc.locals[1]
	to := lb.spawn(7)
	lb.countOnly.Store(true)
	tr := (*transport)(a)
	data := make([]byte, 8)
	b.ResetTimer()
	for range b.N {
		if err := tr.Send(1, to, 1, data); err != nil {
			b.Fatal(err)
		}
	}
	deadline := time.Now().Add(time.Minute)
	for lb.delivered.Load() < int64(b.N) {
		if time.Now().After(deadline) {
			b.Fatalf("%d of %d delivered", lb.delivered.Load(), b.N)
		}
		time.Sleep(100 * time.Microsecond)
	}
}
