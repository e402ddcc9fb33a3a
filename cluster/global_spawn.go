package cluster

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/Masterminds/semver/v3"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/wardrt/ward/internal/errs"
	"github.com/wardrt/ward/internal/route"
	"github.com/wardrt/ward/runtime"
)

// GetOrSpawn returns the process holding name at the exact version, and
// when there is none, spawns one running entry of m in env on this node
// and registers it, so that however many callers on however many nodes
// race, one process is spawned cluster-wide and all of them get its id.
// spawned reports whether this call spawned it. env must belong to this
// node's runtime (nil: its root environment).
//
// The winner is the caller whose node first creates the key, holding a
// placeholder while it spawns; the others wait for the placeholder to
// turn into the process's id, within ctx. A winner that fails to spawn
// removes its placeholder and returns the error, and one of the waiting
// callers spawns instead; so does one when the winner's node is lost
// meanwhile. A process that ends takes the name with it, as with
// Register, and the next call spawns again.
func (g *Global) GetOrSpawn(ctx context.Context, name, version string, env *runtime.Environment, m *runtime.Module, entry string, params ...runtime.Value) (runtime.ProcessID, bool, error) {
	v, err := g.entryKey(name, version)
	if err != nil {
		return 0, false, err
	}
	if env == nil {
		env = g.rt.Environment()
	}
	if env.Runtime() != g.rt {
		return 0, false, fmt.Errorf("ward: global get-or-spawn %s@%s: the environment belongs to another runtime than this node's", name, v)
	}
	key := globalKey(name, v)
	for tries := 0; ; tries++ {
		if n := g.cache.get(key); n != nil && n.live() {
			return runtime.ProcessID(n.rec.PID), false, nil
		}
		ph := &globalRecord{Name: name, Version: v.String(), Node: g.node, Token: rand.Uint64() | 1}
		rev, err := g.create(ctx, key, ph)
		if err == nil {
			return g.spawnAs(ctx, key, rev, name, v, env, m, entry, params)
		}
		if !revisionConflict(err) {
			g.reclaim(ctx, key, ph.Token)
			return 0, false, errs.Wrap(err, "global get-or-spawn %s@%s", name, v)
		}
		pid, err := g.awaitWinner(ctx, key)
		if err != nil {
			return 0, false, errs.Wrap(err, "global get-or-spawn %s@%s: waiting for the spawn on another call", name, v)
		}
		if pid != 0 {
			return pid, false, nil
		}
		// The key went before the winner published a process: try to
		// win it. A read served by a lagging replica can say so too
		// early; back off a little so such a loop does not spin.
		if tries > 2 {
			select {
			case <-ctx.Done():
				return 0, false, ctx.Err()
			case <-time.After(time.Duration(min(tries, 20)) * time.Millisecond):
			}
		}
	}
}

// spawnAs spawns the process for key, whose placeholder this node
// created at rev, and publishes its id in place of the placeholder.
func (g *Global) spawnAs(ctx context.Context, key string, rev uint64, name string, v *semver.Version, env *runtime.Environment, m *runtime.Module, entry string, params []runtime.Value) (runtime.ProcessID, bool, error) {
	p, err := env.Spawn(ctx, m, entry, params...)
	if err != nil {
		g.giveBack(ctx, key, rev)
		return 0, false, errs.Wrap(err, "global get-or-spawn %s@%s: spawn failed, name released", name, v)
	}
	q := route.Qualify(uint64(p.ID()), g.node)
	live := &globalRecord{Name: name, Version: v.String(), PID: q, Node: g.node}
	b, err := live.encode()
	var rev2 uint64
	if err == nil {
		rev2, err = g.kv.Update(ctx, key, b, rev)
	}
	if err != nil {
		// Without its name the process would be a second one the next
		// call cannot find: end it. Should the update have landed after
		// all, the janitor removes the name on the process's DOWN.
		p.Kill()
		g.giveBack(ctx, key, rev)
		if revisionConflict(err) {
			return 0, false, fmt.Errorf("%w: %s@%s: the placeholder was removed while spawning (was this node thought lost?)", ErrNameConflict, name, v)
		}
		return 0, false, errs.Wrap(err, "global get-or-spawn %s@%s: publishing the process", name, v)
	}
	g.cache.put(key, rev2, live, v)
	g.watchProcess(q)
	return runtime.ProcessID(q), true, nil
}

// giveBack deletes this node's placeholder so another caller can spawn,
// even when ctx has ended: a placeholder left behind would hold the name
// until this node is lost.
func (g *Global) giveBack(ctx context.Context, key string, rev uint64) {
	dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	if err := g.deleteAt(dctx, key, rev); err != nil {
		g.log.Error("ward: global registry: a placeholder stays until this node leaves", "key", key, "err", err)
	}
}

// reclaim deletes the placeholder a Create that failed may have written
// all the same (the request reached the bucket, its answer did not), so
// that it does not hold the name, with no one to spawn, until this node
// is lost. The token tells this call's placeholder from any other.
func (g *Global) reclaim(ctx context.Context, key string, token uint64) {
	dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	for backoff := 50 * time.Millisecond; ; backoff = min(2*backoff, time.Second) {
		e, err := g.kv.Get(dctx, key)
		if errors.Is(err, jetstream.ErrKeyNotFound) || errors.Is(err, jetstream.ErrKeyDeleted) {
			return // it did not land
		}
		if err == nil {
			if rec, _, ok := decodeRecord(key, e.Value()); ok && rec.placeholder() && rec.Token == token {
				g.giveBack(ctx, key, e.Revision())
			}
			return
		}
		select {
		case <-dctx.Done():
			g.log.Error("ward: global registry: a placeholder may stay until this node leaves", "key", key, "err", err)
			return
		case <-time.After(backoff):
		}
	}
}

// awaitWinner waits for the placeholder in key to become a process, and
// returns its id, or 0 when the key is free again (its spawner failed or
// its node was lost) and the caller should try to win it.
func (g *Global) awaitWinner(ctx context.Context, key string) (runtime.ProcessID, error) {
	e, err := g.kv.Get(ctx, key)
	if errors.Is(err, jetstream.ErrKeyNotFound) || errors.Is(err, jetstream.ErrKeyDeleted) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	rec, _, ok := decodeRecord(key, e.Value())
	if !ok {
		return 0, fmt.Errorf("%w: the bucket holds something else at %s", ErrNameTaken, key)
	}
	if !rec.placeholder() {
		return runtime.ProcessID(rec.PID), nil
	}
	at := e.Revision()
	var now *cached
	err = g.cache.wait(ctx, func() bool {
		n := g.cache.keys[key]
		switch {
		case n != nil && n.rev > at:
			now = n // a process, a newer placeholder, or this node's delete
			return true
		case n == nil && g.cache.seq >= at:
			return true // the watch brought the placeholder and then its delete
		}
		return false
	})
	if err != nil {
		return 0, err
	}
	if now != nil && now.live() {
		return runtime.ProcessID(now.rec.PID), nil
	}
	return 0, nil
}
