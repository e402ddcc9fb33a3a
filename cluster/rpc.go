package cluster

import (
	"context"
	"errors"
	"fmt"

	"github.com/fxamacker/cbor/v2"
	"github.com/wardrt/ward/internal/errs"
	"github.com/wardrt/ward/internal/route"
)

// Node-to-node calls: a request frame carries an op name, a call id and a
// CBOR body; the reply frame comes back in the session the other way.
// Both are signed and numbered like every frame, so a call's sender is
// known to its handler, and a reply cannot be forged.

// ErrRemote wraps the error a remote handler returned.
var ErrRemote = errors.New("ward: the remote node failed the call")

// opExists asks whether a process is alive.
const opExists = "ward.exists"

// handlerFunc serves one op: from is the calling node, req the raw CBOR.
type handlerFunc func(ctx context.Context, from uint16, req []byte) (any, error)

type callResult struct {
	body  []byte
	err   string
	errIs uint8
	lost  bool
}

type pendingCall struct {
	node uint16
	ch   chan callResult
}

// Sentinels a handler's error may wrap that the caller gets back as such
// (by number on the wire), so errors.Is works across nodes.
var remoteSentinels = []error{nil, route.ErrNoNode, route.ErrTooLarge, route.ErrHandles, route.ErrRemotePermission}

// initHandlers registers every op's handler; Join calls it before the
// receive loop starts.
func (n *Node) initHandlers() {
	n.handle(opExists, n.serveExists)
	n.initSpawn()
	n.initGlobal()
	n.initJobs()
}

// handle registers fn as op's handler. Only from initHandlers.
func (n *Node) handle(op string, fn func(ctx context.Context, from uint16, req []byte) (any, error)) {
	n.handlers[op] = fn
}

// call sends req to node's op handler and decodes its answer into resp.
// It fails at once, with an error wrapping route.ErrNoNode, when node is
// not up or goes down while the call waits; a handler's error comes back
// wrapping ErrRemote.
func (n *Node) call(ctx context.Context, node uint16, op string, req, resp any) error {
	body, err := cbor.Marshal(req)
	if err != nil {
		return errs.Wrap(err, "call %s: encoding the request", op)
	}
	id := n.nextCall.Add(1)
	pc := &pendingCall{node: node, ch: make(chan callResult, 1)}
	n.callMu.Lock()
	n.calls[id] = pc
	n.callMu.Unlock()
	defer func() {
		n.callMu.Lock()
		delete(n.calls, id)
		n.callMu.Unlock()
	}()
	// Registered before it is sent: a node lost after this fails it.
	if err := n.send(node, &frame{Kind: kindReq, Op: op, Ref: id, Body: body}); err != nil {
		return errs.Wrap(err, "call %s on node %d", op, node)
	}
	select {
	case r := <-pc.ch:
		switch {
		case r.lost:
			return errs.Wrap(route.ErrNoNode, "call %s: node %d was lost", op, node)
		case r.err != "" && int(r.errIs) < len(remoteSentinels) && r.errIs != 0:
			return errs.Errorf("%w: %w: node %d: %s", ErrRemote, remoteSentinels[r.errIs], node, r.err)
		case r.err != "":
			return fmt.Errorf("%w: node %d: %s", ErrRemote, node, r.err)
		}
		if resp == nil {
			return nil
		}
		if err := cbor.Unmarshal(r.body, resp); err != nil {
			return errs.Wrap(err, "call %s: decoding node %d's reply", op, node)
		}
		return nil
	case <-ctx.Done():
		return errs.Wrap(ctx.Err(), "call %s on node %d", op, node)
	}
}

// serve runs a request's handler on its own goroutine (handlers may
// block: the receive loop must not) and sends the reply. Leave cancels the
// handlers' context and does not wait for them.
func (n *Node) serve(from uint16, f *frame) {
	fn := n.handlers[f.Op]
	go func() {
		rep := &frame{Kind: kindRep, Ref: f.Ref}
		if fn == nil {
			rep.Text = fmt.Sprintf("ward: no handler for %q on node %d", f.Op, n.id)
		} else {
			ctx, cancel := context.WithCancel(context.Background())
			go func() {
				select {
				case <-n.stop:
					cancel()
				case <-ctx.Done():
				}
			}()
			v, err := fn(ctx, from, f.Body)
			cancel()
			if err != nil {
				rep.Text, rep.ErrIs = err.Error(), errIndex(err)
			} else if rep.Body, err = cbor.Marshal(v); err != nil {
				rep.Text = fmt.Sprintf("ward: encoding the reply to %q: %v", f.Op, err)
			}
		}
		if err := n.send(from, rep); err != nil && rep.Text == "" {
			// Too large, most likely: say so instead of leaving the
			// caller to its timeout.
			n.send(from, &frame{Kind: kindRep, Ref: f.Ref, Text: err.Error(), ErrIs: errIndex(err)})
		}
	}()
}

func errIndex(err error) uint8 {
	for i, s := range remoteSentinels[1:] {
		if errors.Is(err, s) {
			return uint8(i + 1)
		}
	}
	return 0
}

// complete hands a reply to its call; a reply from another node than the
// one called is ignored.
func (n *Node) complete(from uint16, f *frame) {
	n.callMu.Lock()
	pc := n.calls[f.Ref]
	if pc != nil && pc.node == from {
		delete(n.calls, f.Ref)
	} else {
		pc = nil
	}
	n.callMu.Unlock()
	if pc != nil {
		pc.ch <- callResult{body: f.Body, err: f.Text, errIs: f.ErrIs}
	}
}

// failCalls fails every call waiting on node.
func (n *Node) failCalls(node uint16) {
	n.callMu.Lock()
	defer n.callMu.Unlock()
	for id, pc := range n.calls {
		if pc.node == node {
			delete(n.calls, id)
			pc.ch <- callResult{lost: true}
		}
	}
}

func (n *Node) serveExists(_ context.Context, _ uint16, req []byte) (any, error) {
	var id uint64
	if err := cbor.Unmarshal(req, &id); err != nil {
		return nil, err
	}
	if route.NodeOf(id) != n.id {
		return false, nil
	}
	return n.local.Exists(id), nil
}
