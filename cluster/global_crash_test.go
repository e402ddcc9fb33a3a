package cluster

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/wardrt/ward/cluster/embed"
	"github.com/wardrt/ward/runtime"
)

// The global registry's crash test: a node in a child OS process (this
// test binary run again) registers a name and is SIGKILLed; the survivor
// drops the name once it finds the node lost.
const (
	globalCrashEnv    = "WARD_GLOBAL_CRASH_CHILD" // the server's URL
	globalCrashSeed   = "WARD_GLOBAL_CRASH_SEED"
	globalCrashReady  = "WARD_GLOBAL_CRASH_READY="
	globalCrashPeriod = 50 * time.Millisecond
	globalCrashMisses = 6
)

// TestGlobalCrashedNode: the names of a node killed with SIGKILL go from
// the survivors' registry after the detection time, and the name can be
// taken again.
func TestGlobalCrashedNode(t *testing.T) {
	if url := os.Getenv(globalCrashEnv); url != "" {
		globalCrashChild(t, url, os.Getenv(globalCrashSeed))
		return
	}
	srv, creds, _ := startServer(t, 2, true)
	ctx := testCtx(t)
	parent := joinNodeWith(t, srv, creds[0], globalCrashPeriod, globalCrashMisses)

	cmd := exec.Command(os.Args[0], "-test.run=^TestGlobalCrashedNode$", "-test.count=1", "-test.timeout=120s")
	cmd.Env = append(os.Environ(), globalCrashEnv+"="+srv.ClientURL(), globalCrashSeed+"="+string(creds[1].Seed()))
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	ready := make(chan runtime.ProcessID, 1)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			if s, ok := strings.CutPrefix(sc.Text(), globalCrashReady); ok {
				v, _ := strconv.ParseUint(s, 10, 64)
				ready <- runtime.ProcessID(v)
			}
		}
		_, _ = io.Copy(io.Discard, out)
		exited <- cmd.Wait()
	}()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		select {
		case <-exited:
		case <-time.After(testTimeout):
			t.Error("the child did not exit")
		}
	})
	var remote runtime.ProcessID
	select {
	case remote = <-ready:
	case err := <-exited:
		t.Fatalf("the child ended before registering: %v", err)
	case <-time.After(60 * time.Second):
		t.Fatal("the child did not register")
	}
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
	t.Logf("SIGKILL to the name gone: %v (detection time %v)", time.Since(killed).Round(time.Millisecond), globalCrashPeriod*(globalCrashMisses+1))
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
	cred, err := embed.CredFromSeed([]byte(seed))
	if err != nil {
		t.Fatal(err)
	}
	nc, err := nats.Connect(url, cred.Option())
	if err != nil {
		t.Fatal(err)
	}
	rt, err := runtime.New(runtime.WithLogger(slog.New(slog.DiscardHandler)))
	if err != nil {
		t.Fatal(err)
	}
	cfg := Config{Conn: nc, Cluster: "t", Seed: cred.Seed(), HeartbeatInterval: globalCrashPeriod, HeartbeatMisses: globalCrashMisses}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	n, err := Join(ctx, rt, cfg)
	if err != nil {
		t.Fatal(err)
	}
	p, err := rt.Environment().SpawnGo(ctx, "named", func(ctx context.Context, s *runtime.Self) error {
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
	fmt.Printf("%s%d\n", globalCrashReady, pid)
	// The parent kills this process; the wait guards against a parent
	// that died first.
	time.Sleep(90 * time.Second)
	t.Fatal("the parent never killed the child")
}
