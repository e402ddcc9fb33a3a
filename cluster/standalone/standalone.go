// Package standalone makes a runtime a cluster node when there is no NATS
// to give it: Join starts an embedded NATS server (package cluster/embed)
// in the program, with in-process connections, and joins the runtime to
// it as the cluster's first node. Runtimes of the same program join the
// same server with Node.Join.
//
// It is the shortest way to a cluster on one machine (tests, one binary
// that may grow into several nodes later): the same code then joins a
// production NATS cluster through cluster.Join with a connection of its
// own.
package standalone

import (
	"context"
	"errors"
	"fmt"

	"github.com/nats-io/nats.go"

	"github.com/wardrt/ward/cluster"
	"github.com/wardrt/ward/cluster/embed"
	"github.com/wardrt/ward/runtime"
)

// Node is a cluster node on an embedded server that Join started.
type Node struct {
	*cluster.Node
	server *embed.Server
	cfg    cluster.Config
	conns  []*nats.Conn
	creds  []embed.Cred
}

// Join starts an embedded server with o (o.Nodes are made by Join: one
// credential per node, up to maxNodes) and joins rt to it with cfg, whose
// Conn and Seed must be unset.
func Join(ctx context.Context, rt *runtime.Runtime, cfg cluster.Config, o embed.Options, maxNodes int) (*Node, error) {
	if cfg.Conn != nil || cfg.Seed != nil {
		return nil, fmt.Errorf("%w: standalone.Join makes the connection and the key; use cluster.Join to bring your own", cluster.ErrConfig)
	}
	if maxNodes < 1 {
		maxNodes = 1
	}
	s := &Node{cfg: cfg}
	for range maxNodes {
		c, err := embed.NewCred()
		if err != nil {
			return nil, err
		}
		s.creds = append(s.creds, c)
	}
	o.Nodes = append(o.Nodes, s.creds...)
	srv, err := embed.Start(ctx, o)
	if err != nil {
		return nil, err
	}
	s.server = srv
	n, err := s.join(ctx, rt)
	if err != nil {
		srv.Close()
		return nil, err
	}
	s.Node = n
	return s, nil
}

// ErrNoCredentials is returned by Node.Join once every node the server
// was started for has joined.
var ErrNoCredentials = errors.New("ward: standalone: every node credential is in use; pass a larger maxNodes to Join")

// Join joins another runtime of the program to the same cluster, with the
// first node's Config.
func (s *Node) Join(ctx context.Context, rt *runtime.Runtime) (*cluster.Node, error) {
	return s.join(ctx, rt)
}

func (s *Node) join(ctx context.Context, rt *runtime.Runtime) (*cluster.Node, error) {
	i := len(s.conns)
	if i >= len(s.creds) {
		return nil, ErrNoCredentials
	}
	nc, err := s.server.Connect(s.creds[i])
	if err != nil {
		return nil, err
	}
	cfg := s.cfg
	cfg.Conn, cfg.Seed = nc, s.creds[i].Seed()
	n, err := cluster.Join(ctx, rt, cfg)
	if err != nil {
		nc.Close()
		return nil, err
	}
	s.conns = append(s.conns, nc)
	return n, nil
}

// Server returns the embedded server.
func (s *Node) Server() *embed.Server { return s.server }

// Close leaves the cluster and stops the server. The other nodes joined
// through this one should leave first: without the server they are cut
// off.
func (s *Node) Close(ctx context.Context) error {
	err := s.Leave(ctx)
	for _, nc := range s.conns {
		nc.Close()
	}
	s.server.Close()
	if errors.Is(err, cluster.ErrLeft) {
		err = nil
	}
	return err
}
