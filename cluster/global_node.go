package cluster

import (
	"context"
	"errors"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// globalBucket is the KV bucket of the cluster's global registry.
func (c Config) globalBucket() string { return "ward_" + c.Cluster + "_global" }

// initGlobal starts the node's global registry: its bucket, in the
// node's Storage, its janitor and its watch, until the node leaves. Nodes
// that have lost a peer remove the peer's names. A node without a runtime
// (the core's tests with a fake one) has no registry.
func (n *Node) initGlobal() {
	if n.rt == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	bucket := n.cfg.globalBucket()
	// A bucket made already is kept as it is: an operator may have made
	// it with replicas, which an update to this config would take away.
	_, err := n.js.KeyValue(ctx, bucket)
	if errors.Is(err, jetstream.ErrBucketNotFound) {
		_, err = n.js.CreateKeyValue(ctx, jetstream.KeyValueConfig{
			Bucket:      bucket,
			Storage:     n.cfg.Storage,
			History:     1,
			Description: "ward global registry: name and version -> process",
		})
		if errors.Is(err, jetstream.ErrBucketExists) {
			err = nil // another node made it first
		}
	}
	if err != nil {
		n.log.Error("ward: cluster: no global registry on this node: its bucket", "bucket", bucket, "err", err)
		return
	}
	g, err := newGlobal(ctx, n.js, n.rt, n.id, bucket, n.log)
	if err != nil {
		n.log.Error("ward: cluster: no global registry on this node", "err", err)
		return
	}
	// Set before the node's subjects open (initHandlers runs first), so
	// it is read without a lock; Leave closes it.
	n.global = g
	n.onNodeDown(g.nodeDown)
}

// Global returns the cluster's global registry as this node sees it. On
// a node whose registry did not start (the node's log says why) its
// methods fail with an error saying so.
func (n *Node) Global() *Global {
	if n.left.Load() {
		return nil
	}
	return n.global
}
