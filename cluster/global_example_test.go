package cluster_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/wardrt/ward/cluster"
	"github.com/wardrt/ward/cluster/embed"
	"github.com/wardrt/ward/runtime"
)

// Two nodes on one embedded server: a process on node 1 takes a name, and
// node 2 finds it by a semver constraint and sends it a message.
func ExampleGlobal() {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	creds := make([]embed.Cred, 2)
	for i := range creds {
		c, err := embed.NewCred()
		if err != nil {
			log.Fatal(err)
		}
		creds[i] = c
	}
	srv, err := embed.Start(ctx, embed.Options{Nodes: creds})
	if err != nil {
		log.Fatal(err)
	}
	defer srv.Close()
	nodes := make([]*cluster.Node, 2)
	rts := make([]*runtime.Runtime, 2)
	for i, c := range creds {
		rt, err := runtime.New()
		if err != nil {
			log.Fatal(err)
		}
		defer rt.Close(context.Background())
		rts[i] = rt
		nc, err := srv.Connect(c)
		if err != nil {
			log.Fatal(err)
		}
		defer nc.Close()
		// Memory storage: the example's buckets go with it.
		n, err := cluster.Join(ctx, rt, cluster.Config{Conn: nc, Seed: c.Seed(), Storage: jetstream.MemoryStorage})
		if err != nil {
			log.Fatal(err)
		}
		defer n.Leave(context.Background())
		nodes[i] = n
	}

	got := make(chan string, 1)
	greeter, err := rts[0].Environment().SpawnGo(ctx, "greeter", func(ctx context.Context, self *runtime.Self) error {
		m, err := self.Receive(ctx)
		if err == nil {
			got <- string(m.Data)
		}
		return err
	})
	if err != nil {
		log.Fatal(err)
	}
	if err := nodes[0].Global().Register(ctx, "greeter", "1.2.0", greeter.ID()); err != nil {
		log.Fatal(err)
	}

	// Node 2 answers from its own copy of the registry, which hears of
	// the name a moment later.
	var pid runtime.ProcessID
	var version string
	for {
		p, v, err := nodes[1].Global().Lookup(ctx, "greeter", "^1.1")
		if err == nil {
			pid, version = p, v.String()
			break
		}
		if !errors.Is(err, cluster.ErrNameNotFound) {
			log.Fatal(err)
		}
		time.Sleep(time.Millisecond)
	}
	fmt.Printf("greeter@%s is on node %d\n", version, pid.Node())
	if err := rts[1].Send(ctx, pid, runtime.Message{Data: []byte("hello from node 2")}); err != nil {
		log.Fatal(err)
	}
	fmt.Println(<-got)
	// Output:
	// greeter@1.2.0 is on node 1
	// hello from node 2
}
