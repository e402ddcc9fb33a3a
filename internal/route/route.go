// Package route is the seam between process ids and processes: the
// runtime resolves every id through it, serving ids of its own node from
// its process table and handing every other one to a Transport, which a
// cluster implements on NATS. It holds the contract only; the runtime
// implements Local and the cluster package implements Transport.
//
// Ids are 64 bits: the top NodeBits name the node a process lives on and
// the rest count processes within it. Node 0 is "this node", so a runtime
// that never joins a cluster has only node-0 ids, and an id a process got
// before its runtime joined stays valid locally; a Transport qualifies
// such ids with the local node before they leave the node.
package route

import (
	"context"
	"errors"
)

// NodeBits is how many of an id's top bits name its node.
const NodeBits = 16

// LocalMask keeps the node-local part of an id.
const LocalMask = 1<<(64-NodeBits) - 1

// NodeOf returns the node an id names (0: the node that holds it).
func NodeOf(id uint64) uint16 { return uint16(id >> (64 - NodeBits)) }

// Qualify returns id with node in its top bits when it names none yet.
func Qualify(id uint64, node uint16) uint64 {
	if NodeOf(id) != 0 {
		return id
	}
	return id | uint64(node)<<(64-NodeBits)
}

// Errors a Transport returns, for errors.Is; the runtime maps them to the
// ABI's statuses and wraps them in its own errors.
var (
	// ErrNoNode: the id names a node that is not in the cluster, or that
	// was lost (noconnection).
	ErrNoNode = errors.New("ward: no such node")
	// ErrTooLarge: the message does not fit the transport's payload limit.
	ErrTooLarge = errors.New("ward: message too large to cross nodes")
	// ErrHandles: the message carries Go values, which cannot cross nodes.
	ErrHandles = errors.New("ward: handles cannot cross nodes, only bytes can")
	// ErrRemotePermission: the remote node refused the operation under
	// its environment rules.
	ErrRemotePermission = errors.New("ward: not permitted on the remote node")
)

// Reason is a process's end as it crosses nodes: its ABI kind
// (abi.Reason*) and text.
type Reason struct {
	Kind uint32
	Text string
}

// Caller says who asks for an operation that environments restrict (kill,
// link): Go code on its node (Env 0, unrestricted, as Go code is locally)
// or a guest, by the id of its environment and of each environment above
// it, innermost first. A node checks a guest's remote kill or link
// against the environment chain recorded when the target's environment
// was granted to a remote spawn (see Local.Permit).
type Caller struct {
	Node uint16
	Env  []uint64 // nil: Go code
}

// Transport carries operations to processes on other nodes. Every method
// is called with ids whose node is neither 0 nor the local node, except
// for the local ids in from, watcher and the like, which the transport
// qualifies. Operations from one node to another arrive in the order they
// were made. No method blocks on the network except Exists, which waits
// for an answer within ctx.
type Transport interface {
	// Send delivers a message. It fails at once only for what cannot
	// cross (ErrTooLarge) or a node that is not there (ErrNoNode); a
	// receiver that is not alive or whose mailbox is full drops it, as
	// Erlang does.
	Send(from, to uint64, tag int64, data []byte) error
	// Link asks to's node to enter its end of a link with from. If to is
	// not alive there, that node answers with an exit (noproc), and with
	// one of reason ErrRemotePermission's text if c may not link to it.
	Link(c Caller, from, to uint64) error
	// Unlink removes to's end of the link.
	Unlink(from, to uint64)
	// Monitor asks target's node to watch target for watcher under ref;
	// the DOWN comes back as Local.Down with tag.
	Monitor(watcher, target, ref uint64, tag int64) error
	// Demonitor ends it.
	Demonitor(watcher, target, ref uint64)
	// Exit tells to that its linked peer from ended with r.
	Exit(from, to uint64, r Reason)
	// Down tells watcher that target, which it monitored under ref,
	// ended with r.
	Down(watcher, target, ref uint64, tag int64, r Reason)
	// Kill ends to with reason killed, if c may; a refusal is counted
	// there, not reported here.
	Kill(c Caller, to uint64) error
	// Exists reports whether id is alive on its node.
	Exists(ctx context.Context, id uint64) (bool, error)
}

// Local is what a runtime offers its transport: the operations that
// arrive from other nodes, applied to its own processes. from, watcher
// and the like are qualified ids of remote processes; to and target are
// ids of this node's processes. Permission checks (Caller) are the
// transport's to make before it calls Kill or Link.
type Local interface {
	// Deliver puts a message from a remote process in to's mailbox; it
	// is dropped when to is not alive or its mailbox is full.
	Deliver(from, to uint64, tag int64, data []byte)
	// Link enters to's end of a link with the remote from; when to is not
	// alive, it answers with Transport.Exit(to, from, noproc).
	Link(from, to uint64)
	// Unlink removes to's end of the link with from.
	Unlink(from, to uint64)
	// Monitor makes the remote watcher watch target; a target not alive
	// answers with Transport.Down(noproc) at once.
	Monitor(watcher, target, ref uint64, tag int64)
	// Demonitor ends it.
	Demonitor(watcher, target, ref uint64)
	// Exit delivers the end of the remote from to its linked peer to.
	Exit(from, to uint64, r Reason)
	// Down delivers the DOWN of the remote target to watcher.
	Down(watcher, target, ref uint64, tag int64, r Reason)
	// Kill ends to with reason killed.
	Kill(to uint64)
	// Exists reports whether id is alive here.
	Exists(id uint64) bool
	// NodeDown ends everything that ties local processes to node: links
	// fire exit noconnection, monitors DOWN noconnection.
	NodeDown(node uint16)
	// NotifyNodeDown queues a node-down message (abi.TagNodeDown) for
	// to, which monitors node: a signal, past its mailbox limits.
	NotifyNodeDown(to uint64, node uint16)
	// Detach stops routing to the transport: remote ids are unknown
	// again, and every tie to a remote process fires noconnection.
	Detach()
}

var attach func(rt any, node uint16, t Transport) (Local, error)

// Register is called by package runtime, once, to make Attach work.
func Register(f func(rt any, node uint16, t Transport) (Local, error)) { attach = f }

// Attach makes the runtime rt (a *runtime.Runtime) the node numbered node,
// sending operations on other nodes' ids to t. It fails if rt is attached
// already, or node is 0.
func Attach(rt any, node uint16, t Transport) (Local, error) {
	if attach == nil {
		return nil, errors.New("ward: route: package runtime is not linked in")
	}
	return attach(rt, node, t)
}
