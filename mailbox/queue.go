package mailbox

// maxFree is how many spare nodes a queue keeps for reuse. Reuse makes a
// push allocation-free in the steady state of a process that keeps up with
// its mail; the cap keeps an idle mailbox small after a burst, since a host
// may hold very many of them.
const maxFree = 32

// shrinkTags is the number of distinct tags above which the tag index is
// thrown away, rather than kept for reuse, once it empties. Go maps never
// shrink, and a burst of many distinct tags (one per request, say) would
// otherwise pin the memory for the life of the process.
const shrinkTags = 64

// node is one queued message. It is on two lists at once: the queue's
// arrival-order list, which a plain receive takes from, and the list of its
// tag, which lets a selective receive find the oldest message of a tag
// without walking past messages of other tags.
type node struct {
	msg        Message
	seq        uint64 // arrival number; orders the heads of different tags
	prev, next *node  // arrival-order list; next also links the free list
	tagNext    *node  // the tag's list
}

// fifo is the list of one tag's nodes, oldest first. It is singly linked
// because a node only ever leaves it from the front: a plain receive takes
// the oldest message of all, which is then also the oldest of its tag, and a
// selective receive takes the head of one of the tag lists.
type fifo struct{ head, tail *node }

func (f *fifo) append(n *node) {
	if f.tail == nil {
		f.head = n
	} else {
		f.tail.tagNext = n
	}
	f.tail = n
}

func (f *fifo) popFront() {
	f.head = f.head.tagNext
	if f.head == nil {
		f.tail = nil
	}
}

// queue is the data structure of a mailbox, without locking or limits.
type queue struct {
	head, tail *node
	untagged   fifo // tag 0, kept out of the map because it is the common case
	// hot holds the messages of one non-zero tag, hotTag, outside the map:
	// a stream of one tag (replies to one request, a feed) then costs no
	// map insert and delete per message. A tag is in hot or in tagged,
	// never both.
	hot     fifo
	hotTag  int64
	tagged  map[int64]fifo
	tagPeak int // most entries tagged has held since it was made
	seq     uint64
	count   int
	bytes   int
	free    *node
	nfree   int
}

func (q *queue) push(msg Message) {
	n := q.free
	if n != nil {
		q.free = n.next
		q.nfree--
		n.next = nil
	} else {
		n = new(node)
	}
	n.msg = msg
	n.seq = q.seq
	q.seq++

	n.prev = q.tail
	if q.tail == nil {
		q.head = n
	} else {
		q.tail.next = n
	}
	q.tail = n

	switch tag := msg.Tag; {
	case tag == 0:
		q.untagged.append(n)
	case tag == q.hotTag:
		q.hot.append(n)
	default:
		f, inMap := q.tagged[tag] // a nil map reads as empty
		if !inMap && q.hot.head == nil {
			q.hotTag = tag
			q.hot.append(n)
			break
		}
		if q.tagged == nil {
			q.tagged = make(map[int64]fifo)
		}
		f.append(n)
		q.tagged[tag] = f
		q.tagPeak = max(q.tagPeak, len(q.tagged))
	}
	q.count++
	q.bytes += len(msg.Data)
}

// take removes and returns the oldest message whose tag is in tags, or the
// oldest of all when tags is empty.
func (q *queue) take(tags []int64) (Message, bool) {
	var n *node
	if len(tags) == 0 {
		n = q.head
	} else {
		for _, t := range tags {
			if h := q.headOf(t); h != nil && (n == nil || h.seq < n.seq) {
				n = h
			}
		}
	}
	if n == nil {
		return Message{}, false
	}
	q.unlink(n)
	msg := n.msg
	q.recycle(n)
	return msg, true
}

func (q *queue) headOf(tag int64) *node {
	switch tag {
	case 0:
		return q.untagged.head
	case q.hotTag:
		return q.hot.head
	}
	return q.tagged[tag].head // a nil map reads as empty
}

// unlink removes n, which must be the head of its tag's list, from both
// lists.
func (q *queue) unlink(n *node) {
	if n.prev == nil {
		q.head = n.next
	} else {
		n.prev.next = n.next
	}
	if n.next == nil {
		q.tail = n.prev
	} else {
		n.next.prev = n.prev
	}

	switch tag := n.msg.Tag; tag {
	case 0:
		q.untagged.popFront()
	case q.hotTag:
		q.hot.popFront()
	default:
		f := q.tagged[tag]
		f.popFront()
		if f.head != nil {
			q.tagged[tag] = f
		} else {
			delete(q.tagged, tag)
			if len(q.tagged) == 0 && q.tagPeak > shrinkTags {
				q.tagged, q.tagPeak = nil, 0
			}
		}
	}
	q.count--
	q.bytes -= len(n.msg.Data)
}

// recycle keeps n for a later push. It clears n first so that a spare node
// does not keep a received message's data and handles alive.
func (q *queue) recycle(n *node) {
	*n = node{}
	if q.nfree < maxFree {
		n.next = q.free
		q.free = n
		q.nfree++
	}
}

// detach empties q and returns its former arrival-order list, so that the
// caller can walk the dropped messages after releasing the lock. Spare nodes
// go too: a closed queue is never pushed to again.
func (q *queue) detach() (head *node, count int) {
	head, count = q.head, q.count
	*q = queue{seq: q.seq}
	return head, count
}
