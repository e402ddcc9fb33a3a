package runtime

import (
	"context"
	"errors"
	"fmt"

	"github.com/wardrt/ward/internal/errs"
)

// ErrNoReply is matched by the error of a Call whose process ended without
// replying; the error wraps the process's Reason too (errors.As with a
// *TrapError, *FuelError and the like says how it ended).
var ErrNoReply = errors.New("ward: the process ended without replying")

// Call is the plugin call: bytes in, bytes out. It spawns entry of m (an
// export without parameters) in a fresh process of e, sends it in as its
// first message, a request under a fresh tag, and returns the data of the
// process's reply: the first message it sends back under that tag (a Go
// guest answers with guest.Reply; a WAT or C guest sends to sender() under
// get_tag()). The process is killed once it has replied, or when ctx ends,
// so a plugin that loops past the caller's deadline does not outlive it.
//
// It fails with an error matching ErrNoReply and wrapping the process's
// reason when the process ends before replying, and with ctx's error when
// ctx ends first.
func (e *Environment) Call(ctx context.Context, m *Module, entry string, in []byte) ([]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	p, err := e.Spawn(ctx, m, entry)
	if err != nil {
		return nil, err
	}
	defer p.Kill() // one call per process: what it does after replying is of no use
	return p.call(ctx, in)
}

// Call sends in to a long-lived process as a request and returns the data
// of its reply, as Environment.Call does for a fresh one; the process is
// left running. It fails with ErrNoReply (wrapping the reason) when the
// process ends before replying, and with ErrNoProcess when it is not
// alive.
func (p *Process) Call(ctx context.Context, in []byte) ([]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if p.Reason() != nil {
		return nil, errs.Errorf("ward: calling %s: %w", p, p.env.rt.noProcess(p.id))
	}
	return p.call(ctx, in)
}

func (p *Process) call(ctx context.Context, in []byte) ([]byte, error) {
	reply, err := p.env.rt.Request(ctx, p.id, Message{Data: in})
	if err == nil {
		return reply.Data, nil
	}
	if ctxErr := ctx.Err(); ctxErr != nil {
		return nil, errs.Wrap(ctxErr, "calling %s", p)
	}
	var ce *CallError
	if errors.As(err, &ce) {
		ce.Label = p.label()
		return nil, ce
	}
	return nil, errs.Wrap(err, "calling %s", p)
}

// CallError is the error of a request (Environment.Call, Process.Call,
// Runtime.Request, Self.Request) whose target ended without replying: it
// says how the target ended, once. It matches ErrNoReply and, as the
// target is no longer alive, ErrNoProcess; it unwraps to the target's
// reason (errors.As with a *TrapError, *FuelError, ...).
type CallError struct {
	Process ProcessID
	Label   string // "module.entry", when known
	Reason  Reason
}

func (e *CallError) Error() string {
	who := "process " + e.Process.String()
	if e.Label != "" {
		who = e.Label + " (" + who + ")"
	}
	return fmt.Sprintf("ward: request to %s: it ended without replying: %v", who, e.Reason)
}

// Unwrap returns ErrNoReply and the reason.
func (e *CallError) Unwrap() []error { return []error{ErrNoReply, e.Reason} }

// Is matches ErrNoProcess: the target is not alive any more.
func (e *CallError) Is(target error) bool { return target == ErrNoProcess }

// CallCBOR is Call with CBOR on both sides: in is encoded as the request
// (see EncodeMessage) and the reply decoded into a T.
func CallCBOR[T any](ctx context.Context, e *Environment, m *Module, entry string, in any) (T, error) {
	var out T
	req, err := EncodeMessage(0, in)
	if err != nil {
		return out, err
	}
	data, err := e.Call(ctx, m, entry, req.Data)
	if err != nil {
		return out, err
	}
	if err := DecodeMessage(Message{Data: data}, &out); err != nil {
		return out, err
	}
	return out, nil
}
