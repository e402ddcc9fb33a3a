package mailbox

// Budget is memory shared by many mailboxes (and more: a runtime charges
// an environment's whole memory to one), which a mailbox is charged for
// what it queues on top of its own Limits. Take charges n bytes and
// reports whether they fit; Give returns n. Both must be safe for
// concurrent use.
type Budget interface {
	Take(n int64) bool
	Give(n int64)
}

// MessageOverhead is what a queued message costs beyond its Data, as
// charged to a Budget: the list node, the Message and the slice headers,
// rounded up for the allocator.
const MessageOverhead = 128

// budgetChunk is how much a mailbox takes from its Budget at a time. A
// mailbox keeps what it took while it queues anything near it, so that a
// stream of small messages charges the shared budget once, not on every
// push and receive; an idle mailbox holds at most one chunk.
const budgetChunk = 4 << 10

// held is what the queued messages cost in Budget terms.
func (q *queue) held() int64 { return int64(q.bytes) + int64(q.count)*MessageOverhead }

// reserveLocked makes the mailbox's reservation cover its queue plus size
// more bytes of Data, taking from the Budget in chunks; false when the
// Budget has no room.
func (m *Mailbox) reserveLocked(size int) bool {
	b := m.limits.Budget
	if b == nil {
		return true
	}
	need := m.q.held() + int64(size) + MessageOverhead - m.reserved
	if need <= 0 {
		return true
	}
	// A chunk if there is room for one, else just what this push needs:
	// a nearly used budget is not refused for the chunk's sake.
	if chunk := max(need, budgetChunk); b.Take(chunk) {
		need = chunk
	} else if !b.Take(need) {
		return false
	}
	m.reserved += need
	return true
}

// releaseLocked gives back what the reservation holds beyond the queue
// and one chunk, once that is more than two chunks: hysteresis, so that a
// mailbox oscillating around a boundary does not charge and refund the
// shared budget on every message.
func (m *Mailbox) releaseLocked() {
	b := m.limits.Budget
	if b == nil {
		return
	}
	if spare := m.reserved - m.q.held(); spare > 2*budgetChunk {
		back := spare - budgetChunk
		m.reserved -= back
		b.Give(back)
	}
}
