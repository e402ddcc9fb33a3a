package cluster

import (
	"context"
	"errors"
	"os"
	"testing"
	"time"

	"github.com/wardrt/ward/runtime"
)

// TestGlobalCrashedNode: the names of a node killed with SIGKILL (a child
// OS process, see startCrashChild) go from
// the survivors' registry after the detection time, and the name can be
// taken again.
func TestGlobalCrashedNode(t *testing.T) {
	if url := os.Getenv(crashChildEnv); url != "" {
		globalCrashChild(t, url, os.Getenv(crashSeedEnv))
		return
	}
	srv, creds, _ := startServer(t, 2, true)
	ctx := testCtx(t)
	parent := joinNodeWith(t, srv, creds[0], crashInterval, crashMisses)

	cmd, remote := startCrashChild(t, srv, creds[1], "TestGlobalCrashedNode")
	g := parent.Global()
	globalEventually(t, "the parent sees the child's name", func() bool {
		pid, _, err := g.Lookup(ctx, "crashy", "^1")
		return err == nil && pid == remote
	})

	killed := time.Now()
	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	globalEventually(t, "the killed node's name goes", func() bool {
		_, _, err := g.Lookup(ctx, "crashy", "^1")
		return errors.Is(err, ErrNameNotFound)
	})
	t.Logf("SIGKILL to the name gone: %v (detection time %v)", time.Since(killed).Round(time.Millisecond), crashInterval*(crashMisses+1))
	p, err := parent.rt.Environment().SpawnGo(ctx, "heir", func(ctx context.Context, s *runtime.Self) error {
		<-ctx.Done()
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Kill()
	if err := g.Register(ctx, "crashy", "1.0.0", p.ID()); err != nil {
		t.Fatalf("the name is not free again: %v", err)
	}
}

// globalCrashChild is the child's side: join, register, wait to be killed.
func globalCrashChild(t *testing.T, url, seed string) {
	n := joinCrashChild(t, url, seed)
	ctx := testCtx(t)
	p, err := n.rt.Environment().SpawnGo(ctx, "named", func(ctx context.Context, s *runtime.Self) error {
		_, err := s.Receive(ctx)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := n.Global().Register(ctx, "crashy", "1.0.0", p.ID()); err != nil {
		t.Fatal(err)
	}
	pid, _, err := n.Global().Lookup(ctx, "crashy", "1.0.0")
	if err != nil {
		t.Fatal(err)
	}
	crashChildReady(t, pid)
}
