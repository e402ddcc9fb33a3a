package runtime

import (
	"context"
	"errors"

	"github.com/wardrt/ward/internal/abi"
	"github.com/wardrt/ward/internal/errs"
	"github.com/wardrt/ward/internal/route"
)

// The router is the one place a process id becomes a process, and the
// home of the process table: entering it (enter), leaving it (leave),
// scanning it (processesWithin, closeTable). An id's top
// 16 bits name its node (route.NodeOf): 0, or this runtime's node number
// once it has joined a cluster, means a process in this runtime's table;
// any other node is reached through the cluster's transport (remote.go),
// and is unknown (ErrNoProcess) without one. Every operation that takes an
// id (send, request, link, unlink, monitor, demonitor, kill, exists, and
// the timers) asks lookup first, and remoteOf when lookup finds nothing,
// so the local paths pay one shift and compare for the cluster.

// Node returns the number of the node the id names: 0 for an id given out
// before its runtime joined a cluster, which always means "this node".
func (id ProcessID) Node() uint16 { return route.NodeOf(uint64(id)) }

// lookup returns the live local process with that id, or nil: for an id
// of another node, for one that ended, and for one that never existed.
func (r *Runtime) lookup(id ProcessID) *Process {
	if n := id.Node(); n != 0 && n != r.nodeID() {
		return nil
	}
	r.mu.RLock()
	p := r.procs[id&route.LocalMask]
	r.mu.RUnlock()
	return p
}

// enter puts a process admitted to an environment in the table, so ids
// find it; it refuses one once the runtime is closing (ErrClosed) or the
// environment is closed (ErrEnvironmentClosed). Both are checked holding
// r.mu: Close and Environment.Close mark themselves before they scan the
// table under r.mu, so a process is either refused here or found and
// killed there.
func (r *Runtime) enter(p *Process) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closing {
		return ErrClosed
	}
	if p.env.life.closed.Load() {
		return ErrEnvironmentClosed
	}
	r.procs[p.id&route.LocalMask] = p
	r.spawned++
	r.wg.Add(1)
	return nil
}

// leave takes an ended process out of the table: its id finds nothing
// from now on.
func (r *Runtime) leave(p *Process, kind EndKind) {
	r.mu.Lock()
	delete(r.procs, p.id&route.LocalMask)
	r.ended[kind]++
	r.mu.Unlock()
}

// processesWithin returns the live processes of env and the environments
// below it.
func (r *Runtime) processesWithin(env *Environment) []*Process {
	r.mu.RLock()
	defer r.mu.RUnlock()
	var procs []*Process
	for _, p := range r.procs {
		if p.env.within(env) {
			procs = append(procs, p)
		}
	}
	return procs
}

// closeTable marks the runtime closing, so enter refuses from now on, and
// returns the processes alive.
func (r *Runtime) closeTable() []*Process {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.closing = true
	live := make([]*Process, 0, len(r.procs))
	for _, p := range r.procs {
		live = append(live, p)
	}
	return live
}

// nodeID is this runtime's node number, 0 until it joins a cluster.
func (r *Runtime) nodeID() uint16 {
	if a := r.cluster.Load(); a != nil {
		return a.node
	}
	return 0
}

// newID returns the id of a process about to be admitted: qualified with
// the node number once the runtime has joined a cluster, so that an id
// handed to a guest means the same process on every node.
func (r *Runtime) newID() ProcessID {
	return ProcessID(route.Qualify(r.nextID.Add(1), r.nodeID()))
}

// remoteOf returns the attachment that reaches id when id names another
// node and the runtime has joined a cluster; nil otherwise.
func (r *Runtime) remoteOf(id ProcessID) *attachment {
	n := id.Node()
	if n == 0 {
		return nil
	}
	if a := r.cluster.Load(); a != nil && n != a.node {
		return a
	}
	return nil
}

// sendTo is every send's path past the local table: to a process on
// another node, or the error for an id no one has.
func (r *Runtime) sendTo(from ProcessID, to ProcessID, m Message) error {
	a := r.remoteOf(to)
	if a == nil {
		return r.noProcess(to)
	}
	if m.Tag < 0 {
		return ErrReservedTag
	}
	if len(m.Handles) > 0 {
		return errs.Wrap(route.ErrHandles, "sending to process %s", to)
	}
	if err := a.t.Send(uint64(from), uint64(to), m.Tag, m.Data); err != nil {
		return remoteError(to, err)
	}
	return nil
}

// remoteError wraps a transport's error for process to: a node that is
// not there reads as ErrNoProcess too, as a process nobody can reach.
func remoteError(to ProcessID, err error) error {
	if errors.Is(err, route.ErrNoNode) {
		return errs.Errorf("ward: process %s: %w (%w)", to, ErrNoProcess, err)
	}
	return errs.Wrap(err, "process %s", to)
}

// remoteStatus is the status a guest sees for a transport's error.
func remoteStatus(err error) int64 {
	switch {
	case err == nil:
		return abi.OK
	case errors.Is(err, route.ErrNoNode), errors.Is(err, ErrNoProcess):
		return abi.ErrNotFound
	case errors.Is(err, route.ErrTooLarge):
		return abi.ErrLimit
	case errors.Is(err, route.ErrRemotePermission):
		return abi.ErrPermission
	}
	return statusOf(err)
}

// Kill ends the process with that id with reason Killed, on this node or
// another, as Process.Kill does. It fails with ErrNoProcess when no process
// has that id here, or its node is not in the cluster; a remote process
// that has ended meanwhile is not reported.
func (r *Runtime) Kill(ctx context.Context, id ProcessID) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if p := r.lookup(id); p != nil {
		p.Kill()
		return nil
	}
	a := r.remoteOf(id)
	if a == nil {
		return r.noProcess(id)
	}
	if err := a.t.Kill(route.Caller{Node: a.node}, uint64(id)); err != nil {
		return remoteError(id, err)
	}
	return nil
}

// Exists reports whether the process with that id is alive, asking its
// node when it is on another one (the only case that waits, within ctx).
func (r *Runtime) Exists(ctx context.Context, id ProcessID) (bool, error) {
	if err := ctx.Err(); err != nil {
		return false, err
	}
	if r.lookup(id) != nil {
		return true, nil
	}
	a := r.remoteOf(id)
	if a == nil {
		return false, nil
	}
	ok, err := a.t.Exists(ctx, uint64(id))
	if errors.Is(err, route.ErrNoNode) {
		return false, nil
	}
	return ok, err
}

// caller is who p is to a remote node checking the environment rules:
// Go code for a Go-native process, as it is locally, or p's environment
// chain for a guest.
func (p *Process) caller(node uint16) route.Caller {
	c := route.Caller{Node: node}
	if p.mod == nil {
		return c
	}
	for e := p.env; e != nil; e = e.parent {
		c.Env = append(c.Env, e.id)
	}
	return c
}
