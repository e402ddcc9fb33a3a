package guest

import (
	"sync"
	"time"
	"unsafe"

	"github.com/wardrt/ward/internal/abi"
)

// Forever, as a timeout, waits without limit.
const Forever time.Duration = -1

// msgMu guards the process's outgoing message and its current message:
// the host keeps one of each per process, not per goroutine, and building
// or reading one takes several host calls, between which an allocation
// could let another goroutine run.
var msgMu sync.Mutex

// UniqueTag returns a tag no other call in this runtime returns, for
// matching a reply to its request.
func UniqueTag() int64 { return wardUniqueTag() }

// outgoing makes data the outgoing message, under tag. It returns a status;
// msgMu must be held.
func outgoing(tag int64, data []byte) int32 {
	if tag < 0 {
		return abi.ErrInvalid
	}
	if len(data) > MaxMessageSize {
		return abi.ErrLimit
	}
	wardCreateData(tag)
	if len(data) > 0 {
		return wardWriteData(addrBytes(data), uint32(len(data)))
	}
	return abi.OK
}

// Send sends data under tag (>= 0) to the process to. It does not wait for
// the receiver: ErrNotFound when to is not alive (the message is dropped),
// ErrLimit when its mailbox is full or data is larger than MaxMessageSize,
// ErrInvalid for a negative tag.
func Send(to ProcessID, tag int64, data []byte) error {
	msgMu.Lock()
	st := outgoing(tag, data)
	if st == abi.OK {
		st = send(uint64(to))
	}
	msgMu.Unlock()
	if st != abi.OK {
		return fail("send to "+to.String(), st)
	}
	return nil
}

// send sends the outgoing message to pid: in a plain host call when it
// can, which completes most local sends for a fraction of what the full
// call costs (see try_send in docs/abi.md); msgMu must be held.
func send(pid uint64) int32 {
	st := wardTrySend(pid)
	if st == abi.ErrAgain {
		st = wardSend(pid)
	}
	return st
}

// Receive waits for the oldest message whose tag is one of tags (any
// message when none are given) and takes it from the mailbox. Messages
// with other tags stay, in order, for later receives.
func Receive(tags ...int64) (Message, error) {
	return ReceiveTimeout(Forever, tags...)
}

// ReceiveTimeout is Receive that gives up after timeout (rounded up to
// whole milliseconds) with ErrTimeout. A timeout of 0 only checks the
// mailbox; Forever waits without limit. More than MaxReceiveTags tags is
// ErrInvalid.
func ReceiveTimeout(timeout time.Duration, tags ...int64) (Message, error) {
	if len(tags) > MaxReceiveTags {
		return Message{}, fail("receive", abi.ErrInvalid)
	}
	msgMu.Lock()
	defer msgMu.Unlock()
	ptr, n := addr(unsafe.Pointer(unsafe.SliceData(tags))), uint32(len(tags))
	// The plain call first: it completes most receives, for a fraction of
	// what the full one costs (see try_receive in docs/abi.md).
	st := wardTryReceive(ptr, n)
	if st == abi.ErrAgain {
		st = wardReceive(ptr, n, millis(timeout))
	}
	if st != abi.OK {
		return Message{}, fail("receive", st)
	}
	return current(), nil
}

// current reads the message the last receive made current; msgMu must be
// held.
func current() Message {
	m := Message{Tag: wardGetTag(), Sender: ProcessID(wardSender())}
	if n := wardDataSize(); n > 0 {
		m.Data = make([]byte, n)
		for off := 0; off < len(m.Data); {
			k := wardReadData(addrBytes(m.Data[off:]), uint32(len(m.Data)-off))
			if k <= 0 {
				m.Data = m.Data[:off]
				break
			}
			off += int(k)
		}
	}
	return m
}

// Request sends data to the process to under a fresh tag (UniqueTag) and
// waits up to timeout for the first message back with that tag: the reply
// (see Reply). Errors are Send's, ErrNotFound also when to ends before it
// replies (Request watches it, and fails at once), or ErrTimeout. A reply
// that comes after the timeout stays in the mailbox, where no receive that
// filters on other tags will see it.
func Request(to ProcessID, data []byte, timeout time.Duration) (Message, error) {
	tag := wardUniqueTag()
	msgMu.Lock()
	defer msgMu.Unlock()
	st := outgoing(tag, data)
	if st == abi.OK {
		st = wardSendReceive(uint64(to), addr(unsafe.Pointer(&tag)), 1, millis(timeout))
	}
	if st != abi.OK {
		return Message{}, fail("request to "+to.String(), st)
	}
	return current(), nil
}

// Reply answers a request: it sends data to req's sender under req's tag.
func Reply(req Message, data []byte) error {
	return Send(req.Sender, req.Tag, data)
}

// SendValue sends v, encoded as CBOR (see Encode), under tag to the process
// to.
func SendValue(to ProcessID, tag int64, v any) error {
	b, err := Encode(v)
	if err != nil {
		return err
	}
	return Send(to, tag, b)
}

// ReplyValue answers a request with v encoded as CBOR.
func ReplyValue(req Message, v any) error {
	return SendValue(req.Sender, req.Tag, v)
}

// RequestValue sends req encoded as CBOR to the process to, waits up to
// timeout for the reply and decodes it into reply (a pointer).
func RequestValue(to ProcessID, req, reply any, timeout time.Duration) error {
	b, err := Encode(req)
	if err != nil {
		return err
	}
	m, err := Request(to, b, timeout)
	if err != nil {
		return err
	}
	return m.Decode(reply)
}

// SendAfter sends data under tag to the process to after delay (rounded up
// to whole milliseconds), unless cancelled first with CancelTimer. Like
// Send, the message is dropped if to has ended by then. ErrLimit when this
// process has too many pending timers.
func SendAfter(to ProcessID, tag int64, data []byte, delay time.Duration) (TimerID, error) {
	msgMu.Lock()
	id := int64(-outgoing(tag, data))
	if id == abi.OK {
		id = wardSendAfter(uint64(to), max(millis(delay), 0))
	}
	msgMu.Unlock()
	if id <= 0 {
		return 0, fail("send_after to "+to.String(), int32(-id))
	}
	return TimerID(id), nil
}

// CancelTimer cancels a SendAfter set by a process of this environment or
// of one below it. ErrNotFound when the timer has already fired (its
// message may be in the mailbox), does not exist, or was set elsewhere.
func CancelTimer(t TimerID) error {
	if st := wardCancelTimer(int64(t)); st != abi.OK {
		return fail("cancel_timer", st)
	}
	return nil
}
