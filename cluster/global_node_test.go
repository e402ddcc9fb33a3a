package cluster

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/wardrt/ward/internal/route"
	"github.com/wardrt/ward/runtime"
	"github.com/wardrt/ward/testdata"
)

// TestGlobalOnJoinedNodes runs the registry as Join starts it, on three
// nodes with real runtimes: a name registered on one node resolves on
// another to an id that a message reaches, GetOrSpawn spawns once, and a
// node that leaves takes its names with it.
func TestGlobalOnJoinedNodes(t *testing.T) {
	_, nodes := startCluster(t, 3)
	ctx := testCtx(t)
	for _, n := range nodes {
		if n.Global() == nil {
			t.Fatalf("node %d has no global registry", n.ID())
		}
	}
	n1, n2, n3 := nodes[0], nodes[1], nodes[2]
	got := make(chan runtime.Message, 1)
	p, err := n1.rt.Environment().SpawnGo(ctx, "named", func(ctx context.Context, s *runtime.Self) error {
		m, err := s.Receive(ctx)
		if err == nil {
			got <- m
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := n1.Global().Register(ctx, "svc", "1.2.0", p.ID()); err != nil {
		t.Fatal(err)
	}
	want := runtime.ProcessID(route.Qualify(uint64(p.ID()), n1.ID()))
	globalEventually(t, "node 2 sees svc", func() bool {
		pid, _, err := n2.Global().Lookup(ctx, "svc", "^1")
		return err == nil && pid == want
	})
	pid, _, _ := n2.Global().Lookup(ctx, "svc", "^1")
	if err := n2.rt.Send(ctx, pid, runtime.Message{Tag: 7, Data: []byte("hi")}); err != nil {
		t.Fatalf("send to a looked-up remote id: %v", err)
	}
	if m := recv(t, got); string(m.Data) != "hi" {
		t.Fatalf("got %q", m.Data)
	}
	globalEventually(t, "svc goes with its process", func() bool {
		_, _, err := n3.Global().Lookup(ctx, "svc", "^1")
		return errors.Is(err, ErrNameNotFound)
	})

	spawned := 0
	var first runtime.ProcessID
	for i, n := range nodes {
		m, err := n.rt.LoadModule(ctx, "procs", testdata.Procs)
		if err != nil {
			t.Fatal(err)
		}
		pid, did, err := n.Global().GetOrSpawn(ctx, "one", "1.0.0", nil, m, "sleep_forever")
		if err != nil {
			t.Fatal(err)
		}
		if did {
			spawned++
		}
		if i == 0 {
			first = pid
		} else if pid != first {
			t.Fatalf("node %d got %d, node 1 got %d", n.ID(), pid, first)
		}
	}
	if spawned != 1 {
		t.Fatalf("%d spawns", spawned)
	}

	// Node 3 leaves: the others drop its names.
	q, err := n3.rt.Environment().SpawnGo(ctx, "on3", func(ctx context.Context, s *runtime.Self) error {
		<-ctx.Done()
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := n3.Global().Register(ctx, "on3", "1.0.0", q.ID()); err != nil {
		t.Fatal(err)
	}
	globalEventually(t, "node 1 sees on3", func() bool {
		_, _, err := n1.Global().Lookup(ctx, "on3", "")
		return err == nil
	})
	if err := n3.Leave(ctx); err != nil {
		t.Fatal(err)
	}
	for _, n := range nodes[:2] {
		globalEventually(t, fmt.Sprintf("node %d drops the names of node 3, which left", n.ID()), func() bool {
			_, _, err := n.Global().Lookup(ctx, "on3", "")
			return errors.Is(err, ErrNameNotFound)
		})
	}
}
