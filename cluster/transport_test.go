package cluster

import (
	"context"
	"encoding/binary"
	"errors"
	"strings"
	"testing"

	"github.com/wardrt/ward/internal/route"
	"github.com/wardrt/ward/runtime"
)

// Three nodes: ids name their node, and every node sees the others.
func TestClusterJoin(t *testing.T) {
	_, nodes := startCluster(t, 3)
	for _, n := range nodes {
		p, _ := collector(t, n)
		if p.ID().Node() != n.ID() {
			t.Fatalf("a process of node %d has id %s (node %d)", n.ID(), p.ID(), p.ID().Node())
		}
		if len(n.Nodes()) != 3 {
			t.Fatalf("node %d: %+v", n.ID(), n.Nodes())
		}
	}
}

// 1000 messages from a process on one node to one on another arrive in
// the order sent, with their sender.
func TestRemoteSendOrder(t *testing.T) {
	_, nodes := startCluster(t, 3)
	a, b := nodes[0], nodes[2]
	dst, got := collector(t, b)
	const n = 1000
	src, err := a.rt.Environment().SpawnGo(testCtx(t), "sender", func(ctx context.Context, s *runtime.Self) error {
		for i := range uint64(n) {
			if err := s.Send(dst.ID(), runtime.Message{Tag: 4, Data: binary.LittleEndian.AppendUint64(nil, i)}); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if r := waitEnd(t, src); !r.Normal() {
		t.Fatalf("sender: %v", r)
	}
	for i := range uint64(n) {
		m := recv(t, got)
		if v := binary.LittleEndian.Uint64(m.Data); v != i || m.Tag != 4 || runtime.ProcessID(m.Sender) != src.ID() {
			t.Fatalf("message %d: tag %d, data %d, sender %d", i, m.Tag, v, m.Sender)
		}
	}
}

// Request/reply across nodes: Go to Go, and guest to guest.
func TestRemoteRequestReply(t *testing.T) {
	_, nodes := startCluster(t, 3)
	a, b := nodes[0], nodes[1]
	ctx := testCtx(t)
	echo, err := b.rt.Environment().SpawnGo(ctx, "echo", func(ctx context.Context, s *runtime.Self) error {
		for {
			m, err := s.Receive(ctx)
			if err != nil {
				return err
			}
			s.Reply(m, runtime.Message{Tag: m.Tag, Data: append([]byte("re: "), m.Data...)})
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	defer echo.Kill()
	rep, err := a.rt.Request(ctx, echo.ID(), runtime.Message{Tag: 3, Data: []byte("hi")})
	if err != nil || string(rep.Data) != "re: hi" {
		t.Fatalf("Go request across nodes: %q, %v", rep.Data, err)
	}

	mb, err := b.rt.LoadModule(ctx, "guest", []byte(guestWAT))
	if err != nil {
		t.Fatal(err)
	}
	ma, err := a.rt.LoadModule(ctx, "guest", []byte(guestWAT))
	if err != nil {
		t.Fatal(err)
	}
	gecho, err := b.rt.Environment().Spawn(ctx, mb, "echo")
	if err != nil {
		t.Fatal(err)
	}
	defer gecho.Kill()
	ping, err := a.rt.Environment().Spawn(ctx, ma, "ping", runtime.I64(int64(gecho.ID())), runtime.I64(100))
	if err != nil {
		t.Fatal(err)
	}
	if r := waitEnd(t, ping); !r.Normal() {
		t.Fatalf("guest ping across nodes: %v", r)
	}
	// And Go asks the guest.
	rep, err = a.rt.Request(ctx, gecho.ID(), runtime.Message{Tag: 5, Data: []byte("x")})
	if err != nil || string(rep.Data) != "x" {
		t.Fatalf("Go request to a remote guest: %q, %v", rep.Data, err)
	}
}

// Links across nodes, made from either side: the end of one process
// reaches its linked peer on the other node with its reason; a process
// that does not trap exits dies of its remote peer's abnormal end.
func TestRemoteLinkBothWays(t *testing.T) {
	_, nodes := startCluster(t, 2)
	for _, dir := range []struct {
		name       string
		here, peer *Node
	}{{"a-b", nodes[0], nodes[1]}, {"b-a", nodes[1], nodes[0]}} {
		t.Run(dir.name, func(t *testing.T) {
			ctx := testCtx(t)
			release := make(chan struct{})
			peer, err := dir.peer.rt.Environment().SpawnGo(ctx, "peer", func(ctx context.Context, s *runtime.Self) error {
				<-release
				return errors.New("peer failed")
			})
			if err != nil {
				t.Fatal(err)
			}
			linked := make(chan error, 2)
			trapped := make(chan runtime.Message, 1)
			trapper, err := dir.here.rt.Environment().SpawnGo(ctx, "trapper", func(ctx context.Context, s *runtime.Self) error {
				s.TrapExit(true)
				linked <- s.Link(peer.ID())
				m, err := s.Receive(ctx)
				trapped <- m
				return err
			})
			if err != nil {
				t.Fatal(err)
			}
			defer trapper.Kill()
			plain, err := dir.here.rt.Environment().SpawnGo(ctx, "plain", func(ctx context.Context, s *runtime.Self) error {
				linked <- s.Link(peer.ID())
				_, err := s.Receive(ctx)
				return err
			})
			if err != nil {
				t.Fatal(err)
			}
			for range 2 {
				if err := <-linked; err != nil {
					t.Fatal(err)
				}
			}
			// Links are entered on the peer's node in order with later
			// frames; a round trip makes sure they are in before the end.
			if ok, err := dir.here.rt.Exists(ctx, peer.ID()); err != nil || !ok {
				t.Fatalf("Exists(peer) = %v, %v", ok, err)
			}
			close(release)
			m := recv(t, trapped)
			ex, ok := runtime.ParseExit(m)
			if !ok || ex.From != peer.ID() || ex.Reason.Normal() {
				t.Fatalf("trapped exit: %+v, %+v", m, ex)
			}
			var rr *runtime.RemoteReason
			if !errors.As(ex.Reason, &rr) || !strings.Contains(rr.Text, "peer failed") {
				t.Fatalf("reason %T %v, want a RemoteReason saying why", ex.Reason, ex.Reason)
			}
			if r := waitEnd(t, plain); r.Normal() {
				t.Fatalf("the linked process that does not trap exits ended %v", r)
			}
		})
	}
}

// Monitors across nodes, from either side: DOWN with the remote reason
// (killed here), and DOWN noproc at once for a process that is not alive.
func TestRemoteMonitorBothWays(t *testing.T) {
	_, nodes := startCluster(t, 2)
	for _, dir := range []struct {
		name       string
		here, peer *Node
	}{{"a-b", nodes[0], nodes[1]}, {"b-a", nodes[1], nodes[0]}} {
		t.Run(dir.name, func(t *testing.T) {
			ctx := testCtx(t)
			target, _ := collector(t, dir.peer)
			ref, got, err := monitorFrom(t, dir.here, target.ID())
			if err != nil {
				t.Fatal(err)
			}
			if err := dir.here.rt.Kill(ctx, target.ID()); err != nil {
				t.Fatal(err)
			}
			d, ok := runtime.ParseDown(recv(t, got))
			if !ok || d.Ref != ref || d.Process != target.ID() || d.Reason != runtime.Killed {
				t.Fatalf("DOWN %+v, want ref %d, process %s, killed", d, ref, target.ID())
			}
			waitEnd(t, target)
			_, got, err = monitorFrom(t, dir.here, target.ID())
			if err != nil {
				t.Fatal(err)
			}
			d, ok = runtime.ParseDown(recv(t, got))
			if !ok || d.Reason != runtime.NoProc {
				t.Fatalf("DOWN of a dead remote process: %+v, want noproc", d)
			}
		})
	}
}

// monitorFrom spawns a process on n that monitors target and hands the
// DOWN it gets to the returned channel.
func monitorFrom(t *testing.T, n *Node, target runtime.ProcessID) (runtime.MonitorRef, <-chan runtime.Message, error) {
	t.Helper()
	refc := make(chan runtime.MonitorRef, 1)
	errc := make(chan error, 1)
	downs := make(chan runtime.Message, 1)
	h, err := n.rt.Environment().SpawnGo(testCtx(t), "monitorer", func(ctx context.Context, s *runtime.Self) error {
		ref, err := s.Monitor(target)
		if err != nil {
			errc <- err
			return err
		}
		refc <- ref
		m, err := s.Receive(ctx, runtime.TagDown)
		if err != nil {
			return err
		}
		downs <- m
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(h.Kill)
	select {
	case ref := <-refc:
		return ref, downs, nil
	case err := <-errc:
		return 0, nil, err
	}
}

// Kill across nodes: from Go (runtime.Kill), and Exists before and after,
// from Go and from a guest.
func TestRemoteKillAndExists(t *testing.T) {
	_, nodes := startCluster(t, 3)
	a, c := nodes[0], nodes[2]
	ctx := testCtx(t)
	target, _ := collector(t, c)
	if ok, err := a.rt.Exists(ctx, target.ID()); err != nil || !ok {
		t.Fatalf("Exists before: %v, %v", ok, err)
	}
	m, err := a.rt.LoadModule(ctx, "guest", []byte(guestWAT))
	if err != nil {
		t.Fatal(err)
	}
	g, err := a.rt.Environment().Spawn(ctx, m, "exists_pid", runtime.I64(int64(target.ID())))
	if err != nil {
		t.Fatal(err)
	}
	if r := waitEnd(t, g); !isExitCode(r, 1) {
		t.Fatalf("a guest's exists of a live remote process: %v, want exit 1", r)
	}
	if err := a.rt.Kill(ctx, target.ID()); err != nil {
		t.Fatal(err)
	}
	if r := waitEnd(t, target); r != runtime.Killed {
		t.Fatalf("killed remotely: %v", r)
	}
	if ok, err := a.rt.Exists(ctx, target.ID()); err != nil || ok {
		t.Fatalf("Exists after: %v, %v", ok, err)
	}
	g, err = a.rt.Environment().Spawn(ctx, m, "exists_pid", runtime.I64(int64(target.ID())))
	if err != nil {
		t.Fatal(err)
	}
	if r := waitEnd(t, g); !r.Normal() {
		t.Fatalf("a guest's exists of a dead remote process: %v, want exit 0", r)
	}
	if ok, err := a.rt.Exists(ctx, runtime.ProcessID(route.Qualify(1, 999))); err != nil || ok {
		t.Fatalf("Exists on a node that is not there: %v, %v", ok, err)
	}
}

func isExitCode(r runtime.Reason, code int) bool {
	var e *runtime.ExitError
	return errors.As(r, &e) && e.Code == code
}

// What cannot cross says so: a message over NATS's payload limit, and
// handles (Go values).
func TestRemoteSendLimits(t *testing.T) {
	_, nodes := startCluster(t, 2)
	a, b := nodes[0], nodes[1]
	ctx := testCtx(t)
	dst, got := collector(t, b)
	big := make([]byte, a.nc.MaxPayload()+1)
	if err := a.rt.Send(ctx, dst.ID(), runtime.Message{Tag: 1, Data: big}); !errors.Is(err, route.ErrTooLarge) {
		t.Fatalf("a message over the payload limit: %v, want ErrTooLarge", err)
	}
	if err := a.rt.Send(ctx, dst.ID(), runtime.Message{Tag: 1, Handles: []any{1}}); !errors.Is(err, route.ErrHandles) {
		t.Fatalf("a message with handles: %v, want ErrHandles", err)
	}
	// The refused sends used no sequence number: the session goes on.
	if err := a.rt.Send(ctx, dst.ID(), runtime.Message{Tag: 1, Data: []byte("ok")}); err != nil {
		t.Fatal(err)
	}
	if m := recv(t, got); string(m.Data) != "ok" {
		t.Fatalf("got %q", m.Data)
	}
	if d := b.Stats().Downs; d != (Downs{}) {
		t.Fatalf("downs %+v", d)
	}
}
