package workload

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
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/wardrt/ward/cluster"
	"github.com/wardrt/ward/cluster/embed"
	"github.com/wardrt/ward/environment"
	"github.com/wardrt/ward/runtime"
)

// Cluster runs the multi-node workloads: two ward nodes on one embedded
// NATS server with in-process connections (what the tests use), and raw
// NATS measured the same way over two more connections of that server,
// so that each ward figure has its transport's floor beside it.
type Cluster struct {
	srv   *embed.Server
	rts   [2]*runtime.Runtime
	nodes [2]*cluster.Node
	msg   [2]*runtime.Module
	raw   [2]*nats.Conn
	seq   atomic.Uint64
	// spare are node credentials the server accepts, for the nodes
	// NoConnection starts: two a run.
	spare []embed.Cred
}

// noconnRuns bounds the NoConnection measurements of one Cluster.
const noconnRuns = 16

// clusterMailbox lifts the receiving node's mailbox bounds: a one-way
// stream across nodes is dropped, not refused, when the receiver's
// mailbox is full (as Erlang's distribution does), and this row measures
// the transport, not the bound.
var clusterMailbox = environment.Config{MaxMailboxMessages: 1 << 22, MaxMailboxBytes: 1 << 32}

// NewCluster starts the server and joins two nodes.
func NewCluster() (*Cluster, error) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	creds := make([]embed.Cred, 4+2*noconnRuns)
	for i := range creds {
		var err error
		if creds[i], err = embed.NewCred(); err != nil {
			return nil, err
		}
	}
	srv, err := embed.Start(ctx, embed.Options{Nodes: creds, Listen: true})
	if err != nil {
		return nil, err
	}
	c := &Cluster{srv: srv, spare: creds[4:]}
	for i := range 2 {
		rt, err := runtime.New(runtime.WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil))), runtime.WithRootEnvironment(clusterMailbox))
		if err != nil {
			c.Close()
			return nil, err
		}
		c.rts[i] = rt
		if c.msg[i], err = rt.LoadModule(ctx, "messaging", []byte(WardMsgWAT)); err != nil {
			c.Close()
			return nil, err
		}
		nc, err := srv.Connect(creds[i])
		if err != nil {
			c.Close()
			return nil, err
		}
		if c.nodes[i], err = cluster.Join(ctx, rt, cluster.Config{Conn: nc, Seed: creds[i].Seed(), Storage: jetstream.MemoryStorage}); err != nil {
			c.Close()
			return nil, err
		}
		if c.raw[i], err = srv.Connect(creds[2+i]); err != nil {
			c.Close()
			return nil, err
		}
	}
	return c, nil
}

// Close leaves the cluster and stops everything.
func (c *Cluster) Close() {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for i := range 2 {
		if c.nodes[i] != nil {
			c.nodes[i].Leave(ctx)
		}
		if c.raw[i] != nil {
			c.raw[i].Close()
		}
		if c.rts[i] != nil {
			c.rts[i].Close(ctx)
		}
	}
	c.srv.Close()
}

// RemotePingPong times n round trips between a guest on node 1 and one on
// node 2 (send_receive and send, the local ping-pong's guests).
func (c *Cluster) RemotePingPong(n int) (time.Duration, error) {
	return pingPong(context.Background(), c.rts[0].Environment(), c.msg[0], c.rts[1].Environment(), c.msg[1], n)
}

// RemoteOneWay times n messages from a guest on node 1 to a guest on node
// 2, until the receiver has taken them all.
func (c *Cluster) RemoteOneWay(n int) (time.Duration, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	d, err := oneToOne(ctx, c.rts[0].Environment(), c.msg[0], c.rts[1].Environment(), c.msg[1], n)
	if err != nil {
		return 0, fmt.Errorf("across nodes (a message lost?): %w", err)
	}
	return d, nil
}

// NATSRequest times n request/reply round trips over the raw connections:
// the floor under RemotePingPong.
func (c *Cluster) NATSRequest(n int) (time.Duration, error) {
	subj := "bench.req." + strconv.FormatUint(c.seq.Add(1), 10)
	sub, err := c.raw[1].Subscribe(subj, func(m *nats.Msg) { m.Respond(m.Data) })
	if err != nil {
		return 0, err
	}
	defer sub.Unsubscribe()
	if err := c.raw[1].Flush(); err != nil {
		return 0, err
	}
	data := make([]byte, 8)
	start := time.Now()
	for range n {
		if _, err := c.raw[0].Request(subj, data, 10*time.Second); err != nil {
			return 0, err
		}
	}
	return time.Since(start), nil
}

// NATSPublish times n one-way 8-byte messages over the raw connections,
// until the subscriber has taken them all: the floor under RemoteOneWay.
func (c *Cluster) NATSPublish(n int) (time.Duration, error) {
	subj := "bench.pub." + strconv.FormatUint(c.seq.Add(1), 10)
	done := make(chan struct{})
	var got atomic.Int64
	sub, err := c.raw[1].Subscribe(subj, func(*nats.Msg) {
		if got.Add(1) == int64(n) {
			close(done)
		}
	})
	if err != nil {
		return 0, err
	}
	defer sub.Unsubscribe()
	sub.SetPendingLimits(-1, -1)
	if err := c.raw[1].Flush(); err != nil {
		return 0, err
	}
	data := make([]byte, 8)
	start := time.Now()
	for range n {
		if err := c.raw[0].Publish(subj, data); err != nil {
			return 0, err
		}
	}
	select {
	case <-done:
	case <-time.After(2 * time.Minute):
		return 0, fmt.Errorf("raw NATS: %d of %d messages arrived", got.Load(), n)
	}
	return time.Since(start), nil
}

// GlobalRegister times n registrations of fresh names in the global
// registry, each made from node 1 and answered once written (the
// unregistrations that follow are not timed).
func (c *Cluster) GlobalRegister(n int) (time.Duration, error) {
	ctx := context.Background()
	p, err := c.rts[0].Environment().SpawnGo(ctx, "named", func(ctx context.Context, _ *runtime.Self) error { <-ctx.Done(); return nil })
	if err != nil {
		return 0, err
	}
	defer p.Kill()
	g := c.nodes[0].Global()
	base := "bench-" + strconv.FormatUint(c.seq.Add(1), 10) + "-"
	start := time.Now()
	for i := range n {
		if err := g.Register(ctx, base+strconv.Itoa(i), "1.0.0", p.ID()); err != nil {
			return 0, err
		}
	}
	d := time.Since(start)
	for i := range n {
		if err := g.Unregister(ctx, base+strconv.Itoa(i), "1.0.0"); err != nil {
			return 0, err
		}
	}
	return d, nil
}

// GlobalLookup times n lookups of a name registered on node 1, made on
// node 2 from its cache.
func (c *Cluster) GlobalLookup(n int) (time.Duration, error) {
	ctx := context.Background()
	p, err := c.rts[0].Environment().SpawnGo(ctx, "named", func(ctx context.Context, _ *runtime.Self) error { <-ctx.Done(); return nil })
	if err != nil {
		return 0, err
	}
	defer p.Kill()
	name := "lookup-" + strconv.FormatUint(c.seq.Add(1), 10)
	if err := c.nodes[0].Global().Register(ctx, name, "1.2.3", p.ID()); err != nil {
		return 0, err
	}
	defer c.nodes[0].Global().Unregister(ctx, name, "1.2.3")
	g := c.nodes[1].Global()
	deadline := time.Now().Add(10 * time.Second)
	for { // until the watch has brought it to node 2's cache
		if _, _, err := g.Lookup(ctx, name, "^1.2"); err == nil {
			break
		} else if time.Now().After(deadline) {
			return 0, err
		}
		time.Sleep(time.Millisecond)
	}
	start := time.Now()
	for range n {
		id, _, err := g.Lookup(ctx, name, "^1.2")
		if err != nil {
			return 0, err
		}
		if id != p.ID() {
			return 0, fmt.Errorf("lookup found %s, want %s", id, p.ID())
		}
	}
	return time.Since(start), nil
}

// Environment variables of the noconnection child: the server's URL, the
// node's seed, and its heartbeat interval.
const (
	noconnURLEnv  = "WARDBENCH_NOCONN_URL"
	noconnSeedEnv = "WARDBENCH_NOCONN_SEED"
	noconnHBEnv   = "WARDBENCH_NOCONN_HB"
)

// maybeNoconnChild runs the child node of NoConnection when this OS
// process is one: it joins, spawns a process, prints its id and waits to
// be killed.
func maybeNoconnChild() {
	url := os.Getenv(noconnURLEnv)
	if url == "" {
		return
	}
	err := noconnChild(url, []byte(os.Getenv(noconnSeedEnv)), os.Getenv(noconnHBEnv))
	fmt.Fprintf(os.Stderr, "noconnection child: %v\n", err)
	os.Exit(1)
}

func noconnChild(url string, seed []byte, hb string) error {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	interval, err := time.ParseDuration(hb)
	if err != nil {
		return err
	}
	cred, err := embed.CredFromSeed(seed)
	if err != nil {
		return err
	}
	nc, err := nats.Connect(url, cred.Option())
	if err != nil {
		return err
	}
	rt, err := runtime.New(runtime.WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil))))
	if err != nil {
		return err
	}
	if _, err := cluster.Join(ctx, rt, cluster.Config{Conn: nc, Seed: seed, HeartbeatInterval: interval, Storage: jetstream.MemoryStorage}); err != nil {
		return err
	}
	p, err := rt.Environment().SpawnGo(ctx, "victim", func(ctx context.Context, _ *runtime.Self) error { <-ctx.Done(); return nil })
	if err != nil {
		return err
	}
	fmt.Println(uint64(p.ID()))
	cancel() // Join is done; the node lives on until SIGKILL
	select {}
}

// NoConnection measures, once, the time from a SIGKILL of a node (a child
// OS process joined over loopback TCP) to the DOWN noconnection of a
// monitor on one of its processes, with every node's heartbeat at
// interval and the default misses.
func (c *Cluster) NoConnection(interval time.Duration) (time.Duration, error) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if len(c.spare) < 2 {
		return 0, errors.New("noconnection: out of node credentials")
	}
	cred, wcred := c.spare[0], c.spare[1]
	c.spare = c.spare[2:]
	rt, err := runtime.New(runtime.WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil))))
	if err != nil {
		return 0, err
	}
	defer rt.Close(ctx)
	// The watching node has the same heartbeat: detection is the
	// watcher's count of the child's missed heartbeats.
	nc, err := c.srv.Connect(wcred)
	if err != nil {
		return 0, err
	}
	w, err := cluster.Join(ctx, rt, cluster.Config{Conn: nc, Seed: wcred.Seed(), HeartbeatInterval: interval, Storage: jetstream.MemoryStorage})
	if err != nil {
		return 0, err
	}
	defer w.Leave(ctx)

	exe, err := os.Executable()
	if err != nil {
		return 0, err
	}
	cmd := exec.CommandContext(ctx, exe)
	cmd.Env = append(os.Environ(), noconnURLEnv+"="+c.srv.ClientURL(), noconnSeedEnv+"="+string(cred.Seed()), noconnHBEnv+"="+interval.String())
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		return 0, err
	}
	if err := cmd.Start(); err != nil {
		return 0, err
	}
	defer cmd.Wait()
	defer cmd.Process.Kill()
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		return 0, fmt.Errorf("noconnection child: %w", err)
	}
	victim, err := strconv.ParseUint(strings.TrimSpace(line), 10, 64)
	if err != nil {
		return 0, err
	}
	downs := make(chan runtime.Reason, 1)
	monitored := make(chan error, 1)
	watcher, err := rt.Environment().SpawnGo(ctx, "watcher", func(ctx context.Context, s *runtime.Self) error {
		_, err := s.Monitor(runtime.ProcessID(victim))
		monitored <- err
		m, err := s.Receive(ctx, runtime.TagDown)
		if err != nil {
			return err
		}
		d, _ := runtime.ParseDown(m)
		downs <- d.Reason
		return nil
	})
	if err != nil {
		return 0, err
	}
	defer watcher.Kill()
	if err := <-monitored; err != nil {
		return 0, err
	}
	// The monitor has reached the child once it exists there: ask.
	if ok, err := rt.Exists(ctx, runtime.ProcessID(victim)); !ok || err != nil {
		return 0, fmt.Errorf("the child's process is not reachable: %v %v", ok, err)
	}
	start := time.Now()
	if err := cmd.Process.Kill(); err != nil {
		return 0, err
	}
	select {
	case r := <-downs:
		d := time.Since(start)
		if r != runtime.NoConnection {
			return 0, fmt.Errorf("DOWN %v, want noconnection", r)
		}
		return d, nil
	case <-ctx.Done():
		return 0, errors.New("no noconnection within a minute of the SIGKILL")
	}
}
