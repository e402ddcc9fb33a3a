package cluster

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/wardrt/ward/runtime"
)

var globalRouted = flag.Bool("cluster.routed", false, "run the global registry's test on three routed nats-servers with an R3 bucket, killing its leader (slow: elections take 5-9 s)")

// freePorts returns n loopback ports free a moment ago: a routed cluster
// needs its ports known before its servers start.
func globalFreePorts(tb testing.TB, n int) []int {
	tb.Helper()
	ports := make([]int, n)
	for i := range ports {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			tb.Fatal(err)
		}
		ports[i] = l.Addr().(*net.TCPAddr).Port
		defer l.Close()
	}
	return ports
}

// routedServerEnv carries a child server's settings: name, client port,
// cluster port, routes and store directory, separated by spaces.
const routedServerEnv = "WARD_GLOBAL_ROUTED_SERVER"

// TestGlobalRoutedServer is not a test: it is how startRouted runs one
// nats-server in a child process, the test binary re-run, so that the
// server can be killed with SIGKILL as a crashed machine would be.
func TestGlobalRoutedServer(t *testing.T) {
	cfg := os.Getenv(routedServerEnv)
	if cfg == "" {
		t.Skip("run by TestGlobalRoutedLeaderLoss as a child process")
	}
	f := strings.Fields(cfg)
	client, _ := strconv.Atoi(f[1])
	cluster, _ := strconv.Atoi(f[2])
	o := &server.Options{
		ServerName: f[0],
		Host:       "127.0.0.1",
		Port:       client,
		JetStream:  true,
		StoreDir:   f[4],
		NoSigs:     true,
		NoLog:      true,
		Routes:     server.RoutesFromStr(f[3]),
	}
	o.Cluster.Name = "ward-global-test"
	o.Cluster.Host = "127.0.0.1"
	o.Cluster.Port = cluster
	s, err := server.NewServer(o)
	if err != nil {
		t.Fatal(err)
	}
	go s.Start()
	if !s.ReadyForConnections(20 * time.Second) {
		t.Fatal("not ready")
	}
	// Until the parent kills this process, or goes itself.
	_, _ = io.Copy(io.Discard, os.Stdin)
	s.Shutdown()
}

// startRouted starts three JetStream servers, each a child process,
// routed to each other on loopback, and returns their names, client URLs
// and processes.
func startGlobalRouted(tb testing.TB) ([]string, []string, []*exec.Cmd) {
	tb.Helper()
	ports := globalFreePorts(tb, 6)
	var routes []string
	for i := range 3 {
		routes = append(routes, fmt.Sprintf("nats-route://127.0.0.1:%d", ports[3+i]))
	}
	names := make([]string, 3)
	urls := make([]string, 3)
	cmds := make([]*exec.Cmd, 3)
	for i := range cmds {
		names[i] = fmt.Sprintf("s%d", i+1)
		urls[i] = fmt.Sprintf("nats://127.0.0.1:%d", ports[i])
		cmd := exec.Command(os.Args[0], "-test.run=^TestGlobalRoutedServer$")
		cmd.Env = append(os.Environ(), fmt.Sprintf("%s=%s %d %d %s %s", routedServerEnv, names[i], ports[i], ports[3+i], strings.Join(routes, ","), tb.TempDir()))
		stdin, err := cmd.StdinPipe()
		if err != nil {
			tb.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			tb.Fatal(err)
		}
		tb.Cleanup(func() {
			_ = stdin.Close()
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
		})
		cmds[i] = cmd
	}
	return names, urls, cmds
}

// TestGlobalRoutedLeaderLoss runs the registry on an R3 bucket over three
// routed servers, each node connected to its own server first, and kills
// (SIGKILL) the server leading the bucket while every node registers names:
// registrations resume after the election, every acknowledged one is in
// the bucket and in every node's cache, and every node's watch goes on.
func TestGlobalRoutedLeaderLoss(t *testing.T) {
	if !*globalRouted {
		t.Skip("needs -cluster.routed")
	}
	names, urls, cmds := startGlobalRouted(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	connect := func(i int) []nats.Option {
		order := append([]string{urls[i]}, append(urls[:i:i], urls[i+1:]...)...)
		return []nats.Option{
			func(o *nats.Options) error { o.Servers = order; return nil },
			nats.DontRandomize(), nats.MaxReconnects(-1), nats.ReconnectWait(50 * time.Millisecond),
		}
	}
	t0 := time.Now()
	var js jetstream.JetStream
	for js == nil {
		// The servers may not listen yet.
		if nc, err := nats.Connect(strings.Join(urls, ","), nats.Timeout(time.Second)); err == nil {
			nc.Close()
			js = globalConnectJS(t, connect(0)...)
		} else if time.Since(t0) > 30*time.Second {
			t.Fatalf("no routed server accepts connections: %v", err)
		} else {
			time.Sleep(50 * time.Millisecond)
		}
	}
	for {
		c, cc := context.WithTimeout(ctx, 2*time.Second)
		_, err := js.CreateKeyValue(c, jetstream.KeyValueConfig{Bucket: globalTestBucket, History: 1, Replicas: 3, Storage: jetstream.FileStorage})
		cc()
		if err == nil {
			break
		}
		if ctx.Err() != nil {
			t.Fatalf("no R3 bucket: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Logf("R3 bucket ready %v after start", time.Since(t0).Round(time.Millisecond))
	nodes := make([]*globalNode, 3)
	holders := make([]*runtime.Process, 3)
	for i := range nodes {
		nodes[i] = startGlobalNode(t, uint16(i+1), connect(i)...)
		holders[i] = nodes[i].holder(t)
	}

	type reg struct {
		name string
		node int
	}
	var (
		mu          sync.Mutex
		acked       []reg
		killedAt    time.Time
		firstAfter  time.Time
		afterByNode [3]int
		failed      int
	)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for i, n := range nodes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for k := 0; ; k++ {
				select {
				case <-stop:
					return
				default:
				}
				name := fmt.Sprintf("n%d-%d", n.id, k)
				mu.Lock()
				startedAfter := !killedAt.IsZero()
				mu.Unlock()
				c, cc := context.WithTimeout(ctx, 2*time.Second)
				err := n.g.Register(c, name, "1.0.0", holders[i].ID())
				cc()
				mu.Lock()
				if err != nil {
					failed++ // ambiguous: it may or may not have landed
				} else {
					acked = append(acked, reg{name, i})
					// Only a call made after the kill says writes work
					// again; one in flight may have been answered before.
					if startedAfter {
						if firstAfter.IsZero() {
							firstAfter = time.Now()
						}
						afterByNode[i]++
					}
				}
				mu.Unlock()
				time.Sleep(5 * time.Millisecond) // enough names, not a flood
			}
		}()
	}
	time.Sleep(300 * time.Millisecond)
	si, err := js.Stream(ctx, "KV_"+globalTestBucket)
	if err != nil {
		t.Fatal(err)
	}
	info, err := si.Info(ctx)
	if err != nil || info.Cluster == nil {
		t.Fatalf("bucket's stream info: %v", err)
	}
	leader := info.Cluster.Leader
	mu.Lock()
	killedAt = time.Now()
	before := len(acked)
	mu.Unlock()
	for i, name := range names {
		if name == leader {
			if err := cmds[i].Process.Signal(syscall.SIGKILL); err != nil {
				t.Fatal(err)
			}
		}
	}
	t.Logf("killed %s, the bucket's leader, after %d registrations", leader, before)
	waitFor := func(what string, cond func() bool) {
		deadline := time.Now().Add(60 * time.Second)
		for !cond() {
			if time.Now().After(deadline) {
				t.Fatalf("not within 60s: %s", what)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	waitFor("every node registers again after the leader's loss", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return afterByNode[0] >= 5 && afterByNode[1] >= 5 && afterByNode[2] >= 5
	})
	close(stop)
	wg.Wait()
	t.Logf("first registration %v after the kill; %d acknowledged, %d failed during the election",
		firstAfter.Sub(killedAt).Round(time.Millisecond), len(acked), failed)

	for _, r := range acked {
		want := nodes[r.node].qid(holders[r.node])
		for _, n := range nodes {
			waitFor(fmt.Sprintf("node %d sees %s", n.id, r.name), func() bool { return n.cachedPID(r.name, "1.0.0") == want })
		}
	}
	t.Logf("all acknowledged names in every cache %v after the kill", time.Since(killedAt).Round(time.Millisecond))
	// And a registration made now reaches every node's cache: each watch
	// outlived the election.
	if err := nodes[0].g.Register(ctx, "after", "1.0.0", holders[0].ID()); err != nil {
		t.Fatal(err)
	}
	for _, n := range nodes {
		waitFor(fmt.Sprintf("node %d's watch sees a new name", n.id), func() bool { return n.cachedPID("after", "") != 0 })
	}
	t.Logf("done %v after the kill", time.Since(killedAt).Round(time.Millisecond))
}
