package mailbox

import (
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestQueueAgainstModel runs random pushes and receives against the queue
// and against a plain slice scanned from the front, which is obviously
// right, and requires them to agree on every result.
func TestQueueAgainstModel(t *testing.T) {
	for seed := range uint64(20) {
		rng := rand.New(rand.NewPCG(seed, 1))
		var q queue
		var model []Message
		for step := range 3000 {
			if rng.IntN(2) == 0 {
				msg := Message{Sender: uint64(step), Tag: int64(rng.IntN(5)), Data: make([]byte, rng.IntN(4))}
				q.push(msg)
				model = append(model, msg)
			} else {
				tags := make([]int64, rng.IntN(3))
				for i := range tags {
					tags[i] = int64(rng.IntN(6)) // tag 5 is never pushed
				}
				got, gotOK := q.take(tags)
				i := slices.IndexFunc(model, func(m Message) bool {
					return len(tags) == 0 || slices.Contains(tags, m.Tag)
				})
				var want Message
				if i >= 0 {
					want = model[i]
					model = slices.Delete(model, i, i+1)
				}
				if gotOK != (i >= 0) || !cmp.Equal(want, got) {
					t.Fatalf("seed %d step %d: take(%v) = %+v, %v; want %+v, %v",
						seed, step, tags, got, gotOK, want, i >= 0)
				}
			}
			if _, inMap := q.tagged[q.hotTag]; inMap && q.hotTag != 0 {
				t.Fatalf("seed %d step %d: tag %d is both hot and in the map", seed, step, q.hotTag)
			}
			wantBytes := 0
			for _, m := range model {
				wantBytes += len(m.Data)
			}
			if q.count != len(model) || q.bytes != wantBytes {
				t.Fatalf("seed %d step %d: count %d bytes %d, want %d %d",
					seed, step, q.count, q.bytes, len(model), wantBytes)
			}
		}
	}
}

// Spare nodes must not keep received messages' data and handles alive, and
// there must not be more of them than maxFree.
func TestRecycledNodesHoldNothing(t *testing.T) {
	var q queue
	for i := range 2 * maxFree {
		q.push(Message{Tag: int64(i % 3), Data: []byte("x"), Handles: []any{i}})
	}
	for {
		if _, ok := q.take(nil); !ok {
			break
		}
	}
	if q.nfree != maxFree {
		t.Fatalf("nfree = %d, want %d", q.nfree, maxFree)
	}
	n := 0
	for f := q.free; f != nil; f = f.next {
		if f.msg.Data != nil || f.msg.Handles != nil || f.prev != nil || f.tagNext != nil {
			t.Fatalf("spare node %d still references %+v", n, f)
		}
		n++
	}
	if n != maxFree {
		t.Fatalf("free list has %d nodes, nfree says %d", n, maxFree)
	}
}

// After a burst of many distinct tags the index is dropped, not kept at its
// peak size for the life of the mailbox.
func TestTagIndexShrinks(t *testing.T) {
	var q queue
	for i := range 10 * shrinkTags {
		q.push(Message{Tag: int64(i + 1)})
	}
	for i := range 10 * shrinkTags {
		if _, ok := q.take([]int64{int64(i + 1)}); !ok {
			t.Fatalf("tag %d missing", i+1)
		}
	}
	if q.tagged != nil {
		t.Fatalf("tag index kept after emptying: %d entries", len(q.tagged))
	}
	// And a few tags in steady use keep their map: the first goes to the
	// hot slot, the second to the map, which stays once empty.
	q.push(Message{Tag: 1})
	q.push(Message{Tag: 2})
	q.take(nil)
	q.take(nil)
	if q.tagged == nil {
		t.Fatal("small tag index dropped; it would be reallocated on every push")
	}
}

// A stream of one tag goes through the hot slot and never touches the map.
func TestOneTagStreamSkipsTheMap(t *testing.T) {
	var q queue
	for i := range 100 {
		q.push(Message{Tag: 7, Sender: uint64(i)})
		if i%3 == 0 {
			q.take([]int64{7})
		}
	}
	if q.tagged != nil {
		t.Fatalf("a one-tag stream made a tag map of %d entries", len(q.tagged))
	}
	for i := range 100 {
		if i%3 == 0 {
			continue
		}
		if m, ok := q.take([]int64{7}); !ok || m.Sender < uint64(i) {
			t.Fatalf("take %d: %+v, %v", i, m, ok)
		}
	}
}

// A zero Mailbox is not supported, but closing one must not panic.
func TestZeroMailboxCloseDoesNotPanic(t *testing.T) {
	var m Mailbox
	if n := m.Close(); n != 0 {
		t.Fatalf("Close = %d", n)
	}
}
