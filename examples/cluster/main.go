// Command cluster runs three ward nodes in one program, on an embedded
// NATS server with in-process connections, and shows what holds when one
// of them is lost:
//
//	go run ./examples/cluster
//
// It fans a job out over the three nodes (the module shipped to them by
// its SHA-256 through the JetStream object store), registers a service in
// the global registry on node 3 and finds it from node 1, links and
// monitors it from nodes 1 and 2, then cuts node 3 off without a goodbye,
// as a crash would: node 1's link fires exit noconnection, node 2's monitor
// DOWN noconnection and its node monitor a node-down message, and the
// global registry forgets the lost node's names.
package main

//go:generate go run ../../internal/tools/wat2wasm square.wat

import (
	"context"
	_ "embed"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/wardrt/ward/cluster"
	"github.com/wardrt/ward/cluster/embed"
	"github.com/wardrt/ward/environment"
	"github.com/wardrt/ward/guest"
	"github.com/wardrt/ward/runtime"
)

//go:embed square.wasm
var squareWasm []byte

func main() {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := run(ctx, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "cluster:", err)
		os.Exit(1)
	}
}

// node is one member: a runtime, its NATS connection and its place in the
// cluster.
type node struct {
	rt *runtime.Runtime
	nc *nats.Conn
	n  *cluster.Node
}

// heartbeat is short, so that the lost node is noticed in a few tenths of
// a second (three missed heartbeats); the default is 1s.
const heartbeat = 100 * time.Millisecond

func run(ctx context.Context, out io.Writer) error {
	// The server lets in the three nodes' keys and no one else.
	creds := make([]embed.Cred, 3)
	for i := range creds {
		var err error
		if creds[i], err = embed.NewCred(); err != nil {
			return err
		}
	}
	srv, err := embed.Start(ctx, embed.Options{Nodes: creds})
	if err != nil {
		return err
	}
	defer srv.Close()

	var nodes [3]*node
	for i := range nodes {
		if nodes[i], err = join(ctx, srv, creds[i]); err != nil {
			return err
		}
		defer nodes[i].close()
	}
	n1, n2, n3 := nodes[0], nodes[1], nodes[2]

	// A fan-out job over every node. Publish loads the module here and
	// puts its bytes in the object store, where the others fetch (and
	// check) them on their first job.
	square, err := n1.n.Publish(ctx, "square", squareWasm)
	if err != nil {
		return err
	}
	var inputs [][]byte
	for _, v := range []int64{1, 2, 3, 4, 13, 6} {
		inputs = append(inputs, binary.LittleEndian.AppendUint64(nil, uint64(v)))
	}
	fmt.Fprintln(out, "fan-out: square over nodes 1, 2, 3")
	for i, r := range n1.n.FanOut(ctx, square.Hash(), "square", inputs, cluster.FanOutOptions{Nodes: []uint16{1, 2, 3}}) {
		in := int64(binary.LittleEndian.Uint64(inputs[i]))
		var rr *runtime.RemoteReason
		switch {
		case errors.As(r.Err, &rr):
			fmt.Fprintf(out, "  square(%d) on node %d failed: %s\n", in, r.Node, reasonName(rr.Kind))
		case errors.Is(r.Err, runtime.ErrNoProcess):
			fmt.Fprintf(out, "  square(%d) on node %d failed: it ended before replying\n", in, r.Node)
		case r.Err != nil:
			return r.Err
		default:
			fmt.Fprintf(out, "  square(%d) = %d on node %d\n", in, binary.LittleEndian.Uint64(r.Out), r.Node)
		}
	}

	// A service on node 3, registered cluster-wide.
	svc, err := n3.rt.Environment().SpawnGo(ctx, "counter", counter)
	if err != nil {
		return err
	}
	if err := n3.n.Global().Register(ctx, "counter", "1.0.0", svc.ID()); err != nil {
		return err
	}
	pid, v, err := lookup(ctx, n1.n, "counter", "^1")
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "global lookup on node 1: counter %s is on node %d\n", v, pid.Node())
	for range 2 {
		reply, err := n1.rt.Request(ctx, pid, runtime.Message{Tag: 1})
		if err != nil {
			return err
		}
		fmt.Fprintf(out, "  request from node 1: count %d\n", binary.LittleEndian.Uint64(reply.Data))
	}

	// Node 1 links to the service, trapping exits; node 2 monitors it,
	// and monitors node 3 itself.
	exits := make(chan runtime.ExitSignal, 1)
	linked := make(chan error, 1)
	if _, err := n1.rt.Environment().SpawnGo(ctx, "linked", func(ctx context.Context, s *runtime.Self) error {
		s.TrapExit(true)
		linked <- s.Link(pid)
		m, err := s.Receive(ctx, runtime.TagExit)
		if err != nil {
			return err
		}
		e, _ := runtime.ParseExit(m)
		exits <- e
		return nil
	}); err != nil {
		return err
	}
	if err := <-linked; err != nil {
		return err
	}
	downs := make(chan runtime.Down, 1)
	nodeDowns := make(chan uint16, 1)
	watching := make(chan error, 1)
	if _, err := n2.rt.Environment().SpawnGo(ctx, "watcher", func(ctx context.Context, s *runtime.Self) error {
		_, err := s.Monitor(pid)
		n2.n.MonitorNode(s.ID(), 3)
		watching <- err
		for range 2 {
			m, err := s.Receive(ctx, runtime.TagDown, runtime.TagNodeDown)
			if err != nil {
				return err
			}
			if d, ok := runtime.ParseDown(m); ok {
				downs <- d
			} else if id, ok := runtime.ParseNodeDown(m); ok {
				nodeDowns <- id
			}
		}
		return nil
	}); err != nil {
		return err
	}
	if err := <-watching; err != nil {
		return err
	}
	// The link and the monitor are on node 3 once it has answered a
	// later frame from each node: order holds per pair.
	for _, n := range []*node{n1, n2} {
		if ok, err := n.rt.Exists(ctx, pid); !ok || err != nil {
			return fmt.Errorf("the service is not reachable: %v, %v", ok, err)
		}
	}

	// Node 3 is cut off: its connection closes with no goodbye, as a
	// crash would do, and the others notice its heartbeats stop.
	fmt.Fprintln(out, "node 3 cut off")
	n3.nc.Close()
	select {
	case e := <-exits:
		fmt.Fprintf(out, "  node 1: link to the service fired exit %v\n", e.Reason)
	case <-ctx.Done():
		return errors.New("no exit signal on node 1")
	}
	select {
	case d := <-downs:
		fmt.Fprintf(out, "  node 2: monitor fired DOWN %v\n", d.Reason)
	case <-ctx.Done():
		return errors.New("no DOWN on node 2")
	}
	select {
	case id := <-nodeDowns:
		fmt.Fprintf(out, "  node 2: node monitor says node %d is down\n", id)
	case <-ctx.Done():
		return errors.New("no node-down message on node 2")
	}
	// The survivors remove the lost node's names.
	for {
		_, _, err := n1.n.Global().Lookup(ctx, "counter", "^1")
		if errors.Is(err, cluster.ErrNameNotFound) {
			fmt.Fprintln(out, "global lookup on node 1: counter is gone with its node")
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("the lost node's name stayed: %v", err)
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// join makes a runtime a node of the cluster on srv. Jobs from other
// nodes run in a child environment of its root, with a fuel limit.
func join(ctx context.Context, srv *embed.Server, cred embed.Cred) (*node, error) {
	rt, err := runtime.New(runtime.WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil))))
	if err != nil {
		return nil, err
	}
	jobs, err := rt.NewEnvironment(environment.Config{MaxFuel: 10_000_000, MaxProcesses: 100})
	if err != nil {
		rt.Close(ctx)
		return nil, err
	}
	nc, err := srv.Connect(cred)
	if err != nil {
		rt.Close(ctx)
		return nil, err
	}
	n, err := cluster.Join(ctx, rt, cluster.Config{
		Conn:              nc,
		Seed:              cred.Seed(),
		HeartbeatInterval: heartbeat,
		Storage:           jetstream.MemoryStorage,
		Grants:            map[string]*runtime.Environment{cluster.JobGrant: jobs},
	})
	if err != nil {
		nc.Close()
		rt.Close(ctx)
		return nil, err
	}
	return &node{rt: rt, nc: nc, n: n}, nil
}

func (n *node) close() {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	n.n.Leave(ctx)
	n.nc.Close()
	n.rt.Close(ctx)
}

// lookup waits until name is in n's copy of the global registry: a
// registration made on another node reaches it through a KV watch.
func lookup(ctx context.Context, n *cluster.Node, name, constraint string) (runtime.ProcessID, string, error) {
	for {
		pid, v, err := n.Global().Lookup(ctx, name, constraint)
		if err == nil {
			return pid, v.String(), nil
		}
		if !errors.Is(err, cluster.ErrNameNotFound) {
			return 0, "", err
		}
		select {
		case <-ctx.Done():
			return 0, "", err
		case <-time.After(time.Millisecond):
		}
	}
}

// counter answers each request with how many it has answered.
func counter(ctx context.Context, s *runtime.Self) error {
	var count uint64
	for {
		m, err := s.Receive(ctx)
		if err != nil {
			return nil
		}
		count++
		if err := s.Reply(m, runtime.Message{Data: binary.LittleEndian.AppendUint64(nil, count)}); err != nil {
			return err
		}
	}
}

// reasonName names a reason kind as the guest ABI does ("trap", "out of
// fuel"): a remote end arrives as its kind and text only.
func reasonName(kind uint32) string { return guest.ReasonKind(kind).String() }
