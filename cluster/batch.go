package cluster

import (
	"bytes"
	"encoding/binary"

	"github.com/wardrt/ward/internal/errs"
	"github.com/wardrt/ward/internal/route"
)

// Batches. Every NATS message costs both clients and the server the same
// work whatever it holds, and so does a MAC, and a stream of small frames
// to one peer paid both per frame. So frames to a peer go into the peer's
// outbound queue, and a writer publishes what has queued as one NATS
// message with one MAC: a frame that finds the queue idle goes out alone
// at once (the writer starts for it), and frames that come while the
// writer publishes ride together in the next message. Each frame keeps
// its own sequence number, and the receiver checks the MAC once, then
// places and applies each frame exactly as if it had come alone, in
// order. A forged or altered batch fails its MAC and is dropped whole
// (counted once, as a bad signature: a bus client cannot change what a
// node published, so nothing real is lost with it); a replayed batch is
// applied nowhere, each of its frames counted as a replay.
//
// On the wire a batch is batchMarker, the 32-byte MAC, and the frames,
// each a 4-byte big-endian length and the frame's encoding; the MAC
// covers everything after it. A sealed lone frame starts with its
// authenticator's length and its encoding with a CBOR array head, never
// a zero byte as a batch's first length does: neither can pass for the
// other. A lone frame is published sealed, as before batches.

// batchMarker starts a batch. A sealed frame starts with its
// authenticator's length (32 for a MAC, 64 for a signature), never this.
const batchMarker = 0xb1

// batchPrefix is the size of a frame's length in a batch.
const batchPrefix = 4

// batchHead is the marker and the MAC.
const batchHead = 1 + macSize

// macSize is the size of a session MAC (HMAC-SHA256).
const macSize = 32

// maxQueued bounds the bytes waiting for one peer's writer: past it a
// sender waits for the writer, as it waited for NATS before.
const maxQueued = 8 << 20

// idleSpare bounds the buffer a peer keeps for its next batch while no
// writer runs; a busy writer keeps one of any size (two batches' at most,
// as it grew), so a stream reuses two buffers instead of growing new ones.
const idleSpare = 64 << 10

// noHead is the room a batch's head takes until it is sealed.
var noHead [batchHead]byte

// batch is a sealed batch waiting for its writer: its wire form.
type batch struct {
	b []byte
	n int // frames in it
}

// enqueueLocked numbers f in p's session when numbered is set and queues
// it (p.smu held). A frame over the payload limit fails at once and uses
// no number.
func (n *Node) enqueueLocked(p *peer, f *frame, numbered bool) error {
	if numbered {
		for p.queued > maxQueued && p.writing {
			p.drained.Wait()
		}
	}
	f.Node, f.Dst, f.Epoch = n.id, p.id, n.epoch
	if numbered {
		f.Gen, f.Seq = p.outGen, p.outSeq+1
	}
	if p.outMAC == nil {
		return errs.Wrap(route.ErrNoNode, "node %d has no session key yet", p.id)
	}
	f.V = frameVersion
	if p.outN == 0 {
		p.outBuf = append(p.spare[:0], noHead[:]...)
		p.spare = nil
	}
	start := len(p.outBuf)
	b := appendFrame(append(p.outBuf, 0, 0, 0, 0), f)
	size := len(b) - start - batchPrefix
	if int64(1+macSize+size) > n.maxPay {
		p.outBuf = b[:start]
		return errs.Wrap(route.ErrTooLarge, "a %d-byte frame to node %d is over the %d-byte NATS payload limit", 1+macSize+size, p.id, n.maxPay)
	}
	binary.BigEndian.PutUint32(b[start:], uint32(size))
	if p.outN > 0 && int64(len(b)) > n.maxPay {
		// The batch is full without this frame: it is sealed as it is,
		// and the frame starts the next one.
		item := b[start:]
		p.outBuf = b[:start]
		p.sealBatchLocked()
		b = append(make([]byte, batchHead, max(2*(batchHead+len(item)), 4096)), item...)
	}
	p.outBuf = b
	p.outN++
	p.queued += len(b) - start
	if numbered {
		p.outSeq++
	}
	n.stats.framesOut.Add(1)
	if !p.writing {
		p.writing = true
		go n.write(p)
	}
	return nil
}

// sealBatchLocked seals the batch being filled, if any, and queues it for
// the writer (p.smu held). It runs before the session key changes, so a
// batch's MAC is the key its frames were numbered under.
func (p *peer) sealBatchLocked() {
	if p.outN == 0 {
		return
	}
	b := p.outBuf
	if p.outN == 1 {
		// A lone frame goes out as one sealed without batches: its
		// authenticator's length and MAC just before its encoding.
		body := b[batchHead+batchPrefix:]
		b = b[batchHead+batchPrefix-1-macSize:]
		b[0] = macSize
		p.outMAC.Reset()
		p.outMAC.Write(body)
		p.outMAC.Sum(b[1:1])
	} else {
		b[0] = batchMarker
		p.outMAC.Reset()
		p.outMAC.Write(b[batchHead:])
		p.outMAC.Sum(b[1:1])
	}
	p.outQ = append(p.outQ, batch{b: b, n: p.outN})
	p.outBuf, p.outN = nil, 0
}

// write publishes p's queue until it is empty. One writer runs per peer
// at a time, so the order on the wire is the queue's.
func (n *Node) write(p *peer) {
	p.smu.Lock()
	for p.outN > 0 || len(p.outQ) > 0 {
		p.sealBatchLocked()
		q := p.outQ
		p.outQ, p.queued = nil, 0
		p.smu.Unlock()
		for _, b := range q {
			if b.n > 1 {
				n.stats.batchesOut.Add(1)
			}
			if err := n.nc.Publish(p.subject, b.b); err != nil {
				// The frames are lost as NATS loses messages: the peer
				// sees the gap, and the session ends on both sides.
				n.log.Debug("ward: publishing frames", "node", p.id, "frames", b.n, "err", err)
			}
		}
		p.smu.Lock()
		if last := q[len(q)-1].b; int64(cap(last)) <= 2*(n.maxPay+batchHead) {
			p.spare = last[:0]
		}
		p.drained.Broadcast()
	}
	if cap(p.spare) > idleSpare {
		p.spare = nil
	}
	p.writing = false
	p.drained.Broadcast()
	p.smu.Unlock()
}

// flushQueue waits until everything queued for p has been handed to
// NATS.
func (n *Node) flushQueue(p *peer) {
	p.smu.Lock()
	for p.writing {
		p.drained.Wait()
	}
	p.smu.Unlock()
}

// nextItem splits a batch's first frame off b.
func nextItem(b []byte) (item, rest []byte, ok bool) {
	if len(b) < batchPrefix {
		return nil, nil, false
	}
	size := binary.BigEndian.Uint32(b)
	b = b[batchPrefix:]
	if uint64(size) > uint64(len(b)) {
		return nil, nil, false
	}
	return b[:size:size], b[size:], true
}

// openBatch splits a batch (data without its marker) into its envelope
// and first frame, without checking its MAC.
func openBatch(data []byte) (first *frame, env *envelope, err error) {
	if len(data) < macSize {
		return nil, nil, errMalformed
	}
	env = &envelope{Sig: data[:macSize], Body: data[macSize:]}
	item, _, ok := nextItem(env.Body)
	if !ok {
		return nil, nil, errMalformed
	}
	if first, ok = decodeFrame(item); !ok {
		return nil, nil, errMalformed
	}
	return first, env, nil
}

// onBatch checks a batch's MAC against the node its first frame names,
// then places and applies its frames in order, as onFrame does a lone
// one. Every frame must be from that node, its Join and to this node;
// one that is not, or malformed, is dropped.
func (n *Node) onBatch(data []byte) {
	f, env, err := openBatch(data)
	p := n.authenticate(f, env, err)
	if p == nil {
		return
	}
	defer p.rmu.Unlock()
	// A message's frame is done with once delivered, and the next frame
	// is decoded into it; other kinds may be kept (a call's handler has
	// its frame), and get their own.
	var spare *frame
	first, hear := true, true
	for b := env.Body; len(b) > 0; {
		item, rest, ok := nextItem(b)
		if !ok {
			n.drop(dropMalformed, nil)
			return
		}
		b = rest
		if !first {
			if spare == nil {
				spare = new(frame)
			}
			if !decodeFrameInto(spare, item) {
				n.drop(dropMalformed, nil)
				continue
			}
			f, spare = spare, nil
		}
		first = false
		switch {
		case !frameKindOK(f.Kind) || f.V != frameVersion:
			n.drop(dropMalformed, f)
			continue
		case f.Node != p.id || f.Epoch != p.epoch || f.Dst != n.id:
			n.drop(dropMisrouted, f)
			continue
		case n.left.Load():
			return
		case p.gone:
			// A bye earlier in the batch.
			n.drop(dropLeft, f)
			continue
		}
		if f.Body != nil {
			// A body handed on keeps what it aliases alive: not the
			// whole batch for one message.
			f.Body = bytes.Clone(f.Body)
		}
		if n.placeAndApply(p, f, hear) {
			// Once a batch is enough: heard reads the clock.
			hear = false
		}
		if f.Kind == kindMsg {
			spare = f
		}
	}
}
