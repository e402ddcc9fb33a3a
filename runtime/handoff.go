package runtime

import (
	"slices"

	"github.com/wardrt/ward/internal/abi"
	"github.com/wardrt/ward/internal/wasm"
)

// The hand-off: a process that sends a request and is about to wait for
// the reply (send_receive, or Self.Request in a Go process) runs the
// receiver itself, on its own goroutine, when the receiver is parked in a
// receive without a timeout. The receiver takes the message, computes,
// sends its reply (send, or the send half of a send_receive) and waits
// again, all without a goroutine being woken or put to sleep; the
// requester then finds the reply in its mailbox. A round trip through the Go scheduler costs more
// than the work, and the requester has nothing else to do meanwhile. It is
// what an L4 IPC call or Go's runnext does for the same reason.
//
// Between two Wasm processes the request and the reply usually skip the
// queues too: each goes straight into the other's current message, in C
// (handOffOutgoing; shim.c, "Hand-off"), whenever no guest could tell.
//
// Ownership of a parked instance is in Process.park:
//
//	parkOwned    its goroutine runs it, or it is not waiting in a receive
//	parkWaiting  its goroutine sleeps on Notify in waitMessage; a sender
//	             may take it (CAS to parkBorrowed)
//	parkBorrowed a sender's goroutine is running it; its own goroutine,
//	             woken meanwhile, goes back to sleep
//	parkHanded   the borrower stopped at something only the owner serves
//	             and left the status in resume; the goroutine takes it back
//
// Whoever moves park away from parkBorrowed then checks for anything the
// sleeping goroutine must see (a message, a kill) and wakes it: a wake-up
// that arrived during the borrow was spent on a goroutine that went back to
// sleep.
const (
	parkOwned int32 = iota
	parkWaiting
	parkBorrowed
	parkHanded
)

// maxBorrowedMessages bounds the messages a borrower serves the receiver
// before giving it back, counting those it moves into the receiver's
// inbox, which the guest then takes in C: a stream from other senders must
// not keep the requester running someone else's process. The last receive
// may move in up to one inbox's worth more.
const maxBorrowedMessages = 16

// maxHandOffHops bounds a chain of requests run on one goroutine: a
// borrowed receiver that itself sends a request (send_receive) may borrow
// its own receiver, and so on, this many deep. The chain cannot loop: a
// process in it is borrowed or running, never parked.
const maxHandOffHops = 4

// Indexes into abi.Funcs of the calls a borrower serves itself.
var (
	_, idSend, _        = abi.Lookup(abi.NamespaceMessage, "send")
	_, idReceive, _     = abi.Lookup(abi.NamespaceMessage, "receive")
	_, idSendReceive, _ = abi.Lookup(abi.NamespaceMessage, "send_receive")
)

// handOff delivers m to q from a sender that waits for a reply next. If q
// is a Wasm process waiting in a receive without a timeout, and hops > 0,
// the caller's goroutine runs q until it waits again, so the reply is
// often queued for the sender on return.
func handOff(by, q *Process, m Message, hops int) error {
	if hops <= 0 || !q.park.CompareAndSwap(parkWaiting, parkBorrowed) {
		return q.deliver(m)
	}
	// Queued first, then received with q's own filter: q sees its mailbox
	// in the same order as if it had woken up itself.
	err := q.enqueue(m, false)
	q.runBorrowed(by, nil, hops-1, 0, false)
	return err
}

// handOffOutgoing is handOff for the guest's outgoing message, by's
// request in a send_receive, to q, which by has taken over already
// (parkWaiting to parkBorrowed); hops is what is left for q.
//
// The two processes' messages go through their queues only when a guest
// could tell otherwise (shim.c, "Hand-off"): the request goes straight
// into q's current message, completing q's receive, and q's reply straight
// into by's, completing its send_receive (wasm.Proc.Completed).
func handOffOutgoing(by *Process, wp *wasm.Proc, q *Process, hops int) error {
	// Not to a q whose receive is a send_receive's, watching its target
	// (hostmsg.go): ending that watch is receiveNow's.
	qw := q.wp
	if q.request == 0 && !q.killed.Load() && !by.killed.Load() && qw.ReceivesInC() &&
		(len(q.waitTags) == 0 || slices.Contains(q.waitTags, wp.OutgoingTag())) {
		if st, ok := wp.HandOff(qw); ok {
			q.runBorrowed(by, wp, hops, st, true)
			return nil
		}
	}
	// Queued first, as handOff does.
	data, tag := wp.Outgoing()
	err := q.enqueue(Message{Sender: uint64(by.id), Tag: tag, Data: data}, false)
	if err != nil {
		// Not sent: the call's status is by's to return, whatever q
		// sends meanwhile.
		wp = nil
	}
	q.runBorrowed(by, wp, hops, 0, false)
	return err
}

// runBorrowed runs q, held as parkBorrowed by the process by, until q
// waits again or stops at something its own goroutine must serve, or
// either is killed: by is in a host call, where a kill takes effect at
// once, so it lets go after q's current run. With handedOff, q has run
// once already (wasm.Proc.HandOff), its first receive served, and stopped
// with st.
//
// byWp, if not nil, is by's instance, waiting in a send_receive for q's
// reply, which may then complete it in C (wasm.Proc.Borrow).
func (q *Process) runBorrowed(by *Process, byWp *wasm.Proc, hops int, st wasm.Status, handedOff bool) {
	wp := q.wp
	q.borrows++
	// Served so far: the receives here, and the messages they moved ahead.
	receives, aheads := int32(0), q.aheads
	if handedOff {
		receives = 1
		q.borrowedMost = max(q.borrowedMost, 1)
		if st, waits := q.pollBorrowed(wp, hops, q.pollOn(wp, st)); !waits {
			q.handBack(st)
			return
		}
	} else {
		wp.FreshSlice() // q waited until now; a preemption at once would hand it back
		wp.Resume()
		// Its receives must not spin in C: the sender they would wait for
		// is the goroutine spinning.
		wp.SpinOff(true)
		if byWp != nil {
			wp.Borrow(byWp)
		}
	}
	for receives+q.aheads-aheads < maxBorrowedMessages && !q.killed.Load() && !by.killed.Load() {
		if !q.mayHold(wp) || !q.receiveNow(wp, q.waitTags) {
			break
		}
		receives++
		q.borrowedMost = max(q.borrowedMost, receives+q.aheads-aheads)
		if st, waits := q.pollBorrowed(wp, hops, q.poll(wp)); !waits {
			q.handBack(st)
			return
		}
	}
	// q waits in a receive with its filter in q.waitTags, which is all
	// its goroutine needs to take over, once a request it waits on is
	// watched. Parked, it keeps no empty inbox.
	q.waitTags = q.watchPending(q.waitTags)
	wp.EndBorrow()
	// A message sent in C since q's last receive is its own goroutine's
	// to look at: woken, it finds it (receiveNow drains the intake).
	pending := wp.Wait()
	wp.ReleaseInbox()
	q.park.Store(parkWaiting)
	// A message a Go sender queued meanwhile did not wake q: the sender
	// saw q borrowed.
	if pending || q.killed.Load() || q.mayHold(wp) {
		q.mb.Wake()
	}
}

// mayHold reports whether q's intake or mailbox may hold a message. A
// mailbox publishes its count to the intake under its lock, before its
// sender looks at q.park, so the look need not take the lock.
func (q *Process) mayHold(wp *wasm.Proc) bool {
	if !wp.ReceivesInC() {
		return !q.mb.Empty() // no intake to publish to
	}
	return wp.Pending() || wp.MailboxCount() > 0
}

// pollBorrowed serves, from q's stop at st on, what never blocks (plain
// sends, and the send half of a send_receive, itself a hand-off if hops
// allow) until q waits in a receive without a timeout, with its filter in
// q.waitTags (waits is true), or stops at anything else, with st to serve.
func (q *Process) pollBorrowed(wp *wasm.Proc, hops int, st wasm.Status) (_ wasm.Status, waits bool) {
	for {
		if st != wasm.Host || q.killed.Load() {
			return st, false
		}
		id := wp.HostID()
		if id != idSend && id != idReceive && id != idSendReceive || !q.env.permits(abi.Funcs[id].Permission) {
			return st, false // serve's to serve, with its checks
		}
		switch id {
		case idSend:
			wp.Return(q.sendOutgoing(wp, wp.HostArg(0), 0))
		case idReceive:
			return st, q.waitsFor(wp, 0)
		case idSendReceive:
			if !q.waitsFor(wp, 1) {
				return st, false // all of it is its goroutine's to serve
			}
			if !q.sendThenLookAhead(wp, hops) {
				return st, true
			}
		}
		st = q.poll(wp)
	}
}

// waitsFor reports whether q's pending receive, its filter and timeout at
// host arguments from first on, has no timeout and a filter that reads
// cleanly; if so, the filter is in q.waitTags.
func (q *Process) waitsFor(wp *wasm.Proc, first int) bool {
	if wp.HostArg(first+2) >= 0 {
		return false
	}
	tags, fault := readTags(wp.Memory(), wp.HostArg(first), wp.HostArg(first+1), q.waitBuf[:0])
	if fault != tagsOK {
		return false // its goroutine reports it
	}
	q.waitTags = tags
	return true
}

// handBack gives q to its goroutine with st still to serve.
func (q *Process) handBack(st wasm.Status) {
	q.wp.EndBorrow()
	q.handBacks++
	q.resume = st
	q.park.Store(parkHanded)
	q.mb.Wake()
}

// reclaim takes the instance back for p's goroutine after a wake-up in
// waitMessage. It returns false while a borrower holds it: the borrower
// wakes the goroutine again if there is anything left to see.
func (p *Process) reclaim() bool {
	if p.park.CompareAndSwap(parkWaiting, parkOwned) {
		return true
	}
	if p.park.CompareAndSwap(parkHanded, parkOwned) {
		p.handedBack = true
		return true
	}
	return false
}

// next polls wp, unless a borrower handed the process back with a status
// to serve first.
func (p *Process) next(wp *wasm.Proc) wasm.Status {
	if p.handedBack {
		p.handedBack = false
		return p.resume
	}
	return p.poll(wp)
}
