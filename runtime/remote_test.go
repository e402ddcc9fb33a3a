package runtime

import (
	"context"
	"encoding/binary"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/wardrt/ward/environment"
	"github.com/wardrt/ward/internal/abi"
	"github.com/wardrt/ward/internal/route"
)

// loopNet joins runtimes in one program through route.Attach, with a
// transport that queues every operation for the target node and applies
// it on one goroutine per node, in order: what package cluster does over
// NATS, without NATS, so the runtime's half of the seam is tested alone.
type loopNet struct {
	mu    sync.Mutex
	nodes map[uint16]*loopNode
}

type loopNode struct {
	net   *loopNet
	id    uint16
	local route.Local
	q     chan func(route.Local)
	done  chan struct{}
	down  bool
	kills []route.Caller // kill callers seen, for the permission tests
}

func newLoopNet() *loopNet { return &loopNet{nodes: map[uint16]*loopNode{}} }

func (n *loopNet) join(t *testing.T, r *Runtime, id uint16) *loopNode {
	t.Helper()
	ln := &loopNode{net: n, id: id, q: make(chan func(route.Local), 1<<16), done: make(chan struct{})}
	local, err := route.Attach(r, id, ln)
	if err != nil {
		t.Fatal(err)
	}
	ln.local = local
	n.mu.Lock()
	n.nodes[id] = ln
	n.mu.Unlock()
	go func() {
		defer close(ln.done)
		for f := range ln.q {
			f(ln.local)
		}
	}()
	t.Cleanup(func() { n.stop(ln) })
	return ln
}

func (n *loopNet) stop(ln *loopNode) {
	n.mu.Lock()
	if ln.down {
		n.mu.Unlock()
		return
	}
	ln.down = true
	delete(n.nodes, ln.id)
	n.mu.Unlock()
	close(ln.q)
	<-ln.done
}

// crash takes node id off the net: the others see it go.
func (n *loopNet) crash(id uint16) {
	n.mu.Lock()
	ln := n.nodes[id]
	var rest []*loopNode
	for _, o := range n.nodes {
		if o.id != id {
			rest = append(rest, o)
		}
	}
	n.mu.Unlock()
	n.stop(ln)
	for _, o := range rest {
		o.post(func(l route.Local) { l.NodeDown(id) })
	}
}

func (ln *loopNode) post(f func(route.Local)) {
	ln.net.mu.Lock()
	defer ln.net.mu.Unlock()
	if !ln.down {
		ln.q <- f
	}
}

// to returns the node of id, or ErrNoNode.
func (ln *loopNode) to(id uint64) (*loopNode, error) {
	ln.net.mu.Lock()
	defer ln.net.mu.Unlock()
	o := ln.net.nodes[route.NodeOf(id)]
	if o == nil {
		return nil, route.ErrNoNode
	}
	return o, nil
}

func (ln *loopNode) q64(id uint64) uint64 { return route.Qualify(id, ln.id) }

func (ln *loopNode) Send(from, to uint64, tag int64, data []byte) error {
	o, err := ln.to(to)
	if err != nil {
		return err
	}
	if len(data) > 1<<20 {
		return route.ErrTooLarge
	}
	from = ln.q64(from)
	data = append([]byte(nil), data...)
	o.post(func(l route.Local) { l.Deliver(from, to, tag, data) })
	return nil
}

func (ln *loopNode) Link(c route.Caller, from, to uint64) error {
	o, err := ln.to(to)
	if err != nil {
		return err
	}
	from = ln.q64(from)
	o.post(func(l route.Local) { l.Link(from, to) })
	return nil
}

func (ln *loopNode) Unlink(from, to uint64) {
	if o, err := ln.to(to); err == nil {
		from = ln.q64(from)
		o.post(func(l route.Local) { l.Unlink(from, to) })
	}
}

func (ln *loopNode) Monitor(watcher, target, ref uint64, tag int64) error {
	o, err := ln.to(target)
	if err != nil {
		return err
	}
	watcher = ln.q64(watcher)
	o.post(func(l route.Local) { l.Monitor(watcher, target, ref, tag) })
	return nil
}

func (ln *loopNode) Demonitor(watcher, target, ref uint64) {
	if o, err := ln.to(target); err == nil {
		watcher = ln.q64(watcher)
		o.post(func(l route.Local) { l.Demonitor(watcher, target, ref) })
	}
}

func (ln *loopNode) Exit(from, to uint64, r route.Reason) {
	if o, err := ln.to(to); err == nil {
		from = ln.q64(from)
		o.post(func(l route.Local) { l.Exit(from, to, r) })
	}
}

func (ln *loopNode) Down(watcher, target, ref uint64, tag int64, r route.Reason) {
	if o, err := ln.to(watcher); err == nil {
		target = ln.q64(target)
		o.post(func(l route.Local) { l.Down(watcher, target, ref, tag, r) })
	}
}

func (ln *loopNode) Kill(c route.Caller, to uint64) error {
	o, err := ln.to(to)
	if err != nil {
		return err
	}
	ln.net.mu.Lock()
	o.kills = append(o.kills, c)
	ln.net.mu.Unlock()
	if c.Env != nil {
		return nil // guests may not, in this net: refused there, and counted
	}
	o.post(func(l route.Local) { l.Kill(to) })
	return nil
}

func (ln *loopNode) Exists(ctx context.Context, id uint64) (bool, error) {
	o, err := ln.to(id)
	if err != nil {
		return false, err
	}
	ch := make(chan bool, 1)
	o.post(func(l route.Local) { ch <- l.Exists(id) })
	select {
	case ok := <-ch:
		return ok, nil
	case <-ctx.Done():
		return false, ctx.Err()
	}
}

// twoNodes returns two runtimes joined as nodes 1 and 2.
func twoNodes(t *testing.T) (a, b *Runtime, net *loopNet) {
	a, b = newRuntime(t), newRuntime(t)
	net = newLoopNet()
	net.join(t, a, 1)
	net.join(t, b, 2)
	return a, b, net
}

func TestRemoteIDsNameTheirNode(t *testing.T) {
	a, _, _ := twoNodes(t)
	ctx := testCtx(t)
	p, err := a.Environment().SpawnGo(ctx, "idle", blockGo)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Kill()
	if p.ID().Node() != 1 {
		t.Fatalf("id %s names node %d, want 1", p.ID(), p.ID().Node())
	}
	// Both forms of a local id reach the process; another node's id
	// reaches nothing here.
	local := p.ID() & route.LocalMask
	if q, ok := a.Process(local); !ok || q != p {
		t.Fatalf("the id without its node does not find the process")
	}
	if _, ok := a.Process(local | 3<<48); ok {
		t.Fatalf("an id of node 3 found a local process")
	}
}

func TestRemoteSendKeepsOrder(t *testing.T) {
	a, b, _ := twoNodes(t)
	ctx := testCtx(t)
	const n = 1000
	got := make(chan []uint64, 1)
	var senderSeen ProcessID
	recv, err := b.Environment().SpawnGo(ctx, "recv", func(ctx context.Context, s *Self) error {
		var seq []uint64
		for len(seq) < n {
			m, err := s.Receive(ctx)
			if err != nil {
				return err
			}
			senderSeen = ProcessID(m.Sender)
			seq = append(seq, binary.LittleEndian.Uint64(m.Data))
		}
		got <- seq
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	sender, err := a.Environment().SpawnGo(ctx, "send", func(ctx context.Context, s *Self) error {
		for i := range uint64(n) {
			if err := s.Send(recv.ID(), Message{Tag: 1, Data: binary.LittleEndian.AppendUint64(nil, i)}); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if r := wait(t, sender); !r.Normal() {
		t.Fatalf("sender: %v", r)
	}
	select {
	case seq := <-got:
		for i, v := range seq {
			if v != uint64(i) {
				t.Fatalf("message %d carries %d: order lost", i, v)
			}
		}
	case <-time.After(testTimeout):
		t.Fatal("messages did not arrive")
	}
	if senderSeen != sender.ID() {
		t.Fatalf("Sender %s, want %s", senderSeen, sender.ID())
	}
}

func TestRemoteSendErrors(t *testing.T) {
	a, b, _ := twoNodes(t)
	ctx := testCtx(t)
	idle, _ := b.Environment().SpawnGo(ctx, "idle", blockGo)
	defer idle.Kill()
	if err := a.Send(ctx, idle.ID(), Message{Tag: 1, Data: make([]byte, 2<<20)}); !errors.Is(err, route.ErrTooLarge) {
		t.Fatalf("a message over the payload limit: %v, want ErrTooLarge", err)
	}
	if err := a.Send(ctx, idle.ID(), Message{Tag: 1, Handles: []any{1}}); !errors.Is(err, route.ErrHandles) {
		t.Fatalf("a message with handles: %v, want ErrHandles", err)
	}
	if err := a.Send(ctx, ProcessID(route.Qualify(5, 9)), Message{Tag: 1}); !errors.Is(err, ErrNoProcess) || !errors.Is(err, route.ErrNoNode) {
		t.Fatalf("a send to a node that is not there: %v, want ErrNoProcess and ErrNoNode", err)
	}
	if err := a.Send(ctx, idle.ID(), Message{Tag: -5}); !errors.Is(err, ErrReservedTag) {
		t.Fatalf("a negative tag: %v", err)
	}
	// A message to a process that is not there crosses, and is dropped
	// and counted on arrival.
	gone := ProcessID(route.Qualify(1<<40, 2))
	if err := a.Send(ctx, gone, Message{Tag: 1}); err != nil {
		t.Fatalf("a send to a remote id is refused only for what cannot cross: %v", err)
	}
	waitFor(t, testTimeout, "the drop to be counted", func() bool { return b.Stats().RemoteDropped == 1 })
}

func TestRemoteGuestRequestReply(t *testing.T) {
	a, b, _ := twoNodes(t)
	ctx := testCtx(t)
	echo := spawn(t, b.Environment(), load(t, b, "messages", []byte(messagesWAT)), "echo")
	defer echo.Kill()
	// A guest's send_receive round trips to a guest on the other node.
	ping := spawn(t, a.Environment(), load(t, a, "messages", []byte(messagesWAT)), "ping", I64(int64(echo.ID())), I64(50))
	if r := wait(t, ping); !r.Normal() {
		t.Fatalf("ping across nodes: %v", r)
	}
	// And Go's Request does from outside any process.
	reply, err := a.Request(ctx, echo.ID(), Message{Tag: 9, Data: []byte("hi")})
	if err != nil || string(reply.Data) != "hi" {
		t.Fatalf("Request across nodes: %q, %v", reply.Data, err)
	}
}

func TestRemoteRequestFailsWhenTargetEnds(t *testing.T) {
	a, b, _ := twoNodes(t)
	ctx := testCtx(t)
	silent, _ := b.Environment().SpawnGo(ctx, "silent", func(ctx context.Context, s *Self) error {
		_, err := s.Receive(ctx)
		if err != nil {
			return err
		}
		return errors.New("boom")
	})
	_, err := a.Request(ctx, silent.ID(), Message{Tag: 1})
	var rr *RemoteReason
	if !errors.Is(err, ErrNoProcess) || !errors.As(err, &rr) || rr.Kind != abi.ReasonGoError {
		t.Fatalf("request to a remote process that failed: %v, want ErrNoProcess with its remote reason", err)
	}
}

func TestRemoteLinkBothWays(t *testing.T) {
	a, b, _ := twoNodes(t)
	ctx := testCtx(t)
	// A guest on a links to a Go process on b that fails: the guest dies
	// with the remote reason.
	crasher, _ := b.Environment().SpawnGo(ctx, "crasher", func(ctx context.Context, s *Self) error {
		_, err := s.Receive(ctx)
		if err != nil {
			return err
		}
		return errors.New("crashed on purpose")
	})
	msgs := load(t, a, "messages", []byte(messagesWAT))
	linked := spawn(t, a.Environment(), msgs, "linked", I64(int64(crasher.ID())))
	waitFor(t, testTimeout, "the remote end of the link", func() bool { return numRemoteLinks(b, crasher) == 1 })
	if err := a.Send(ctx, crasher.ID(), Message{Tag: 1}); err != nil {
		t.Fatal(err)
	}
	r := wait(t, linked)
	var rr *RemoteReason
	if !errors.As(r, &rr) || rr.Kind != abi.ReasonGoError {
		t.Fatalf("linked guest ended with %v, want the remote go error", r)
	}
	// The other way: a Go process on b traps exits, links to a guest on
	// a that traps.
	exits := make(chan ExitSignal, 1)
	crash := spawn(t, a.Environment(), msgs, "idle")
	trapper, _ := b.Environment().SpawnGo(ctx, "trapper", func(ctx context.Context, s *Self) error {
		s.TrapExit(true)
		if err := s.Link(crash.ID()); err != nil {
			return err
		}
		m, err := s.Receive(ctx, TagExit)
		if err != nil {
			return err
		}
		e, _ := ParseExit(m)
		exits <- e
		return nil
	})
	waitFor(t, testTimeout, "the link", func() bool { return numRemoteLinks(a, crash) == 1 })
	crash.Kill()
	select {
	case e := <-exits:
		if e.From != crash.ID() || e.Reason != Killed {
			t.Fatalf("exit %+v, want from %s reason killed", e, crash.ID())
		}
	case <-time.After(testTimeout):
		t.Fatal("no exit signal across nodes")
	}
	wait(t, trapper)
	if n := numRemoteLinks(a, crash); n != 0 {
		t.Fatalf("%d remote links left", n)
	}
}

func TestRemoteLinkToNoProc(t *testing.T) {
	a, b, _ := twoNodes(t)
	ctx := testCtx(t)
	gone, _ := b.Environment().SpawnGo(ctx, "gone", func(context.Context, *Self) error { return nil })
	wait(t, gone)
	exits := make(chan ExitSignal, 1)
	p, _ := a.Environment().SpawnGo(ctx, "linker", func(ctx context.Context, s *Self) error {
		s.TrapExit(true)
		if err := s.Link(gone.ID()); err != nil {
			return err
		}
		m, err := s.Receive(ctx, TagExit)
		if err != nil {
			return err
		}
		e, _ := ParseExit(m)
		exits <- e
		return nil
	})
	wait(t, p)
	if e := <-exits; e.Reason != NoProc {
		t.Fatalf("link to an ended remote process: %v, want noproc", e.Reason)
	}
}

func TestRemoteMonitorBothWays(t *testing.T) {
	a, b, _ := twoNodes(t)
	ctx := testCtx(t)
	target := spawn(t, b.Environment(), load(t, b, "messages", []byte(messagesWAT)), "crash")
	wait(t, target)
	// A DOWN of an ended remote process says noproc.
	downs := make(chan Down, 4)
	w, _ := a.Environment().SpawnGo(ctx, "watcher", func(ctx context.Context, s *Self) error {
		if _, err := s.Monitor(target.ID()); err != nil {
			return err
		}
		m, err := s.Receive(ctx, TagDown)
		if err != nil {
			return err
		}
		d, _ := ParseDown(m)
		downs <- d
		return nil
	})
	wait(t, w)
	if d := <-downs; d.Reason != NoProc || d.Process != target.ID() {
		t.Fatalf("DOWN %+v, want noproc of %s", d, target.ID())
	}
	// A guest on a monitors a Go process on b: its DOWN carries the reason.
	msgs := load(t, a, "messages", []byte(messagesWAT))
	obs := make(chan Message, 2)
	observer, _ := a.Environment().SpawnGo(ctx, "observer", func(ctx context.Context, s *Self) error {
		for range 2 {
			m, err := s.Receive(ctx)
			if err != nil {
				return err
			}
			obs <- m
		}
		return nil
	})
	victim, _ := b.Environment().SpawnGo(ctx, "victim", blockGo)
	mon := spawn(t, a.Environment(), msgs, "monitorer", I64(int64(victim.ID())), I64(int64(observer.ID())))
	waitFor(t, testTimeout, "two remote monitors", func() bool { return numRemoteWatchers(b, victim) == 2 })
	victim.Kill()
	for range 2 {
		select {
		case m := <-obs:
			// report: [tag i64][ref u64][pid u64][kind u32]...
			if tag := int64(binary.LittleEndian.Uint64(m.Data)); tag != TagDown {
				t.Fatalf("monitorer got tag %d", tag)
			}
			if pid := ProcessID(binary.LittleEndian.Uint64(m.Data[16:])); pid != victim.ID() {
				t.Fatalf("DOWN names %s, want %s", pid, victim.ID())
			}
			if kind := binary.LittleEndian.Uint32(m.Data[24:]); kind != abi.ReasonKilled {
				t.Fatalf("DOWN kind %d, want killed", kind)
			}
		case <-time.After(testTimeout):
			t.Fatal("no DOWN across nodes")
		}
	}
	wait(t, mon)
	// Demonitor: no DOWN comes after it, and the remote end goes.
	v2, _ := b.Environment().SpawnGo(ctx, "v2", blockGo)
	got := make(chan bool, 1)
	w2, _ := a.Environment().SpawnGo(ctx, "w2", func(ctx context.Context, s *Self) error {
		ref, err := s.Monitor(v2.ID())
		if err != nil {
			return err
		}
		s.Demonitor(ref)
		if _, err := s.Receive(ctx, TagNodeDown); err != nil { // sync with the test
			return err
		}
		_, down := s.TryReceive(TagDown)
		got <- down
		return nil
	})
	waitFor(t, testTimeout, "the demonitor to arrive", func() bool { return numRemoteWatchers(b, v2) == 0 })
	v2.Kill()
	wait(t, v2)
	time.Sleep(20 * time.Millisecond) // a DOWN sent by mistake would be queued by now
	a.cluster.Load().NotifyNodeDown(uint64(w2.ID()), 7)
	if <-got {
		t.Fatal("a DOWN arrived after Demonitor")
	}
}

func TestRemoteKillAndExists(t *testing.T) {
	a, b, net := twoNodes(t)
	ctx := testCtx(t)
	victim, _ := b.Environment().SpawnGo(ctx, "victim", blockGo)
	if ok, err := a.Exists(ctx, victim.ID()); !ok || err != nil {
		t.Fatalf("Exists of a live remote process: %v, %v", ok, err)
	}
	// A guest's remote kill carries its environment chain; this net
	// refuses guests, so the victim lives.
	msgs := load(t, a, "messages", []byte(messagesWAT))
	k := spawn(t, a.Environment(), msgs, "kill_pid", I64(int64(victim.ID())))
	wait(t, k)
	net.mu.Lock()
	kills := append([]route.Caller(nil), net.nodes[2].kills...)
	net.mu.Unlock()
	if len(kills) != 1 || kills[0].Node != 1 || len(kills[0].Env) != 1 || kills[0].Env[0] != a.Environment().ID() {
		t.Fatalf("the guest's kill carried %+v, want node 1 and the root environment's id", kills)
	}
	if ok, _ := a.Exists(ctx, victim.ID()); !ok {
		t.Fatal("a refused kill ended the process")
	}
	// Go code may.
	if err := a.Kill(ctx, victim.ID()); err != nil {
		t.Fatal(err)
	}
	if r := wait(t, victim); r != Killed {
		t.Fatalf("victim: %v", r)
	}
	if ok, err := a.Exists(ctx, victim.ID()); ok || err != nil {
		t.Fatalf("Exists of an ended remote process: %v, %v", ok, err)
	}
	// A guest's exists asks the other node.
	live, _ := b.Environment().SpawnGo(ctx, "live", blockGo)
	defer live.Kill()
	e := spawn(t, a.Environment(), msgs, "exists_pid", I64(int64(live.ID())))
	if code := exitCode(t, wait(t, e)); code != 1 {
		t.Fatalf("guest exists of a live remote process: %d", code)
	}
	if err := a.Kill(ctx, ProcessID(route.Qualify(1, 9))); !errors.Is(err, ErrNoProcess) {
		t.Fatalf("kill on a node that is not there: %v", err)
	}
}

func TestNodeDownFiresNoConnection(t *testing.T) {
	a, b, net := twoNodes(t)
	ctx := testCtx(t)
	remote, _ := b.Environment().SpawnGo(ctx, "remote", blockGo)
	msgs := load(t, a, "messages", []byte(messagesWAT))
	linked := spawn(t, a.Environment(), msgs, "linked", I64(int64(remote.ID())))
	downs := make(chan Down, 1)
	watcher, _ := a.Environment().SpawnGo(ctx, "watcher", func(ctx context.Context, s *Self) error {
		if _, err := s.Monitor(remote.ID()); err != nil {
			return err
		}
		m, err := s.Receive(ctx, TagDown)
		if err != nil {
			return err
		}
		d, _ := ParseDown(m)
		downs <- d
		return nil
	})
	reqErr := make(chan error, 1)
	requester, _ := a.Environment().SpawnGo(ctx, "requester", func(ctx context.Context, s *Self) error {
		_, err := s.Request(ctx, remote.ID(), Message{Tag: 1})
		reqErr <- err
		return nil
	})
	waitFor(t, testTimeout, "links and monitors to reach node 2", func() bool {
		return numRemoteLinks(b, remote) == 1 && numRemoteWatchers(b, remote) == 2
	})
	net.crash(2)
	if r := wait(t, linked); r != NoConnection {
		t.Fatalf("linked guest: %v, want noconnection", r)
	}
	if d := <-downs; d.Reason != NoConnection {
		t.Fatalf("monitor: %v, want noconnection", d.Reason)
	}
	wait(t, watcher)
	wait(t, requester)
	if err := <-reqErr; !errors.Is(err, ErrNoProcess) || !errors.Is(err, NoConnection) {
		t.Fatalf("pending request: %v, want ErrNoProcess and NoConnection", err)
	}
	// Node 2 is gone: ids there are unknown.
	if err := a.Send(ctx, remote.ID(), Message{Tag: 1}); !errors.Is(err, ErrNoProcess) {
		t.Fatalf("send to a lost node: %v", err)
	}
}

// numRemoteLinks and numRemoteWatchers count p's ties to other nodes.
func numRemoteLinks(r *Runtime, p *Process) int {
	p.sig.mu.Lock()
	defer p.sig.mu.Unlock()
	return p.remoteLinks()
}

func numRemoteWatchers(r *Runtime, p *Process) int {
	p.sig.mu.Lock()
	defer p.sig.mu.Unlock()
	if t := p.remoteTies(); t != nil {
		return len(t.watchers)
	}
	return 0
}

func TestRemoteTiesAreChargedAndGiveBack(t *testing.T) {
	a, b, net := twoNodes(t)
	ctx := testCtx(t)
	remote, _ := b.Environment().SpawnGo(ctx, "remote", blockGo)
	env := childEnv(t, a.Environment(), environment.Config{})
	step := make(chan string)
	next := make(chan struct{})
	p, err := env.SpawnGo(ctx, "tied", func(ctx context.Context, s *Self) error {
		s.TrapExit(true)
		<-next
		if err := s.Link(remote.ID()); err != nil {
			return err
		}
		if _, err := s.Monitor(remote.ID()); err != nil {
			return err
		}
		step <- "tied"
		for range 2 { // the exit and the DOWN of the lost node
			if _, err := s.Receive(ctx, TagExit, TagDown); err != nil {
				return err
			}
		}
		step <- "cut"
		<-ctx.Done()
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Kill()
	before := env.MemoryInUse()
	next <- struct{}{}
	<-step
	if got := env.MemoryInUse() - before; got != 2*signalEntryCost {
		t.Fatalf("a remote link and monitor charge %d bytes, want %d", got, 2*signalEntryCost)
	}
	net.crash(2)
	<-step
	if got := env.MemoryInUse(); got != before {
		t.Fatalf("after the node went: %d bytes in use, want %d as before the ties", got, before)
	}
}
