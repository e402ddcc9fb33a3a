package runtime

import (
	"context"
	"encoding/binary"
	"math"
	"time"

	"github.com/wardrt/ward/internal/abi"
	"github.com/wardrt/ward/internal/wasm"
)

// Guest host functions for messages and signals. Message bytes move
// through C (create_data, write_data, read_data); only what needs Go comes
// here: finding the receiver, waiting, links and monitors.

// sendOutgoing sends the guest's outgoing message to pid and returns the
// status the guest sees. hops is 0 for a plain send, and more when the
// sender waits for a reply next: it may then run the receiver (handOff).
func (p *Process) sendOutgoing(wp *wasm.Proc, pid int64, hops int) int64 {
	q := p.env.rt.lookup(ProcessID(pid))
	if q != nil && hops > 0 && q.park.CompareAndSwap(parkWaiting, parkBorrowed) {
		if err := handOffOutgoing(p, wp, q, hops-1); err != nil {
			return statusOf(err)
		}
		return abi.OK
	}
	data, tag := wp.Outgoing()
	if q == nil {
		return remoteStatus(p.env.rt.sendTo(p.id, ProcessID(pid), Message{Tag: tag, Data: data}))
	}
	if err := q.deliver(Message{Sender: uint64(p.id), Tag: tag, Data: data}); err != nil {
		return statusOf(err)
	}
	return abi.OK
}

func hostSend(p *Process, wp *wasm.Proc) bool {
	wp.Return(p.sendOutgoing(wp, wp.HostArg(0), 0))
	return true
}

func hostReceive(p *Process, wp *wasm.Proc) bool {
	return p.receiveFor(wp, wp.HostArg(0), wp.HostArg(1), wp.HostArg(2))
}

func hostSendReceive(p *Process, wp *wasm.Proc) bool {
	if p.sendThenLookAhead(wp, maxHandOffHops) {
		return true
	}
	return p.receiveFor(wp, wp.HostArg(1), wp.HostArg(2), wp.HostArg(3))
}

// sendThenLookAhead serves a send_receive up to its wait: the send (hops
// as for sendOutgoing), then a reply that completed the call already, or
// is in the guest's inbox, where C looks only for a plain receive. It
// reports whether that completed the call.
func (p *Process) sendThenLookAhead(wp *wasm.Proc, hops int) bool {
	p.receiveInC(wp) // before the send: the reply may then come in C
	to := wp.HostArg(0)
	if st := p.sendOutgoing(wp, to, hops); st != abi.OK {
		wp.Return(st)
		return true
	}
	if wp.Completed() {
		return true // by the receiver's reply, in C (handOffOutgoing)
	}
	switch taken, outOfMemory := wp.TakeAhead(wp.HostArg(1), wp.HostArg(2)); {
	case outOfMemory:
		wp.Trap("ward_message.send_receive: out of memory for the message")
		return true
	case taken:
		wp.Return(abi.OK)
		return true
	}
	p.requestTo = ProcessID(to) // its receive is still to come
	return false
}

// A send_receive watches its target while it waits, as Self.Request and
// Erlang's gen_server:call do: if the target ends first, the call returns
// ErrNotFound at once instead of waiting out its timeout. The watch is a
// monitor whose DOWN comes under a tag of its own, from the range of
// negative tags no guest can send, added to the receive's filter.
//
// It starts only when the requester is about to wait (watchPending): a
// request whose reply is already there, the usual case after a hand-off,
// never pays for it. Until then the target is in Process.requestTo; once
// watched, the ref is in Process.request. At most one request is pending
// per process, and whichever goroutine completes its receive ends it
// (endRequest).

// requestTag is the tag of the DOWN of the request watch ref.
func requestTag(ref MonitorRef) int64 { return math.MinInt64 + int64(ref&math.MaxInt64) }

// watchPending starts the watch of a pending send_receive's target, if
// there is one not watched yet, and returns the receive filter tags with
// its DOWN added (an empty filter matches it already). A target that has
// ended gets its DOWN queued at once, which wakes the wait.
func (p *Process) watchPending(tags []int64) []int64 {
	if p.requestTo == 0 {
		// Nothing pending, or watched already, with its tag in the
		// filter: a borrower parking the process again must not add it
		// once more.
		return tags
	}
	r := p.env.rt
	ref := MonitorRef(nextMonitorRef.Add(1))
	_ = r.watchAny(p, p.requestTo, ref, requestTag(ref)) // a request's watch is never refused
	p.request, p.requestTo = ref, 0
	if len(tags) == 0 {
		return tags
	}
	return append(tags, requestTag(ref))
}

// endRequest ends the pending request, if any, once its receive is over:
// it took m, or nothing (the zero Message: a reply from the inbox, a
// timeout, an error). It reports whether m is the target's DOWN, which the
// guest sees as ErrNotFound. For any other receive it does nothing.
func (p *Process) endRequest(m Message) (targetEnded bool) {
	p.requestTo = 0 // never watched: nothing more to end
	ref := p.request
	if ref == 0 {
		return false
	}
	p.request = 0
	if _, ended := endedBeforeReply(m); ended {
		return true // the watch fired, and nothing of it is left
	}
	if !p.env.rt.demonitor(p, ref) {
		// It fired meanwhile; propagateExit queued the DOWN before
		// demonitor could see that, so it is in the mailbox now.
		p.mb.TryReceive(requestTag(ref))
	}
	return false
}

// tagsFault says what is wrong with a receive's tag filter.
type tagsFault int

const (
	tagsOK      tagsFault = iota
	tagsTooMany           // the guest gets ErrInvalid
	tagsOutside           // the guest traps
)

// readTags reads a receive's filter, count tags at ptr in mem, appending
// to dst.
func readTags(mem []byte, ptr, count int64, dst []int64) ([]int64, tagsFault) {
	n := uint32(count)
	if n > abi.MaxReceiveTags {
		return nil, tagsTooMany
	}
	raw, inMem := guestBytes(mem, ptr, int64(n)*8)
	if !inMem {
		return nil, tagsOutside
	}
	for i := range int(n) {
		dst = append(dst, int64(binary.LittleEndian.Uint64(raw[i*8:])))
	}
	return dst, tagsOK
}

// receiveFor serves a receive: tags at tagsPtr, a timeout in ms (< 0:
// forever). It returns false if the process was killed while waiting.
func (p *Process) receiveFor(wp *wasm.Proc, tagsPtr, tagsCount, timeoutMs int64) bool {
	// The filter lives in the process, not on this stack: a borrower
	// (handoff.go) reads and replaces it while this goroutine sleeps.
	tags, fault := readTags(wp.Memory(), tagsPtr, tagsCount, p.waitBuf[:0])
	switch fault {
	case tagsTooMany:
		p.endRequest(Message{})
		wp.Return(abi.ErrInvalid)
		return true
	case tagsOutside:
		wp.Trap(calledName(wp) + ": tags outside the caller's memory")
		return true
	}
	p.receiveInC(wp)
	if p.receiveNow(wp, tags) {
		return true
	}
	if timeoutMs == 0 {
		p.timedOut(wp)
		return true
	}
	tags = p.watchPending(tags)
	if timeoutMs < 0 {
		p.waitTags = tags // where a borrower reads it (handoff.go)
		return p.waitMessage(wp)
	}
	// From here only Go can deliver, and wake this goroutine: a message
	// sent in C before is in the intake, or in the mailbox (lookAgain).
	if p.lookAgain(wp, tags) {
		wp.Resume()
		return true
	}
	wp.ReleaseInbox()
	t := time.NewTimer(time.Duration(min(timeoutMs, math.MaxInt64/int64(time.Millisecond))) * time.Millisecond)
	// Parked without a run slot, and without a closure: see hostSleep.
	r := p.env.rt
	r.releaseRun()
	ok, alive, expired := false, true, false
	for alive && !ok && !expired {
		select {
		case _, open := <-p.mb.Notify():
			alive = open && !p.killed.Load()
		case <-t.C:
			expired = true // one last look below
		}
		if alive {
			wp.Wait() // a send in C from now on owes a wake again
			ok = p.receiveNow(wp, tags)
		}
	}
	t.Stop()
	r.acquireRun()
	wp.FreshSlice()
	wp.Resume()
	if !alive {
		return false
	}
	if !ok {
		p.timedOut(wp)
	}
	return true
}

// receiveInC lets other processes' sends to p complete in C from now on
// (internal/wasm/inbox.go), once p receives at all: its instance's intake
// goes behind its mailbox, and joins the registry C senders look it up in.
func (p *Process) receiveInC(wp *wasm.Proc) {
	if wp.ReceivesInC() {
		return
	}
	p.mb.SetIntake(wp)
	wp.ReceiveInC(p.env.cfg.MaxMailboxMessages, p.env.cfg.MaxMailboxBytes)
}

// timedOut completes a receive that found nothing in time.
func (p *Process) timedOut(wp *wasm.Proc) {
	p.endRequest(Message{})
	wp.Return(abi.ErrTimeout)
}

// waitMessage is a receive without a timeout, with the filter in
// p.waitTags. It waits on the Notify channel alone (a kill wakes it too),
// the cheapest wait Go has. While it sleeps, a sender may run the process
// and complete the receive itself (handoff.go).
func (p *Process) waitMessage(wp *wasm.Proc) bool {
	if p.lookAgain(wp, p.waitTags) {
		wp.Resume() // a send in C came in meanwhile
		return true
	}
	r := p.env.rt
	r.releaseRun()
	wp.ReleaseInbox()
	p.park.Store(parkWaiting)
	for {
		_, open := <-p.mb.Notify()
		// Notify closes only after this goroutine returns, so a borrower
		// that holds the process always wakes it again when it is done.
		if !p.reclaim() {
			continue
		}
		if p.handedBack || !open || p.killed.Load() {
			r.acquireRun()
			wp.Resume()
			return open && !p.killed.Load()
		}
		// Before looking: a send in C that this look misses owes a
		// wake again (the one that woke it may have brought only
		// messages the filter leaves).
		wp.Wait()
		if p.receiveNow(wp, p.waitTags) {
			r.acquireRun()
			wp.FreshSlice()
			wp.Resume()
			return true
		}
		p.park.Store(parkWaiting)
	}
}

// lookAgain is the look a receive that found nothing takes before it
// sleeps: after Wait, from which on a send in C owes a wake. Wait sees
// only the intake, and a message sent in C since the last look, while no
// wake was owed, may have left it for the mailbox meanwhile: anyone may
// drain the intake (Stats, a link, a monitor), and a drain wakes no one.
// So the mailbox is looked at too; receiveNow only when there is
// something to take, whose frames would grow a goroutine about to park
// past its first 2 KiB of stack (docs/why.md).
func (p *Process) lookAgain(wp *wasm.Proc, tags []int64) bool {
	if !wp.Wait() && p.mb.Empty() {
		return false
	}
	return p.receiveNow(wp, tags)
}

// receiveNow completes the pending receive with the oldest message among
// tags, if there is one (a trap if it cannot be copied in), and moves the
// messages queued behind it into the guest's inbox while they fit
// (internal/wasm/inbox.go), so that the guest's next receives need not
// suspend. Messages with handles stay: those are the runtime's signals
// (ErrHandlesToWasm keeps all others out), and Go must look at them.
//
// While the mailbox is empty, the intake's messages are the oldest: they
// are taken from there in C (wasm.Proc.TakeIntake), not copied into the
// mailbox first.
func (p *Process) receiveNow(wp *wasm.Proc, tags []int64) bool {
	switch taken, outOfMemory := wp.TakeIntake(tags); {
	case outOfMemory:
		wp.Trap(calledName(wp) + ": out of memory for the message")
		return true
	case taken:
		p.endRequest(Message{}) // a request's DOWN has a handle: it is never in the intake
		wp.Return(abi.OK)
		return true
	}
	// Nothing to take: no TryReceiveThen, whose frames under this one's
	// would take a goroutine about to park past its first 2 KiB of stack,
	// for good (docs/why.md).
	if p.mb.Empty() {
		return false
	}
	m, ok := p.mb.TryReceiveThen(tags, func(m Message) bool {
		if len(m.Handles) > 0 || !wp.Ahead(m.Data, m.Tag, m.Sender) {
			return false
		}
		p.aheads++
		return true
	})
	if !ok {
		return false
	}
	if p.endRequest(m) {
		wp.Return(abi.ErrNotFound)
		return true
	}
	if !wp.SetMessage(m.Data, m.Tag, m.Sender) {
		wp.Trap(calledName(wp) + ": out of memory for the message")
	} else {
		wp.Return(abi.OK)
	}
	return true
}

func hostSendAfter(p *Process, wp *wasm.Proc) bool {
	data, tag := wp.Outgoing()
	delay := time.Duration(min(max(wp.HostArg(1), 0), math.MaxInt64/int64(time.Millisecond))) * time.Millisecond
	if tag < 0 {
		wp.Return(-abi.ErrInvalid)
		return true
	}
	id, err := p.env.rt.sendAfter(p, delay, ProcessID(wp.HostArg(0)), Message{Sender: uint64(p.id), Tag: tag, Data: data})
	if err != nil {
		wp.Return(-statusOf(err))
		return true
	}
	wp.Return(int64(id))
	return true
}

// hostCancelTimer cancels timers set in the caller's environment or below,
// as hostKill kills; any other id is ErrNotFound, as if it had fired.
func hostCancelTimer(p *Process, wp *wasm.Proc) bool {
	if p.env.rt.cancelTimer(TimerID(wp.HostArg(0)), p.env) {
		wp.Return(abi.OK)
	} else {
		wp.Return(abi.ErrNotFound)
	}
	return true
}

// hostLink links under the rule hostKill follows: a linked peer's
// abnormal end ends the other, so a link is a way to kill, and a guest may
// link only to processes of its own environment and of those below it.
func hostLink(p *Process, wp *wasm.Proc) bool {
	r, to := p.env.rt, ProcessID(wp.HostArg(0))
	q := r.lookup(to)
	if c := r.remoteOf(to); q == nil && c != nil {
		// The rule is the remote node's to check (route.Caller): a
		// refusal fires the link with its reason.
		wp.Return(remoteStatus(c.linkRemote(p, to)))
		return true
	}
	switch {
	case q == nil:
		wp.Return(abi.ErrNotFound)
	case !q.env.within(p.env):
		wp.Return(abi.ErrPermission)
	default:
		if err := p.env.rt.link(p, q); err != nil {
			wp.Return(statusOf(err))
		} else {
			wp.Return(abi.OK)
		}
	}
	return true
}

func hostUnlink(p *Process, wp *wasm.Proc) bool {
	p.env.rt.unlink(p, ProcessID(wp.HostArg(0)))
	wp.Return()
	return true
}

func hostTrapExit(p *Process, wp *wasm.Proc) bool {
	p.trapExit.Store(wp.HostArg(0) != 0)
	wp.Return()
	return true
}

// hostMonitor returns the reference, or a negated status when the monitor
// is refused, as send_after does: references are positive.
func hostMonitor(p *Process, wp *wasm.Proc) bool {
	ref, err := p.env.rt.monitor(p, ProcessID(wp.HostArg(0)))
	if err != nil {
		wp.Return(-statusOf(err))
		return true
	}
	wp.Return(int64(ref))
	return true
}

func hostDemonitor(p *Process, wp *wasm.Proc) bool {
	p.env.rt.demonitor(p, MonitorRef(wp.HostArg(0)))
	wp.Return()
	return true
}

// hostKill lets a guest kill processes of its own environment and of the
// environments below it, never above or beside: environments are the
// sandbox boundary.
func hostKill(p *Process, wp *wasm.Proc) bool {
	r, to := p.env.rt, ProcessID(wp.HostArg(0))
	q := r.lookup(to)
	if c := r.remoteOf(to); q == nil && c != nil {
		// The remote node checks the rule (route.Caller) and counts a
		// refusal; waiting for its answer would hold the guest for a
		// round trip.
		wp.Return(remoteStatus(c.t.Kill(p.caller(c.node), uint64(to))))
		return true
	}
	switch {
	case q == nil:
		wp.Return(abi.ErrNotFound)
	case !q.env.within(p.env):
		wp.Return(abi.ErrPermission)
	default:
		q.Kill()
		wp.Return(abi.OK)
	}
	return true
}

func hostExists(p *Process, wp *wasm.Proc) bool {
	r, id := p.env.rt, ProcessID(wp.HostArg(0))
	alive := r.lookup(id) != nil
	if c := r.remoteOf(id); !alive && c != nil {
		// A round trip: parked without a run slot, and cut short by a
		// kill like any wait.
		p.unslotted(func() {
			ctx, cancel := context.WithTimeout(p.hostContext(), remoteExistsTimeout)
			defer cancel()
			alive, _ = c.t.Exists(ctx, uint64(id))
		})
		if p.killed.Load() {
			return false
		}
	}
	if alive {
		wp.Return(1)
	} else {
		wp.Return(0)
	}
	return true
}

// remoteExistsTimeout bounds a guest's exists on a remote id: a node that
// does not answer in time is as good as gone.
const remoteExistsTimeout = 5 * time.Second
