//go:build linux && (amd64 || arm64) && cgo

package wasm

/*
#include <stdlib.h>
#include "shim.h"
*/
import "C"

import (
	"sync/atomic"
	"unsafe"

	"github.com/wardrt/ward/mailbox"
)

// The inbox (shim.h) holds messages moved ahead of the runtime's mailbox
// into the process, so that a receive finding one there completes in C
// instead of suspending the guest and returning to Go: about 75 ns instead
// of 270. The runtime moves the oldest queued messages in when it serves a
// receive itself; they are then older than anything left in the mailbox,
// which is what keeps a receive's answer the same.

// Behind the mailbox is the intake (shim.c, "Local sends"): other Wasm
// processes' sends append to it in C, and a receive takes from it in C
// while the mailbox is empty. The Proc is the mailbox's mailbox.Intake.

// Inbox limits: a process holds at most this many messages, and bytes of
// their data, ahead of its mailbox.
const (
	InboxMessages = C.WARD_INBOX_MAX
	InboxBytes    = C.WARD_INBOX_BYTES
)

// Ahead appends a message to the inbox if it fits, and reports whether it
// did. It only reads data.
func (p *Proc) Ahead(data []byte, tag int64, sender uint64) bool {
	if len(data) > InboxBytes {
		return false
	}
	b := p.c.inbox
	if b == nil {
		b = C.ward_inbox_new()
		if b == nil {
			return false
		}
		p.c.inbox = b
	}
	if int(b.used)+len(data) > InboxBytes {
		return false
	}
	if int(b.head+b.n) == InboxMessages {
		if b.head == 0 {
			return false
		}
		copy(b.entries[:b.n], b.entries[b.head:b.head+b.n])
		b.head = 0
	}
	e := &b.entries[b.head+b.n]
	e.tag = C.int64_t(tag)
	e.sender = C.uint64_t(sender)
	e.off = b.used
	e.len = C.uint32_t(len(data))
	if len(data) > 0 { // used may be InboxBytes, one past the array
		copy(unsafe.Slice((*byte)(unsafe.Pointer(&b.data[b.used])), len(data)), data)
		b.used += C.uint32_t(len(data))
	}
	b.n++
	return true
}

// TakeAhead serves a receive the guest asked Go for (as send_receive does)
// from the inbox: count tags at ptr in the guest's memory. It reports
// whether a message there matched and is now the current one; on false,
// including for bad arguments, the caller serves the receive itself. On
// outOfMemory a message matched but could not be made current: the caller
// must not serve the receive from its mailbox, whose messages are all
// newer, and traps the guest instead.
func (p *Proc) TakeAhead(ptr, count int64) (taken, outOfMemory bool) {
	if !p.inboxPending() {
		return false, false // no cgo call when there is nothing to look at
	}
	r := C.ward_proc_take_ahead(p.c, C.uint32_t(uint32(ptr)), C.uint32_t(uint32(count)))
	return r > 0, r < 0
}

func (p *Proc) inboxPending() bool {
	return p.c.inbox != nil && p.c.inbox.n != 0 || p.Pending()
}

// MoveInbox hands the inbox, with the messages in it, to q: the new
// instance of the same process after an upgrade, which has none yet. q
// takes p's place among the receivers of sends in C too; publish the
// mailbox's length into q's gauge first.
func (p *Proc) MoveInbox(q *Proc) { C.ward_proc_move_inbox(p.c, q.c) }

// ReleaseInbox frees an empty inbox, so that a parked process does not
// keep one.
func (p *Proc) ReleaseInbox() {
	if b := p.c.inbox; b != nil && b.n == 0 {
		p.c.inbox = nil
		C.ward_inbox_free(b)
	}
}

// HoldsInbox reports whether the process has an inbox allocated; one that
// is parked should not.
func (p *Proc) HoldsInbox() bool { return p.c.inbox != nil }

// LiveInboxes reports the inboxes allocated and not yet freed, for tests
// that prove none outlives its process.
func LiveInboxes() int64 { return int64(C.ward_live_inboxes()) }

// LiveIntake reports the messages in all intakes, for tests that prove
// none outlives its process.
func LiveIntake() int64 { return int64(C.ward_live_intake()) }

// lockInbox takes the intake's lock. Its only rivals are C senders, which
// hold it for one append, but may hold it much longer when the OS
// preempts one mid-append. It watches the lock with plain loads a while
// (a failed compare-and-swap takes the cache line from the holder), then
// waits in C, where sched_yield gives the CPU to a preempted holder: a
// Gosched loop kept the OS thread, and so the CPU the holder needed, busy
// for hundreds of microseconds at a time.
func (p *Proc) lockInbox() {
	l := (*int32)(unsafe.Pointer(&p.c.inbox_lock))
	for range 256 {
		if atomic.LoadInt32(l) == 0 && atomic.CompareAndSwapInt32(l, 0, 1) {
			return
		}
	}
	C.ward_inbox_lock_wait(p.c)
}

func (p *Proc) unlockInbox() { atomic.StoreInt32((*int32)(unsafe.Pointer(&p.c.inbox_lock)), 0) }

// Pending reports whether the intake holds messages (mailbox.Intake).
func (p *Proc) Pending() bool {
	return atomic.LoadUint32((*uint32)(unsafe.Pointer(&p.c.intake_n))) != 0
}

// Drain empties the intake into push, oldest first (mailbox.Intake). The
// messages count in the published mailbox counts from the moment they
// leave the intake, before push sees them (shim.c, ward_intake_detach).
func (p *Proc) Drain(push func(mailbox.Message)) {
	head := C.ward_intake_detach(p.c)
	for m := head; m != nil; m = m.next {
		var data []byte
		if m.len > 0 {
			data = make([]byte, int(m.len))
			copy(data, unsafe.Slice((*byte)(unsafe.Add(unsafe.Pointer(m), unsafe.Sizeof(*m))), int(m.len)))
		}
		push(mailbox.Message{Sender: uint64(m.sender), Tag: int64(m.tag), Data: data})
	}
	C.ward_intake_free(head)
}

// Publish records what the mailbox queues, which sends in C count against
// its limits (mailbox.Intake). A publish that changes nothing is a wake
// (mailbox.Mailbox.Wake), which ends a receive spinning in C (shim.c,
// "Spinning receives"), as a rise in the count does: only Go serves what
// either brings. Values that did not change are not stored again: a
// store is a full barrier, and the sender's cache line.
func (p *Proc) Publish(count, bytes int) {
	c := (*int64)(unsafe.Pointer(&p.c.mb_count))
	b := (*int64)(unsafe.Pointer(&p.c.mb_bytes))
	same := true
	if atomic.LoadInt64(c) != int64(count) {
		atomic.StoreInt64(c, int64(count))
		same = false
	}
	if atomic.LoadInt64(b) != int64(bytes) {
		atomic.StoreInt64(b, int64(bytes))
		same = false
	}
	if same {
		// The mailbox's lock is held: no other writer, so no
		// read-modify-write.
		gen := (*uint32)(unsafe.Pointer(&p.c.mb_gen))
		atomic.StoreUint32(gen, atomic.LoadUint32(gen)+1)
	}
}

// MailboxCount returns the mailbox's count as last published to the
// intake (Publish). Any goroutine may call it.
func (p *Proc) MailboxCount() int {
	return int(atomic.LoadInt64((*int64)(unsafe.Pointer(&p.c.mb_count))))
}

// ReceiveInC lets sends from other processes complete in C by appending
// to this one's intake (shim.c, "Local sends"), held to maxMessages and
// maxBytes with its mailbox. Attach the Proc to the mailbox
// (mailbox.SetIntake) first, and detach it before Free.
func (p *Proc) ReceiveInC(maxMessages, maxBytes int) {
	p.c.local_msgs = C.int64_t(maxMessages)
	p.c.local_bytes = C.int64_t(maxBytes)
	p.c.intake_max = C.uint32_t(min(maxBytes, C.WARD_INTAKE_MAX_MESSAGE))
	C.ward_proc_register(p.c)
}

// ReceivesInC reports whether ReceiveInC was called on the process, or
// on the instance it took the inbox from.
func (p *Proc) ReceivesInC() bool { return p.c.registered != 0 }

// Wait tells senders in C that the receiver is about to sleep, or to
// sleep again, and that the first of them to append to its intake from
// now on owes it a wake (shim.c, "Local sends"), until Resume. Call it
// before the receiver's last look for a message. It reports whether the
// intake holds messages.
func (p *Proc) Wait() (pending bool) {
	p.lockInbox()
	p.c.waiting = 1
	p.c.wake_pending = 0
	pending = p.c.intake_n > 0
	p.unlockInbox()
	return pending
}

// Resume tells senders in C that the receiver runs again, and needs no
// wake.
func (p *Proc) Resume() {
	p.lockInbox()
	p.c.waiting = 0
	p.c.wake_pending = 0
	p.unlockInbox()
}

// TakeWake returns the id of a process that the process's sends in C left
// waiting with a message, which the caller must wake, or 0; and forgets
// it.
func (p *Proc) TakeWake() uint64 {
	id := uint64(p.c.wake_to)
	p.c.wake_to = 0
	return id
}

// TakeIntake serves the receive Go serves, with filter tags, from the
// intake, while the mailbox is empty: after a wake, the messages that
// senders in C left are taken there, never copied into the mailbox. The
// results are TakeAhead's.
func (p *Proc) TakeIntake(tags []int64) (taken, outOfMemory bool) {
	if !p.Pending() || atomic.LoadInt64((*int64)(unsafe.Pointer(&p.c.mb_count))) != 0 {
		return false, false
	}
	var t *C.int64_t
	if len(tags) > 0 {
		t = (*C.int64_t)(unsafe.Pointer(&tags[0]))
	}
	r := C.ward_proc_take_intake(p.c, t, C.size_t(len(tags)))
	return r > 0, r < 0
}

// SendInC lets the process's own sends complete in C: set when its
// environment permits sending. Call it before Start.
func (p *Proc) SendInC(ok bool) {
	if ok {
		p.c.may_send = 1
	} else {
		p.c.may_send = 0
	}
}

// TakeSentInC returns how many of the process's sends completed in C
// since the last call.
func (p *Proc) TakeSentInC() uint64 {
	s := (*uint64)(unsafe.Pointer(&p.c.sent_in_c))
	if atomic.LoadUint64(s) == 0 {
		return 0
	}
	return atomic.SwapUint64(s, 0)
}
