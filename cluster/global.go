package cluster

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/Masterminds/semver/v3"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/wardrt/ward/internal/errs"
	"github.com/wardrt/ward/internal/route"
	"github.com/wardrt/ward/runtime"
)

// Errors of the global registry, for errors.Is. Each is wrapped with the
// name, version and, where known, the holder.
var (
	// ErrNameTaken: the name is registered at that version already, on
	// some node, or a GetOrSpawn for it is spawning.
	ErrNameTaken = errors.New("ward: global name is taken")
	// ErrNameNotFound: no process holds a name at a version matching.
	ErrNameNotFound = errors.New("ward: global name not found")
	// ErrNameConflict: the entry changed between the read and the write
	// (another node registered, unregistered or removed it meanwhile);
	// look it up again and retry if the operation still makes sense.
	ErrNameConflict = errors.New("ward: global name changed concurrently")
	// ErrBadName: a name that is empty, longer than 255 bytes or holds
	// a NUL byte.
	ErrBadName = errors.New("ward: bad global name")
	// ErrBadVersion: a version or constraint that does not parse as
	// semver; the parser's error is wrapped too.
	ErrBadVersion = errors.New("ward: bad version")
)

// GlobalEntry is one name in the global registry.
type GlobalEntry struct {
	// Name and Version are the name and exact version registered.
	Name    string
	Version *semver.Version
	// PID is the process holding the name, qualified with its node.
	PID runtime.ProcessID
	// Node is the node the process runs on.
	Node uint16
}

// Global is the cluster's registry of names: a name at a semver version
// maps to one process anywhere in the cluster. Entries live in a
// JetStream KV bucket, one key per name and version, and every write is
// conditional (create if absent, or update or delete at the revision
// read), so two nodes never overwrite each other's entries. Each node
// answers lookups from its own copy of the bucket, kept current by a
// watch: a lookup right after another node's register may miss it for
// the time the update takes to arrive, while a node's own writes show at
// once.
//
// A name goes when its process ends (the process's node watches its
// registered processes) and when its node is lost (the survivors remove
// the node's names). A Global is safe for concurrent use.
type Global struct {
	kv     jetstream.KeyValue
	js     jetstream.JetStream
	bucket string
	rt     *runtime.Runtime
	node   uint16
	log    *slog.Logger
	cache  *globalCache

	ctx       context.Context // ends at close
	cancel    context.CancelFunc
	watchMu   sync.Mutex
	watcher   jetstream.KeyWatcher // the current one; see global_watch.go
	watchers  sync.WaitGroup       // their loops
	janitor   *runtime.Process
	watchTag  int64      // the tag of the janitor's "watch this process" messages
	forgetTag int64      // and of its "this process holds no name now"
	bgMu      sync.Mutex // orders background's Add before close's Wait
	wg        sync.WaitGroup
}

// newGlobal starts the global registry of node on bucket, creating the
// bucket (file storage, one replica) when it does not exist; create it
// beforehand for other settings. ctx bounds the start: binding the
// bucket, starting the janitor and reading the bucket's current entries,
// so that the first lookup sees what was registered before.
func newGlobal(ctx context.Context, js jetstream.JetStream, rt *runtime.Runtime, node uint16, bucket string, log *slog.Logger) (*Global, error) {
	if node == 0 {
		return nil, errors.New("ward: global registry: node 0 is not a cluster node")
	}
	if log == nil {
		log = slog.Default()
	}
	kv, err := bindBucket(ctx, js, bucket)
	if err != nil {
		return nil, err
	}
	g := &Global{
		kv: kv, js: js, bucket: bucket, rt: rt, node: node,
		log:       log.With("component", "global", "node", node),
		cache:     newGlobalCache(),
		watchTag:  runtime.UniqueTag(),
		forgetTag: runtime.UniqueTag(),
	}
	g.cache.unheld = g.forgetProcess
	g.ctx, g.cancel = context.WithCancel(context.Background())
	if err := g.startJanitor(ctx); err != nil {
		g.cancel()
		return nil, err
	}
	if err := g.startWatch(ctx); err != nil {
		g.close()
		return nil, errs.Wrap(err, "global registry: watching bucket %q", bucket)
	}
	if err := g.cache.wait(ctx, func() bool { return g.cache.ready }); err != nil {
		g.close()
		return nil, errs.Wrap(err, "global registry: reading bucket %q", bucket)
	}
	// Names of this node's number that are in the bucket already belong
	// to an earlier node of that number (this registry has registered
	// nothing yet), whose process ids this runtime may be reusing: a
	// lookup must not find them. Its peers may not have swept them yet.
	g.sweep(ctx, node)
	return g, nil
}

func bindBucket(ctx context.Context, js jetstream.JetStream, bucket string) (jetstream.KeyValue, error) {
	kv, err := js.KeyValue(ctx, bucket)
	if errors.Is(err, jetstream.ErrBucketNotFound) {
		kv, err = js.CreateKeyValue(ctx, jetstream.KeyValueConfig{
			Bucket:      bucket,
			Description: "ward global registry",
			History:     1,
		})
		if errors.Is(err, jetstream.ErrBucketExists) {
			kv, err = js.KeyValue(ctx, bucket) // another node made it first
		}
	}
	if err != nil {
		return nil, errs.Wrap(err, "global registry: bucket %q", bucket)
	}
	return kv, nil
}

// close stops the watch and the janitor. Names stay: they go when their
// processes end or when the other nodes see this node leave.
func (g *Global) close() {
	g.bgMu.Lock()
	g.cancel()
	g.bgMu.Unlock()
	g.stopWatch()
	if g.janitor != nil {
		g.janitor.Kill()
	}
	g.wg.Wait()
}

func (g *Global) closedErr() error {
	if g == nil {
		return errors.New("ward: the global registry did not start on this node; its log says why")
	}
	if g.ctx.Err() != nil {
		return errs.Wrap(runtime.ErrClosed, "global registry is closed")
	}
	return nil
}

// Register gives pid the name at the exact version (build metadata
// ignored) in the whole cluster. pid may be on any node; an id of this
// node's runtime is qualified with this node. It fails with an error
// matching ErrNameTaken when any node holds the name at that version or
// is spawning it, and with ErrBadName or ErrBadVersion when either does
// not parse. The name goes when pid ends, when its node is lost, or by
// Unregister.
func (g *Global) Register(ctx context.Context, name, version string, pid runtime.ProcessID) error {
	v, err := g.entryKey(name, version)
	if err != nil {
		return err
	}
	if pid == 0 || uint64(pid)&route.LocalMask == 0 {
		return fmt.Errorf("ward: global register %s@%s: no process has id %d", name, v, pid)
	}
	q := route.Qualify(uint64(pid), g.node)
	rec := &globalRecord{Name: name, Version: v.String(), PID: q, Node: route.NodeOf(q)}
	key := globalKey(name, v)
	rev, err := g.create(ctx, key, rec)
	if err != nil && !revisionConflict(err) && ctx.Err() == nil {
		// The create may have landed with its answer lost (a timeout,
		// an election): if the bucket holds this very record, it did.
		rev, err = g.landed(ctx, key, rec, err)
	}
	if err != nil {
		return g.createErr(err, name, v)
	}
	g.cache.put(key, rev, rec, v)
	if rec.Node == g.node {
		g.watchProcess(q) // at once rather than when the watch brings it
	}
	return nil
}

func (g *Global) create(ctx context.Context, key string, rec *globalRecord) (uint64, error) {
	b, err := rec.encode()
	if err != nil {
		return 0, err
	}
	return g.kv.Create(ctx, key, b)
}

// landed reads key back after a create of rec failed with err, and
// returns the revision when the bucket holds rec (same process, same
// node), or err.
func (g *Global) landed(ctx context.Context, key string, rec *globalRecord, err error) (uint64, error) {
	e, gerr := g.kv.Get(ctx, key)
	if gerr != nil {
		return 0, err
	}
	if got, _, ok := decodeRecord(key, e.Value()); ok && got.PID == rec.PID && got.Node == rec.Node && got.Token == rec.Token {
		return e.Revision(), nil
	}
	return 0, err
}

// createErr explains a failed Create: taken (by whom, as far as this
// node knows), or the bucket's own error.
func (g *Global) createErr(err error, name string, v *semver.Version) error {
	if !revisionConflict(err) {
		return errs.Wrap(err, "global register %s@%s (it may have landed; Lookup tells)", name, v)
	}
	if n := g.cache.get(globalKey(name, v)); n != nil {
		if n.rec.placeholder() {
			return fmt.Errorf("%w: %s@%s is being spawned on node %d", ErrNameTaken, name, v, n.rec.Node)
		}
		return fmt.Errorf("%w: %s@%s is held by process %d on node %d", ErrNameTaken, name, v, n.rec.PID&route.LocalMask, n.rec.Node)
	}
	return fmt.Errorf("%w: %s@%s", ErrNameTaken, name, v)
}

// revisionConflict reports whether a write failed because the key's
// revision was not the one expected: a key that exists for Create, a
// changed one for Update and Delete. Replicated buckets report it with
// another code than single-replica ones, and a Create over a deleted key
// reports it unwrapped, so the API error's code decides.
func revisionConflict(err error) bool {
	if errors.Is(err, jetstream.ErrKeyExists) || errors.Is(err, jetstream.ErrKeyRevisionMismatch) {
		return true
	}
	var api *jetstream.APIError
	return errors.As(err, &api) && (api.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequence ||
		api.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequenceConstant)
}

// Unregister removes the name at the exact version (build metadata
// ignored), whichever process holds it. It deletes the entry at the
// revision this node last saw (read from the bucket when this node has not
// seen it), so it never removes an entry it did not see: when the entry
// changed meanwhile it fails with an error matching ErrNameConflict. It
// fails with ErrNameNotFound when the name is not held at that version,
// or is still being spawned by GetOrSpawn.
func (g *Global) Unregister(ctx context.Context, name, version string) error {
	v, err := g.entryKey(name, version)
	if err != nil {
		return err
	}
	key := globalKey(name, v)
	var rev uint64
	var rec *globalRecord
	if n := g.cache.get(key); n != nil {
		rev, rec = n.rev, n.rec
	} else {
		e, err := g.kv.Get(ctx, key)
		if errors.Is(err, jetstream.ErrKeyNotFound) || errors.Is(err, jetstream.ErrKeyDeleted) {
			return fmt.Errorf("%w: %s@%s", ErrNameNotFound, name, v)
		}
		if err != nil {
			return errs.Wrap(err, "global unregister %s@%s", name, v)
		}
		var ok bool
		if rec, _, ok = decodeRecord(key, e.Value()); !ok {
			return fmt.Errorf("%w: %s@%s (the bucket holds something else there)", ErrNameNotFound, name, v)
		}
		rev = e.Revision()
	}
	if rec.placeholder() {
		return fmt.Errorf("%w: %s@%s is being spawned on node %d", ErrNameNotFound, name, v, rec.Node)
	}
	err = g.kv.Delete(ctx, key, jetstream.LastRevision(rev))
	switch {
	case err == nil:
		g.cache.deleted(key, rev)
		return nil
	case revisionConflict(err):
		return fmt.Errorf("%w: %s@%s changed after revision %d", ErrNameConflict, name, v, rev)
	}
	return errs.Wrap(err, "global unregister %s@%s", name, v)
}

// Lookup returns the process holding name at the highest version that
// satisfies constraint (as in package registry: "^1.2", "~1.4.0",
// ">=2, <3", "1.2.3"; "" and "*" match any version that is not a
// pre-release), and that version. It answers from this node's copy of the
// registry; when that has no match and constraint names one exact
// version, it reads that key from the bucket once, to see a registration
// whose update is still on its way. It fails with ErrNameNotFound when
// nothing matches, and with ErrBadName or ErrBadVersion.
func (g *Global) Lookup(ctx context.Context, name, constraint string) (runtime.ProcessID, *semver.Version, error) {
	if err := g.closedErr(); err != nil {
		return 0, nil, err
	}
	if err := checkGlobalName(name); err != nil {
		return 0, nil, err
	}
	con, err := parseGlobalConstraint(constraint)
	if err != nil {
		return 0, nil, err
	}
	if n, ok := g.cache.lookup(name, con); ok {
		v := *n.version
		return runtime.ProcessID(n.rec.PID), &v, nil
	}
	if exact := exactGlobalVersion(constraint); exact != nil {
		key := globalKey(name, exact)
		e, err := g.kv.Get(ctx, key)
		switch {
		case err == nil:
			if rec, v, ok := decodeRecord(key, e.Value()); ok && !rec.placeholder() && con.Check(v) {
				return runtime.ProcessID(rec.PID), v, nil
			}
		case !errors.Is(err, jetstream.ErrKeyNotFound) && !errors.Is(err, jetstream.ErrKeyDeleted):
			return 0, nil, errs.Wrap(err, "global lookup %s@%s", name, constraint)
		}
	}
	return 0, nil, fmt.Errorf("%w: no %s matching %q", ErrNameNotFound, name, constraint)
}

// List returns the names registered, as this node knows them, sorted by
// name and then highest version first.
func (g *Global) List() []GlobalEntry {
	if g == nil {
		return nil
	}
	all := g.cache.all()
	out := make([]GlobalEntry, len(all))
	for i, n := range all {
		v := *n.version
		out[i] = GlobalEntry{Name: n.rec.Name, Version: &v, PID: runtime.ProcessID(n.rec.PID), Node: n.rec.Node}
	}
	return out
}

// deleteAt deletes key if it is still at rev, retrying errors of the
// bucket (an election, a lost connection) until ctx ends. A key that
// changed meanwhile is someone else's now and is left alone.
func (g *Global) deleteAt(ctx context.Context, key string, rev uint64) error {
	backoff := 50 * time.Millisecond
	for {
		err := g.kv.Delete(ctx, key, jetstream.LastRevision(rev))
		switch {
		case err == nil:
			g.cache.deleted(key, rev)
			return nil
		case revisionConflict(err):
			return nil
		}
		select {
		case <-ctx.Done():
			return errs.Wrap(err, "global registry: deleting %s at revision %d", key, rev)
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, 2*time.Second)
	}
}
