//go:build linux && (amd64 || arm64) && cgo

package wasm

// #include "shim.h"
import "C"

import "unsafe"

// The hand-off's C side (shim.c, "Hand-off"): a requester's goroutine
// running the receiver it sent a request to (runtime/handoff.go) moves the
// request, and the receiver's reply, between the two processes' message
// buffers in C, without the queues, when no guest can tell the difference.

// HandOff gives p's outgoing message to q, which p's goroutine has taken
// over while q waits in a receive without a timeout whose filter takes the
// message, completes that receive and polls q, with p as its borrower
// (Borrow). ok is false, and nothing done, when the message must go
// through q's mailbox: q holds older messages, the limits or the budget
// would refuse it, or q's message buffer must grow first.
func (p *Proc) HandOff(q *Proc) (st Status, ok bool) {
	r := C.ward_handoff_run_handle(C.uintptr_t(uintptr(unsafe.Pointer(p.c))), C.uintptr_t(uintptr(unsafe.Pointer(q.c))))
	return Status(r), r >= 0
}

// OutgoingTag returns the tag of the guest's outgoing message.
func (p *Proc) OutgoingTag() int64 { return int64(p.c.out_tag) }

// Borrow makes by q's borrower, waiting in a send_receive for its reply:
// q's send of a reply the borrower's filter takes then completes that
// send_receive in C. HandOff does it too. Call it from the borrower's
// goroutine, and EndBorrow before q goes back to its own.
func (q *Proc) Borrow(by *Proc) {
	q.c.borrower = by.c
	by.c.awaits_reply = 1
}

// EndBorrow undoes Borrow (or HandOff's), and makes q's receives spin
// again (SpinOff).
func (q *Proc) EndBorrow() {
	if b := q.c.borrower; b != nil {
		b.awaits_reply = 0
		q.c.borrower = nil
	}
	q.c.spin_off = 0
}

// Completed reports whether the pending host call was completed already:
// a borrowed process's reply completed a send_receive in C (Borrow).
func (p *Proc) Completed() bool { return p.c.ready != 0 }
