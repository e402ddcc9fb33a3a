package cluster

import (
	"context"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/wardrt/ward/cluster/embed"
	"github.com/wardrt/ward/runtime"
)

// The shared helpers of the cluster tests: real runtimes joined on one
// embedded server over in-process connections.

// testTimeout guards against hangs only; nothing asserts a speed.
const testTimeout = 20 * time.Second

func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// newTestRuntime returns a runtime closed when the test ends.
func newTestRuntime(t *testing.T) *runtime.Runtime {
	t.Helper()
	rt, err := runtime.New(runtime.WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil))))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := rt.Close(ctx); err != nil {
			t.Errorf("closing a runtime: %v", err)
		}
	})
	return rt
}

// startCluster starts an embedded server and n runtimes joined to it as
// nodes (cluster "t", test heartbeats), each seeing all the others up.
// Every node leaves, and its runtime closes, when the test ends.
func startCluster(t *testing.T, n int) (*embed.Server, []*Node) {
	t.Helper()
	srv, creds, _ := startServer(t, n, false)
	nodes := make([]*Node, n)
	for i := range nodes {
		nodes[i] = joinNode(t, srv, creds[i])
	}
	awaitMesh(t, nodes)
	return srv, nodes
}

// joinNode joins a fresh runtime to srv's cluster as cred.
func joinNode(t *testing.T, srv *embed.Server, cred embed.Cred) *Node {
	t.Helper()
	nc, err := srv.Connect(cred)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	rt := newTestRuntime(t)
	cfg := testConfig(nc)
	cfg.Seed = cred.Seed()
	nd, err := Join(testCtx(t), rt, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nd.Leave(context.Background()) })
	return nd
}

// recv receives one message within the hang guard.
func recv(t *testing.T, ch <-chan runtime.Message) runtime.Message {
	t.Helper()
	select {
	case m := <-ch:
		return m
	case <-time.After(testTimeout):
		t.Fatal("no message")
	}
	return runtime.Message{}
}

// collector spawns a Go process on n that puts every message it gets on
// the returned channel; it traps exits, so linked ends arrive as messages.
func collector(t *testing.T, n *Node) (*runtime.Process, chan runtime.Message) {
	t.Helper()
	ch := make(chan runtime.Message, 1024)
	p, err := n.rt.Environment().SpawnGo(testCtx(t), "collector", func(ctx context.Context, s *runtime.Self) error {
		s.TrapExit(true)
		for {
			m, err := s.Receive(ctx)
			if err != nil {
				return err
			}
			ch <- m
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Kill)
	return p, ch
}

// waitEnd waits for p to end and returns its reason.
func waitEnd(t *testing.T, p *runtime.Process) runtime.Reason {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	r, err := p.Wait(ctx)
	if err != nil {
		t.Fatalf("process %s did not end: %v", p.ID(), err)
	}
	return r
}
