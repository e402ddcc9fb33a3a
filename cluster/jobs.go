package cluster

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/fxamacker/cbor/v2"

	"github.com/wardrt/ward/internal/errs"
	"github.com/wardrt/ward/internal/route"
	"github.com/wardrt/ward/runtime"
)

// Jobs are lunatic's (and the lucidity seed's) unit of remote work: a
// process spawned for one input, anywhere in the cluster. The input is
// the process's first message, sent as a request (runtime.Request: under
// a fresh tag, from a process that watches the job meanwhile); the job's
// result is its reply, the first message back under that tag (in a Go
// guest, guest.ServeJob does both). A job that ends before replying fails
// with its exit reason: the error matches runtime.ErrNoProcess and wraps
// the reason (errors.As with a runtime.Reason, runtime.RemoteReason for a
// job on another node).

// JobGrant is the name under which a node grants the environment jobs run
// in (Config.Grants): a node without it refuses jobs with
// ErrUnknownGrant.
const JobGrant = "jobs"

// JobServer is the name, and JobServerVersion the version, under which
// ServeJobs registers a node's job server: the Go-native process that
// starts jobs for guests (guest.RunJob).
const (
	JobServer        = "ward.jobs"
	JobServerVersion = "1.0.0"
)

// Placement says where a job runs: Local, Any, or a node (OnNode).
type Placement uint32

const (
	// Local runs the job on this node.
	Local Placement = 0
	// Any runs the job on one of the nodes that are up, this one
	// included, taking them in turn; each must grant JobGrant, or the
	// jobs placed there fail with ErrUnknownGrant.
	Any Placement = 1 << 16
)

// OnNode runs the job on the node numbered node (0: this node).
func OnNode(node uint16) Placement { return Placement(node) }

// ErrPlacement: a Placement that is none of Local, Any and OnNode's.
var ErrPlacement = errors.New("ward: a job's placement is Local, Any or OnNode(n)")

// place picks the node of a job.
func (n *Node) place(where Placement) (uint16, error) {
	switch {
	case where == Any:
		up := n.upNodes()
		i := n.spawning().next.Add(1)
		return up[int(i)%len(up)], nil
	case where < Any:
		return uint16(where), nil
	}
	return 0, fmt.Errorf("%w, not %d", ErrPlacement, uint32(where))
}

// upNodes lists the nodes that are up, this one first.
func (n *Node) upNodes() []uint16 {
	up := []uint16{n.id}
	for _, ni := range n.Nodes() {
		if ni.Up && !ni.Self && ni.ID != n.id {
			up = append(up, ni.ID)
		}
	}
	return up
}

// Run runs a job: it spawns the export entry of the module with SHA-256
// hash (see Publish) on where, in the environment granted as JobGrant,
// sends it in and returns its reply. If ctx ends first, the job is killed
// and Run returns ctx's error.
func (n *Node) Run(ctx context.Context, where Placement, hash, entry string, in []byte) ([]byte, error) {
	return n.runJob(ctx, where, hash, entry, in, nil)
}

// runJob runs a job on behalf of owner (nil: Go code).
func (n *Node) runJob(ctx context.Context, where Placement, hash, entry string, in []byte, owner *runtime.Environment) ([]byte, error) {
	node, err := n.place(where)
	if err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	// The spawn is not cut short by ctx: one cut short could still start
	// the process there, unknown here and so never killed. It is bounded
	// by the call's own failure when the node goes.
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), spawnTimeout)
	pid, err := n.Spawn(sctx, node, hash, entry, SpawnOptions{Grant: JobGrant, Owner: owner})
	cancel()
	if err != nil {
		return nil, errs.Wrap(err, "job %s", entry)
	}
	reply, err := n.rt.Request(ctx, pid, runtime.Message{Data: in})
	if err != nil {
		if ctx.Err() != nil {
			// The job is of no use to anyone now.
			kctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), killTimeout)
			n.rt.Kill(kctx, pid)
			cancel()
		}
		return nil, errs.Errorf("ward: job %s on node %d: %w", entry, route.NodeOf(uint64(pid)), err)
	}
	return reply.Data, nil
}

// Job is a job under way (see Go).
type Job struct {
	done chan struct{}
	out  []byte
	err  error
}

// Go starts a job as Run does and returns at once; Wait gets its result.
// The job is bound by ctx, not by the Wait calls.
func (n *Node) Go(ctx context.Context, where Placement, hash, entry string, in []byte) *Job {
	j := &Job{done: make(chan struct{})}
	go func() {
		defer close(j.done)
		j.out, j.err = n.Run(ctx, where, hash, entry, in)
	}()
	return j
}

// Wait waits for the job's result, or for ctx to end (its error then; the
// job goes on).
func (j *Job) Wait(ctx context.Context) ([]byte, error) {
	select {
	case <-j.done:
		return j.out, j.err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// Done is closed when the job's result is in.
func (j *Job) Done() <-chan struct{} { return j.done }

// FanOutOptions shape a FanOut.
type FanOutOptions struct {
	// Nodes are the nodes to spread the jobs over, in turn; empty: every
	// node that is up, this one first.
	Nodes []uint16
	// MaxConcurrent bounds the jobs under way at once; 0: all at once.
	MaxConcurrent int
}

// Result is the outcome of one job of a FanOut.
type Result struct {
	Node uint16 // where it ran (or was to run)
	Out  []byte
	Err  error
}

// FanOut runs one job per input, spread over the nodes in turn, and
// returns their outcomes in the order of inputs: a failing job fails
// alone, with its own Err.
func (n *Node) FanOut(ctx context.Context, hash, entry string, inputs [][]byte, opts FanOutOptions) []Result {
	nodes := opts.Nodes
	if len(nodes) == 0 {
		nodes = n.upNodes()
	}
	limit := opts.MaxConcurrent
	if limit <= 0 || limit > len(inputs) {
		limit = len(inputs)
	}
	res := make([]Result, len(inputs))
	sem := make(chan struct{}, max(limit, 1))
	var wg sync.WaitGroup
	for i, in := range inputs {
		node := nodes[i%len(nodes)]
		res[i].Node = node
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
			res[i].Err = ctx.Err()
			continue
		}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			res[i].Out, res[i].Err = n.Run(ctx, OnNode(node), hash, entry, in)
		}()
	}
	wg.Wait()
	return res
}

// killTimeout bounds the kill of a job whose caller gave up; spawnTimeout
// a job's spawn, which its caller's ctx does not (see runJob).
const (
	killTimeout  = 5 * time.Second
	spawnTimeout = 2 * time.Minute
)

// jobRequest is what guest.RunJob asks the job server (the keys are the
// guest SDK's).
type jobRequest struct {
	Where uint32 `cbor:"1,keyasint"`
	Hash  string `cbor:"2,keyasint"`
	Entry string `cbor:"3,keyasint"`
	In    []byte `cbor:"4,keyasint"`
}

// jobReply is the job server's answer.
type jobReply struct {
	Out []byte `cbor:"1,keyasint"`
	Err string `cbor:"2,keyasint"`
}

// maxGuestJobs bounds the guests' jobs a node's job server runs at once;
// more wait their turn.
const maxGuestJobs = 64

// ServeJobs starts the node's job server, once, and registers it as
// JobServer (JobServerVersion) in the root environment and in each of
// envs, so that guests there can start jobs (guest.RunJob). A guest's job
// runs with the guest's environment as its Owner: no wider than it, and
// reachable (kill, link) from it; and only when that environment may
// spawn (Permissions.Spawn). The server lives until the runtime closes.
func (n *Node) ServeJobs(ctx context.Context, envs ...*runtime.Environment) error {
	st := n.spawning()
	st.mu.Lock()
	srv := st.jobs
	if srv != nil {
		select {
		case <-srv.Done(): // killed: start another
			srv = nil
		default:
		}
	}
	if srv == nil {
		var err error
		srv, err = n.rt.Environment().SpawnGo(ctx, JobServer, n.serveJobs)
		if err != nil {
			st.mu.Unlock()
			return errs.Wrap(err, "starting the job server")
		}
		st.jobs = srv
	}
	st.mu.Unlock()
	for _, env := range append([]*runtime.Environment{n.rt.Environment()}, envs...) {
		if err := env.Register(JobServer, JobServerVersion, srv); err != nil {
			if p, _, lerr := env.Lookup(JobServer, JobServerVersion); lerr == nil && p == srv {
				continue // registered there already
			}
			return errs.Wrap(err, "registering the job server")
		}
	}
	return nil
}

// serveJobs is the job server: one job per request, run on behalf of the
// requesting guest's environment, answered with a jobReply.
func (n *Node) serveJobs(ctx context.Context, self *runtime.Self) error {
	slots := make(chan struct{}, maxGuestJobs)
	for {
		m, err := self.Receive(ctx)
		if err != nil {
			return nil // killed, or the runtime is closing
		}
		if m.Tag < 0 {
			continue // the runtime's own (exits, DOWNs): not requests
		}
		answer := func(rep jobReply) {
			b, err := cbor.Marshal(rep)
			if err == nil {
				err = self.Send(runtime.ProcessID(m.Sender), runtime.Message{Tag: m.Tag, Data: b})
			}
			if err != nil {
				n.log.Debug("ward: job server: answering", "to", m.Sender, "err", err)
			}
		}
		var req jobRequest
		if err := cbor.Unmarshal(m.Data, &req); err != nil {
			answer(jobReply{Err: fmt.Sprintf("ward: job server: decoding the request: %v", err)})
			continue
		}
		p := localProcess(n.rt, m.Sender)
		if p == nil {
			answer(jobReply{Err: "ward: job server: jobs are for the processes of this node"})
			continue
		}
		env := p.Environment()
		if !env.Config().Permissions.Spawn.Allowed() {
			answer(jobReply{Err: "ward: job server: the environment may not spawn, so it may not start jobs"})
			continue
		}
		select {
		case slots <- struct{}{}:
		case <-ctx.Done():
			return nil
		}
		go func() {
			defer func() { <-slots }()
			// A job outlives neither the server nor the guest that asked.
			jctx, cancel := context.WithCancel(ctx)
			defer cancel()
			go func() {
				select {
				case <-p.Done():
					cancel()
				case <-jctx.Done():
				}
			}()
			out, err := n.runJob(jctx, Placement(req.Where), req.Hash, req.Entry, req.In, env)
			if err != nil {
				answer(jobReply{Err: err.Error()})
				return
			}
			answer(jobReply{Out: out})
		}()
	}
}

// initJobs registers the jobs' handlers: none, since a job is a spawn
// (the "spawn" op) and a request over the transport.
func (n *Node) initJobs() {}
