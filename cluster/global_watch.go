package cluster

import (
	"context"
	"time"

	"github.com/Masterminds/semver/v3"
	"github.com/nats-io/nats.go/jetstream"
)

// The cache follows the bucket through a KV watch: an ordered consumer,
// which lives on one server. When that server goes (the bucket's leader
// crashed, say) the watch stalls until its client notices missed
// heartbeats, which took 15 s in the routed test; a watch can also end
// with its connection. So a probe compares the cache with the bucket's
// last revision, and a watch that stays behind while the bucket moves is
// replaced by one that resumes after the last revision the cache has.
// The cache orders every change by revision, so the two watches' overlap
// changes nothing.

// watchProbe is how often the probe looks; a stalled watch is replaced
// within two of these once the bucket has moved past it.
const watchProbe = time.Second

// startWatch starts the first watch, trying again until ctx ends: a
// bucket just created, or whose cluster is electing, can refuse consumers
// for a while.
func (g *Global) startWatch(ctx context.Context) error {
	backoff := 20 * time.Millisecond
	for {
		err := g.watchFrom(0)
		if err == nil {
			break
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, time.Second)
	}
	g.wg.Add(1)
	go func() {
		defer g.wg.Done()
		g.probe()
	}()
	return nil
}

// watchFrom starts a watch from revision rev (0: the current entries)
// and makes it the current one, stopping the one before.
func (g *Global) watchFrom(rev uint64) error {
	var opts []jetstream.WatchOpt
	if rev > 0 {
		opts = append(opts, jetstream.ResumeFromRevision(rev))
	}
	w, err := g.kv.WatchAll(g.ctx, opts...)
	if err != nil {
		return err
	}
	g.watchMu.Lock()
	if g.ctx.Err() != nil { // closing: stopWatch may be waiting already
		g.watchMu.Unlock()
		_ = w.Stop()
		return g.ctx.Err()
	}
	old := g.watcher
	g.watcher = w
	g.watchers.Add(1)
	g.watchMu.Unlock()
	go func() {
		defer g.watchers.Done()
		g.follow(w)
	}()
	if old != nil {
		_ = old.Stop()
	}
	return nil
}

// follow feeds the cache from one watch until it ends.
func (g *Global) follow(w jetstream.KeyWatcher) {
	for e := range w.Updates() {
		if e == nil {
			g.cache.markReady()
			continue
		}
		del := e.Operation() != jetstream.KeyValuePut
		var rec *globalRecord
		var v *semver.Version
		if !del {
			var ok bool
			if rec, v, ok = decodeRecord(e.Key(), e.Value()); !ok {
				g.log.Warn("ward: global registry: ignoring a value that is not a registry record", "key", e.Key())
				del = true // whatever the key held before is gone
			}
		}
		g.cache.watched(e.Key(), e.Revision(), del, rec, v)
		// Before the initial values end, this node's records are an
		// earlier node's of the same number, which newGlobal sweeps: its
		// ids are not this runtime's processes.
		if rec != nil && !rec.placeholder() && rec.Node == g.node && g.cache.isReady() {
			g.watchProcess(rec.PID)
		}
	}
}

// probe replaces a watch that lags the bucket for two probes in a row
// without moving, until close.
func (g *Global) probe() {
	tick := time.NewTicker(watchProbe)
	defer tick.Stop()
	behind := false
	var at uint64 // the cache's revision at the last probe, when behind
	for {
		select {
		case <-g.ctx.Done():
			return
		case <-tick.C:
		}
		ctx, cancel := context.WithTimeout(g.ctx, watchProbe)
		last, err := g.lastSeq(ctx)
		cancel()
		if err != nil {
			continue // the bucket is not answering: nothing to catch up with yet
		}
		g.cache.mu.Lock()
		seq := g.cache.seq
		g.cache.mu.Unlock()
		switch {
		case seq >= last:
			behind = false
		case !behind || at != seq:
			behind, at = true, seq // give it one more probe to move
		default:
			g.log.Warn("ward: global registry: the bucket's watch stalled; resuming it", "at", seq, "bucket", last)
			if err := g.watchFrom(seq + 1); err == nil {
				behind = false
			}
		}
	}
}

// stopWatch stops the current watch and waits for the loops to end.
func (g *Global) stopWatch() {
	g.watchMu.Lock()
	w := g.watcher
	g.watchMu.Unlock()
	if w != nil {
		_ = w.Stop()
	}
	done := make(chan struct{})
	go func() {
		g.watchers.Wait()
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		g.log.Warn("ward: global registry: the watch did not stop within 5s")
	}
}
