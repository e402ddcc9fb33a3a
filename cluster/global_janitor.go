package cluster

import (
	"context"
	"encoding/binary"
	"time"

	"github.com/wardrt/ward/internal/route"
	"github.com/wardrt/ward/runtime"
)

// The janitor is a Go-native process on each node that monitors the
// node's processes holding global names, and removes their names when
// they end. Being a process, it learns of an end the way any process
// does (a DOWN), including NoProc for a process that ended before it
// asked, so a name registered for a process already gone goes as well.
// It holds one monitor per process that holds a name, which counts
// against the root environment's MaxMonitors, and lets it go when the
// process's last name goes.

func (g *Global) startJanitor(ctx context.Context) error {
	p, err := g.rt.Environment().SpawnGo(ctx, "ward-global-janitor", g.janitorLoop)
	if err != nil {
		return err
	}
	g.janitor = p
	return nil
}

func (g *Global) janitorLoop(ctx context.Context, self *runtime.Self) error {
	watched := make(map[runtime.ProcessID]runtime.MonitorRef)
	for {
		m, err := self.Receive(ctx)
		if err != nil {
			return nil // killed at close
		}
		switch m.Tag {
		case g.watchTag:
			pid, ok := janitorPID(m)
			if _, held := watched[pid]; !ok || held {
				continue
			}
			if len(g.cache.ofPID(route.Qualify(uint64(pid), g.node))) == 0 {
				continue // its names went since the message was sent
			}
			ref, err := self.Monitor(pid)
			if err != nil {
				g.log.Warn("ward: global registry: cannot watch a registered process; its names stay when it ends", "process", pid, "err", err)
				continue
			}
			watched[pid] = ref
		case g.forgetTag:
			pid, ok := janitorPID(m)
			ref, held := watched[pid]
			// The cache decides, not the message: a name taken since
			// the message was sent keeps the monitor.
			if ok && held && len(g.cache.ofPID(route.Qualify(uint64(pid), g.node))) == 0 {
				self.Demonitor(ref)
				delete(watched, pid)
			}
		case runtime.TagDown:
			d, ok := runtime.ParseDown(m)
			if !ok {
				continue
			}
			delete(watched, d.Process)
			q := route.Qualify(uint64(d.Process), g.node)
			g.background(func() { g.removeProcess(q) })
		default:
			// A request it does not know gets an empty reply: the asker
			// then knows that everything sent before has been handled.
			// Anything else a process sends it changes nothing: watch
			// and forget are checked against the cache.
			if m.Sender != 0 && m.Tag > 0 {
				_ = self.Reply(m, runtime.Message{})
			}
		}
	}
}

// watchProcess asks the janitor to monitor a process of this node that
// holds a name; asking twice is harmless.
func (g *Global) watchProcess(pid uint64) { g.tellJanitor(g.watchTag, pid) }

// forgetProcess tells the janitor that a process of this node no longer
// holds a name. Called with the cache locked: a send does not wait.
func (g *Global) forgetProcess(pid uint64) { g.tellJanitor(g.forgetTag, pid) }

func (g *Global) tellJanitor(tag int64, pid uint64) {
	if route.NodeOf(pid) != g.node || g.janitor == nil {
		return
	}
	var b [8]byte
	binary.LittleEndian.PutUint64(b[:], pid&route.LocalMask)
	if err := g.janitor.Send(g.ctx, runtime.Message{Tag: tag, Data: b[:]}); err != nil && g.ctx.Err() == nil {
		g.log.Warn("ward: global registry: cannot reach the janitor; a name may stay when its process ends", "process", pid&route.LocalMask, "err", err)
	}
}

// janitorPID reads the process id of a message to the janitor.
func janitorPID(m runtime.Message) (runtime.ProcessID, bool) {
	if len(m.Data) != 8 {
		return 0, false
	}
	return runtime.ProcessID(binary.LittleEndian.Uint64(m.Data)), true
}

// removeProcess deletes the names of a process that ended, each at the
// revision this node saw: a name taken again meanwhile stays.
func (g *Global) removeProcess(pid uint64) {
	for key, rev := range g.cache.ofPID(pid) {
		if err := g.deleteAt(g.ctx, key, rev); err != nil && g.ctx.Err() == nil {
			g.log.Warn("ward: global registry: removing the name of an ended process", "process", pid, "err", err)
		}
	}
}

// nodeDown removes the names of processes on node, which was lost or
// left. Every survivor does it; the deletes are conditional, so the first
// one wins and the rest find the keys changed. It returns at once: the
// work runs in the background.
func (g *Global) nodeDown(node uint16) {
	if node == 0 || node == g.node {
		return
	}
	g.background(func() { g.sweepNode(node) })
}

func (g *Global) sweepNode(node uint16) {
	ctx, cancel := context.WithTimeout(g.ctx, 30*time.Second)
	defer cancel()
	g.sweep(ctx, node)
}

// sweep deletes the records of node written up to now. The cache may lag
// the bucket: it first catches up with the bucket's last revision, so the
// sweep sees the names the node registered just before it went. Records
// written after that revision are left alone: a lost node writes nothing
// more, so they belong to a node that took its number since.
func (g *Global) sweep(ctx context.Context, node uint16) {
	last, err := g.lastSeq(ctx)
	if err != nil {
		g.log.Warn("ward: global registry: sweeping a node's names without catching up", "node", node, "err", err)
		g.cache.mu.Lock()
		last = g.cache.seq
		g.cache.mu.Unlock()
	} else {
		wctx, wcancel := context.WithTimeout(ctx, 5*time.Second)
		err := g.cache.wait(wctx, func() bool { return g.cache.seq >= last })
		wcancel()
		if err != nil && ctx.Err() == nil {
			g.log.Warn("ward: global registry: the watch lags; sweeping a node's names as far as it got", "node", node, "want", last)
		}
	}
	for key, rev := range g.cache.ofNode(node, last) {
		if err := g.deleteAt(ctx, key, rev); err != nil && g.ctx.Err() == nil {
			g.log.Warn("ward: global registry: removing a node's name", "node", node, "err", err)
		}
	}
}

// lastSeq returns the bucket's last revision, across all keys.
func (g *Global) lastSeq(ctx context.Context) (uint64, error) {
	// Stream asks the server for the stream's info: one request.
	s, err := g.js.Stream(ctx, "KV_"+g.bucket)
	if err != nil {
		return 0, err
	}
	return s.CachedInfo().State.LastSeq, nil
}

// background runs f on its own goroutine unless the registry is closing;
// close waits for it.
func (g *Global) background(f func()) {
	g.bgMu.Lock()
	defer g.bgMu.Unlock()
	if g.ctx.Err() != nil {
		return
	}
	g.wg.Add(1)
	go func() {
		defer g.wg.Done()
		f()
	}()
}
