package standalone_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/wardrt/ward/cluster"
	"github.com/wardrt/ward/cluster/embed"
	"github.com/wardrt/ward/cluster/standalone"
	"github.com/wardrt/ward/runtime"
)

func newRuntime(t *testing.T) *runtime.Runtime {
	t.Helper()
	rt, err := runtime.New(runtime.WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil))))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		rt.Close(ctx)
	})
	return rt
}

func TestJoinWithoutNATS(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	a, b := newRuntime(t), newRuntime(t)
	first, err := standalone.Join(ctx, a, cluster.Config{Storage: jetstream.MemoryStorage}, embed.Options{}, 2)
	if err != nil {
		t.Fatal(err)
	}
	second, err := first.Join(ctx, b)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := first.Join(ctx, newRuntime(t)); !errors.Is(err, standalone.ErrNoCredentials) {
		t.Fatalf("a third node on a server made for two: %v", err)
	}
	echo, err := b.Environment().SpawnGo(ctx, "echo", func(ctx context.Context, s *runtime.Self) error {
		m, err := s.Receive(ctx)
		if err != nil {
			return err
		}
		return s.Reply(m, runtime.Message{Data: m.Data})
	})
	if err != nil {
		t.Fatal(err)
	}
	if echo.ID().Node() != second.ID() || second.ID() == first.ID() {
		t.Fatalf("nodes %d and %d, echo on %d", first.ID(), second.ID(), echo.ID().Node())
	}
	reply, err := a.Request(ctx, echo.ID(), runtime.Message{Tag: 1, Data: []byte("across")})
	if err != nil || string(reply.Data) != "across" {
		t.Fatalf("request across the standalone cluster: %q, %v", reply.Data, err)
	}
	if err := second.Leave(ctx); err != nil {
		t.Fatal(err)
	}
	if err := first.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := standalone.Join(ctx, a, cluster.Config{Conn: nil, Seed: []byte("x")}, embed.Options{}, 1); !errors.Is(err, cluster.ErrConfig) {
		t.Fatalf("a Seed given to standalone.Join: %v", err)
	}
}
