package cluster

import (
	"bufio"
	"context"
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

// The crash tests' node in another OS process: this test binary run again
// with crashChildEnv set, as runtime/childproc_test.go does for hostile
// guests. The child joins over loopback TCP (joinCrashChild), prints the
// id of a process the parent can tie to, and waits to be SIGKILLed
// (crashChildReady); startCrashChild is the parent's side.
const (
	crashChildEnv  = "WARD_CLUSTER_CRASH_CHILD" // the server's URL
	crashSeedEnv   = "WARD_CLUSTER_CRASH_SEED"
	crashPIDPrefix = "WARD_CRASH_CHILD_PID="
	crashInterval  = 50 * time.Millisecond
	crashMisses    = 6
)

// TestCrashedNode: a node in a child process is SIGKILLed; the parent's
// links fire exit noconnection, its monitors DOWN noconnection and its node
// monitor a node-down message, within the configured detection time
// (HeartbeatMisses intervals and a quarter, with slack for a loaded
// machine), and nothing hangs.
func TestCrashedNode(t *testing.T) {
	if url := os.Getenv(crashChildEnv); url != "" {
		crashChild(t, url, os.Getenv(crashSeedEnv))
		return
	}
	srv, creds, _ := startServer(t, 2, true)
	ctx := testCtx(t)
	parent := joinNodeWith(t, srv, creds[0], crashInterval, crashMisses)

	cmd, remote := startCrashChild(t, srv, creds[1], "TestCrashedNode")
	child := remote.Node()
	deadline := time.Now().Add(testTimeout)
	for !isUp(parent, child) {
		if time.Now().After(deadline) {
			t.Fatalf("the parent does not see the child's node %d: %+v", child, parent.Nodes())
		}
		time.Sleep(2 * time.Millisecond)
	}

	linked := make(chan error, 1)
	trapped := make(chan runtime.Message, 1)
	trapper, err := parent.rt.Environment().SpawnGo(ctx, "trapper", func(ctx context.Context, s *runtime.Self) error {
		s.TrapExit(true)
		linked <- s.Link(remote)
		m, err := s.Receive(ctx)
		trapped <- m
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	defer trapper.Kill()
	if err := <-linked; err != nil {
		t.Fatal(err)
	}
	_, down, err := monitorFrom(t, parent, remote)
	if err != nil {
		t.Fatal(err)
	}
	nm, nodemon := collector(t, parent)
	parent.MonitorNode(nm.ID(), child)
	if ok, err := parent.rt.Exists(ctx, remote); err != nil || !ok {
		t.Fatalf("Exists(remote) = %v, %v", ok, err)
	}

	killed := time.Now()
	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	ex, ok := runtime.ParseExit(recv(t, trapped))
	linkAt := time.Since(killed)
	if !ok || ex.Reason != runtime.NoConnection || ex.From != remote {
		t.Fatalf("link: %+v, want exit noconnection from %s", ex, remote)
	}
	if d, ok := runtime.ParseDown(recv(t, down)); !ok || d.Reason != runtime.NoConnection {
		t.Fatalf("monitor: %+v, want DOWN noconnection", d)
	}
	if n, ok := runtime.ParseNodeDown(recv(t, nodemon)); !ok || n != child {
		t.Fatalf("node monitor: %d, %v", n, ok)
	}
	detection := crashInterval*crashMisses + crashInterval/checksPerBeat
	t.Logf("SIGKILL to noconnection: %v (detection time %v)", linkAt, detection)
	// The bound is the protocol's; the slack is for a loaded 2-core
	// machine running -race, not a speed target.
	if linkAt > detection+2*time.Second {
		t.Fatalf("noconnection came %v after the SIGKILL; the detection time is %v", linkAt, detection)
	}
	if d := parent.Stats().Downs; d.Heartbeat != 1 {
		t.Fatalf("downs %+v, want one by heartbeats", d)
	}
}

// crashChild is the child's side: join, offer a process, wait for the end.
func crashChild(t *testing.T, url, seed string) {
	n := joinCrashChild(t, url, seed)
	p, err := n.rt.Environment().SpawnGo(testCtx(t), "idle", func(ctx context.Context, s *runtime.Self) error {
		_, err := s.Receive(ctx)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	crashChildReady(t, p.ID())
}

// startCrashChild runs this test binary again, running test alone, as a
// node joined to srv with cred in another OS process, and returns its
// command and the process id it offers once ready. The test's cleanup
// kills the child and waits for it.
func startCrashChild(t *testing.T, srv *embed.Server, cred embed.Cred, test string) (*exec.Cmd, runtime.ProcessID) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^"+test+"$", "-test.count=1", "-test.timeout=120s")
	cmd.Env = append(os.Environ(), crashChildEnv+"="+srv.ClientURL(), crashSeedEnv+"="+string(cred.Seed()))
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	pidc := make(chan runtime.ProcessID, 1)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			if s, ok := strings.CutPrefix(sc.Text(), crashPIDPrefix); ok {
				v, _ := strconv.ParseUint(s, 10, 64)
				pidc <- runtime.ProcessID(v)
			}
		}
		io.Copy(io.Discard, out)
		exited <- cmd.Wait()
	}()
	t.Cleanup(func() {
		cmd.Process.Kill()
		select {
		case <-exited:
		case <-time.After(testTimeout):
			t.Error("the child did not exit")
		}
	})
	select {
	case pid := <-pidc:
		return cmd, pid
	case err := <-exited:
		t.Fatalf("the child ended before it was ready: %v", err)
	case <-time.After(60 * time.Second):
		t.Fatal("the child was not ready within a minute")
	}
	return nil, 0
}

// joinCrashChild is the child's side of startCrashChild: it joins the
// server at url as the node of seed, with the crash tests' heartbeat.
func joinCrashChild(t *testing.T, url, seed string) *Node {
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
	cfg := Config{Conn: nc, Cluster: "t", Seed: cred.Seed(), HeartbeatInterval: crashInterval, HeartbeatMisses: crashMisses}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	n, err := Join(ctx, rt, cfg)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// crashChildReady tells the parent the child is ready, offering pid, and
// waits to be killed.
func crashChildReady(t *testing.T, pid runtime.ProcessID) {
	fmt.Printf("%s%d\n", crashPIDPrefix, pid)
	// The parent kills this process; the wait is a guard against a
	// parent that died first.
	time.Sleep(90 * time.Second)
	t.Fatal("the parent never killed the child")
}

// joinNodeWith is joinNode with its own heartbeat setting.
func joinNodeWith(t *testing.T, srv *embed.Server, cred embed.Cred, interval time.Duration, misses int) *Node {
	t.Helper()
	nc, err := srv.Connect(cred)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	rt := newTestRuntime(t)
	cfg := Config{Conn: nc, Cluster: "t", Seed: cred.Seed(), HeartbeatInterval: interval, HeartbeatMisses: misses}
	nd, err := Join(testCtx(t), rt, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nd.Leave(context.Background()) })
	return nd
}
