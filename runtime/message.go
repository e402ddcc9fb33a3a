package runtime

import (
	"context"
	"errors"
	"fmt"

	"github.com/fxamacker/cbor/v2"

	"github.com/wardrt/ward/internal/abi"
	"github.com/wardrt/ward/internal/errs"
	"github.com/wardrt/ward/internal/wasm"
	"github.com/wardrt/ward/mailbox"
)

// Message is what processes send each other: bytes, a tag receivers can
// filter on, the sender's id (set by the runtime), and handles that move
// with the message, such as a *Module a Go-native process can spawn.
// Handles go only to Go-native processes (ErrHandlesToWasm). Negative tags
// are the runtime's own (TagExit, TagDown).
type Message = mailbox.Message

// Tags of the runtime's own messages; see ParseExit and ParseDown.
const (
	TagExit = abi.TagExit
	TagDown = abi.TagDown
)

// ErrReservedTag is returned for a message with a negative tag: those are
// the runtime's.
var ErrReservedTag = errors.New("ward: negative message tags are reserved for the runtime")

// ErrHandlesToWasm is returned for a message with handles sent to a Wasm
// process. A guest has no way to hold a Go value yet, and a handle dropped
// on the way would be lost without anyone knowing; send handles to a
// Go-native process, or send the data they stand for.
var ErrHandlesToWasm = errors.New("ward: a Wasm process cannot receive handles, only Go-native processes can")

// UniqueTag returns a tag no other call in this program returns; use it to
// match a reply to its request.
func UniqueTag() int64 { return wasm.UniqueTag() }

// deliver puts m in p's mailbox. A full mailbox refuses it with an error
// matching mailbox.ErrFull; a process that has ended, with ErrNoProcess.
func (p *Process) deliver(m Message) error {
	if p.park.Load() != parkBorrowed {
		return p.enqueue(m, true)
	}
	// A borrowed process's goroutine sleeps, and its borrower looks at the
	// mailbox before letting go of it (runBorrowed): a wake-up now would
	// only be repeated. If it let go meanwhile, it may have looked too
	// soon, so wake it after all.
	err := p.enqueue(m, false)
	if err == nil && p.park.Load() != parkBorrowed {
		p.mb.Wake()
	}
	return err
}

// enqueue is deliver, with the receiver's wake-up left out unless wake is
// set: see handOff.
func (p *Process) enqueue(m Message, wake bool) error {
	if m.Tag < 0 {
		return ErrReservedTag
	}
	if err := p.acceptsHandles(m); err != nil {
		return err
	}
	var err error
	if wake {
		err = p.mb.Push(m)
	} else {
		err = p.mb.PushQuiet(m)
	}
	if errors.Is(err, mailbox.ErrClosed) {
		return p.env.rt.noProcess(p.id)
	}
	if err != nil {
		return errs.Wrap(err, "sending to process %d", p.id)
	}
	return nil
}

// acceptsHandles fails for a message with handles to a Wasm process.
func (p *Process) acceptsHandles(m Message) error {
	if len(m.Handles) > 0 && p.mod != nil {
		return fmt.Errorf("%w: process %d runs %s", ErrHandlesToWasm, p.id, p.module().Name())
	}
	return nil
}

// Send puts m in the process's mailbox, as sent from outside any process
// (Sender 0). It does not wait for the process to read it: it fails only
// when the mailbox is full (mailbox.ErrFull) or the process has ended
// (ErrNoProcess).
func (p *Process) Send(ctx context.Context, m Message) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	m.Sender = 0
	return p.deliver(m)
}

// Send sends m to the process with that id; see Process.Send.
func (r *Runtime) Send(ctx context.Context, to ProcessID, m Message) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	p := r.lookup(to)
	if p == nil {
		return r.sendTo(0, to, m)
	}
	m.Sender = 0
	return p.deliver(m)
}

// noProcess is the error of a message or signal to a process that is not
// alive: it matches ErrNoProcess, and ErrClosed too once the runtime is
// closing. Checked only once the process is found missing, so the
// delivery path pays nothing for it.
func (r *Runtime) noProcess(id ProcessID) error {
	if r.isClosing() {
		return errs.Errorf("ward: process %d: %w (%w)", id, ErrClosed, ErrNoProcess)
	}
	return fmt.Errorf("%w: %d", ErrNoProcess, id)
}

// Request sends m to the process with that id under a fresh tag and waits
// for the reply: the first message back with that tag. The reply goes to a
// short-lived Go process in the root environment, which runs on the
// caller's goroutine. It fails as Self.Request does, with ctx's error when
// ctx ends first, and with an error matching ErrClosed when Close cuts it
// short.
func (r *Runtime) Request(ctx context.Context, to ProcessID, m Message) (Message, error) {
	if err := ctx.Err(); err != nil {
		return Message{}, err
	}
	var reply Message
	p, err := r.root.admit(ctx, nil, "go:request", nil, 0, nil)
	if err != nil {
		return Message{}, errs.Wrap(err, "request to %d", to)
	}
	p.quiet = true // its failure is the caller's error, not a log line
	p.goFn = func(ctx context.Context, self *Self) error {
		var err error
		reply, err = self.Request(ctx, to, m)
		return err
	}
	stop := context.AfterFunc(ctx, p.Kill)
	p.runHere()
	stop()
	if reason := p.reason; !reason.Normal() {
		if ctx.Err() != nil {
			return Message{}, ctx.Err()
		}
		err := error(reason)
		var ge *GoError
		if errors.As(reason, &ge) && ge.Err != nil {
			err = ge.Err
		}
		if r.isClosing() {
			// Close kills the target and the requester in no set order:
			// the requester may be killed, or may first see its target
			// end. Either way the cause is Close.
			if reason == Killed {
				return Message{}, errs.Wrap(ErrClosed, "request to %d", to)
			}
			return Message{}, errs.Errorf("ward: request to %d: %w: %w", to, ErrClosed, err)
		}
		return Message{}, err
	}
	return reply, nil
}

// EncodeMessage makes a message of v encoded as CBOR (RFC 8949), which
// guests in any language can decode. Two fxamacker/cbor defaults matter to
// hand-written guest decoders: a nil []byte encodes as CBOR null, not an
// empty byte string, and structs encode as maps unless tagged
// `cbor:",toarray"`.
func EncodeMessage(tag int64, v any) (Message, error) {
	b, err := cbor.Marshal(v)
	if err != nil {
		return Message{}, errs.Wrap(err, "encoding message")
	}
	return Message{Tag: tag, Data: b}, nil
}

// DecodeMessage decodes a CBOR message into v.
func DecodeMessage(m Message, v any) error {
	if err := cbor.Unmarshal(m.Data, v); err != nil {
		return errs.Wrap(err, "decoding message with tag %d from %d", m.Tag, m.Sender)
	}
	return nil
}
