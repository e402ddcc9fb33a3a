//go:build linux && (amd64 || arm64) && cgo

package wasm

/*
#include <stdlib.h>
#include "shim.h"
*/
import "C"

import "unsafe"

// The inbox (shim.h) holds messages moved ahead of the runtime's mailbox
// into the process, so that a receive finding one there completes in C
// instead of suspending the guest and returning to Go: about 75 ns instead
// of 270. The runtime moves the oldest queued messages in when it serves a
// receive itself; they are then older than anything left in the mailbox,
// which is what keeps a receive's answer the same.

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
		b = (*C.ward_inbox_t)(C.calloc(1, C.size_t(unsafe.Sizeof(C.ward_inbox_t{}))))
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
	if p.c.inbox == nil || p.c.inbox.n == 0 {
		return false, false // no cgo call when there is nothing to look at
	}
	r := C.ward_proc_take_ahead(p.c, C.uint32_t(uint32(ptr)), C.uint32_t(uint32(count)))
	return r > 0, r < 0
}

// MoveInbox hands the inbox, with the messages in it, to q: the new
// instance of the same process after an upgrade, which has none yet.
func (p *Proc) MoveInbox(q *Proc) { q.c.inbox, p.c.inbox = p.c.inbox, nil }

// ReleaseInbox frees an empty inbox, so that a parked process does not
// keep one.
func (p *Proc) ReleaseInbox() {
	if b := p.c.inbox; b != nil && b.n == 0 {
		p.c.inbox = nil
		C.free(unsafe.Pointer(b))
	}
}

// HoldsInbox reports whether the process has an inbox allocated; one that
// is parked should not.
func (p *Proc) HoldsInbox() bool { return p.c.inbox != nil }
