package cluster

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/fxamacker/cbor/v2"

	"github.com/wardrt/ward/cluster/embed"
	"github.com/wardrt/ward/environment"
	"github.com/wardrt/ward/internal/route"
	"github.com/wardrt/ward/runtime"
)

// Entry parameters of every kind cross nodes unchanged.
func TestWireValuesRoundTrip(t *testing.T) {
	in := []runtime.Value{runtime.I32(-7), runtime.I64(math.MinInt64), runtime.F32(1.5), runtime.F64(-math.Pi), runtime.I32(math.MaxInt32)}
	w := toWire(in)
	b, err := cbor.Marshal(w)
	if err != nil {
		t.Fatal(err)
	}
	var back []wireValue
	if err := cbor.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	out, err := fromWire(back)
	if err != nil {
		t.Fatal(err)
	}
	for i := range in {
		if in[i] != out[i] {
			t.Errorf("param %d: %v came back as %v", i, in[i], out[i])
		}
	}
	if _, err := fromWire([]wireValue{{Kind: 9}}); !errors.Is(err, runtime.ErrBadParams) {
		t.Errorf("unknown kind: %v, want ErrBadParams", err)
	}
}

// A spawn request, limits included, survives its encoding.
func TestSpawnRequestRoundTrip(t *testing.T) {
	owner := environment.Config{MaxMemory: 1 << 20, Namespaces: []string{"ward_*"}}
	req := spawnRequest{Hash: "h", Entry: "main", Grant: "g", Config: environment.Config{MaxMemory: 4 << 16, MaxProcesses: 3,
		Permissions: environment.Permissions{Spawn: environment.Deny}, WASI: environment.WASI{Args: []string{"a"}}},
		OwnerConfig: &owner, Owner: []uint64{4, 1}}
	b, err := cbor.Marshal(req)
	if err != nil {
		t.Fatal(err)
	}
	var back spawnRequest
	if err := cbor.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	if back.OwnerConfig == nil {
		t.Fatal("OwnerConfig lost")
	}
	got := fmt.Sprintf("%+v %+v %+v", back.Config, *back.OwnerConfig, back.Owner)
	if want := fmt.Sprintf("%+v %+v %+v", req.Config, owner, req.Owner); got != want {
		t.Errorf("got %s, want %s", got, want)
	}
}

// Errors keep their identity across nodes through their code, and their
// text as the remote node wrote it.
func TestRemoteErrorsKeepTheirIdentity(t *testing.T) {
	for _, e := range remoteErrors[1:] {
		err := fmt.Errorf("ward: on node 3: %w", e)
		back := fromCode(errorCode(err), err.Error())
		if !errors.Is(back, e) || back.Error() != err.Error() {
			t.Errorf("%v came back as %v", err, back)
		}
	}
	if back := fromCode(errorCode(errors.New("other")), "other"); back.Error() != "other" || errors.Unwrap(back) != nil {
		t.Errorf("an unknown error came back as %#v", back)
	}
}

// newSpawner makes a spawner on rt with the module store of js and the
// given grants.
func newSpawner(t *testing.T, rt *runtime.Runtime, ms *modules, grants map[string]*runtime.Environment) *spawner {
	t.Helper()
	return &spawner{rt: rt, grants: grants, mods: ms, owners: &owners{}}
}

// A spawn runs in a fresh child environment of the grant it names,
// narrowed as the caller asked; a spawn wider than the grant, wider than
// the caller's own environment, naming host paths, or naming no grant the
// node has, is refused with its own error.
func TestSpawnerNarrowsTheGrant(t *testing.T) {
	ctx := testContext(t)
	js := startJS(t)
	caller, target := testRuntime(t), testRuntime(t)
	cms, err := openModules(ctx, caller, js, "ward_test_modules", 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	tms, err := openModules(ctx, target, js, "ward_test_modules", 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	m, err := cms.publish(ctx, "waiter", []byte(waiterWAT))
	if err != nil {
		t.Fatal(err)
	}
	grant, err := target.Environment().NewChild(environment.Config{MaxMemory: 8 << 16, MaxProcesses: 10})
	if err != nil {
		t.Fatal(err)
	}
	s := newSpawner(t, target, tms, map[string]*runtime.Environment{"jobs": grant})

	// Obeyed: the process runs in a child of the grant with the limit
	// asked for, and inherits the rest from the grant.
	id, err := s.spawn(ctx, 2, spawnRequest{Hash: m.Hash(), Entry: "wait", Grant: "jobs", Config: environment.Config{MaxMemory: 2 << 16}})
	if err != nil {
		t.Fatal(err)
	}
	p, ok := target.Process(runtime.ProcessID(id))
	if !ok {
		t.Fatal("spawned process not found on the target")
	}
	defer p.Kill()
	if p.Environment().Parent() != grant {
		t.Error("the process does not run in a child of the grant")
	}
	if got := p.Environment().Config(); got.MaxMemory != 2<<16 || got.MaxProcesses != 10 {
		t.Errorf("spawned in MaxMemory %d MaxProcesses %d, want %d and the grant's 10", got.MaxMemory, got.MaxProcesses, 2<<16)
	}
	if p.Module().Hash() != m.Hash() {
		t.Error("spawned another module")
	}

	owner := withoutHost(caller.Environment().Config())
	owner.MaxMemory = 4 << 16
	owner.Namespaces = []string{"ward_*"}
	owner.Permissions.Spawn = environment.Deny
	refusals := []struct {
		name string
		req  spawnRequest
		want error
	}{
		{"no such grant", spawnRequest{Grant: "nope"}, ErrUnknownGrant},
		{"wider than the grant", spawnRequest{Grant: "jobs", Config: environment.Config{MaxMemory: 16 << 16}}, environment.ErrWiden},
		{"wider than the owner", spawnRequest{Grant: "jobs", Config: environment.Config{MaxMemory: 6 << 16}, OwnerConfig: &owner}, environment.ErrWiden},
		{"host paths", spawnRequest{Grant: "jobs", Config: environment.Config{WASI: environment.WASI{Dirs: []environment.Dir{{HostPath: "/", GuestPath: "/"}}}}}, ErrNotPortable},
		{"no such entry", spawnRequest{Hash: m.Hash(), Grant: "jobs", Entry: "nope"}, runtime.ErrNoEntry},
	}
	for _, r := range refusals {
		if r.req.Hash == "" {
			r.req.Hash = m.Hash()
		}
		if r.req.Entry == "" {
			r.req.Entry = "wait"
		}
		if _, err := s.spawn(ctx, 2, r.req); !errors.Is(err, r.want) {
			t.Errorf("%s: %v, want %v", r.name, err, r.want)
		}
	}
	// What the caller leaves to inherit comes from the narrower of the
	// grant and its own environment.
	id, err = s.spawn(ctx, 2, spawnRequest{Hash: m.Hash(), Entry: "wait", Grant: "jobs", OwnerConfig: &owner})
	if err != nil {
		t.Fatalf("inheriting under an owner: %v", err)
	}
	p, ok = target.Process(runtime.ProcessID(id))
	if !ok {
		t.Fatal("spawned process not found on the target")
	}
	defer p.Kill()
	got := p.Environment().Config()
	if got.MaxMemory != 4<<16 || got.MaxProcesses != 10 || got.Permissions.Spawn != environment.Deny || fmt.Sprint(got.Namespaces) != "[ward_*]" {
		t.Errorf("under an owner: MaxMemory %d MaxProcesses %d Spawn %v Namespaces %v, want %d, 10, Deny, [ward_*]",
			got.MaxMemory, got.MaxProcesses, got.Permissions.Spawn, got.Namespaces, 4<<16)
	}
}

// waiterWAT waits for one message, then ends.
const waiterWAT = `(module
  (import "ward_message" "receive" (func $receive (param i32 i32 i64) (result i32)))
  (memory (export "memory") 1)
  (func (export "wait")
    (drop (call $receive (i32.const 0) (i32.const 0) (i64.const -1)))))`

// spawnCluster is n runtimes joined to one embedded server, each
// granting "jobs" (a child of its root) and "small" (MaxMemory of two
// pages) to remote spawns.
type spawnCluster struct {
	nodes []*Node
	rts   []*runtime.Runtime
}

func startSpawnCluster(t testing.TB, n int) *spawnCluster {
	t.Helper()
	creds := make([]embed.Cred, n)
	for i := range creds {
		c, err := embed.NewCred()
		if err != nil {
			t.Fatal(err)
		}
		creds[i] = c
	}
	sctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	srv, err := embed.Start(sctx, embed.Options{StoreDir: t.TempDir(), Nodes: creds})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Close)
	sc := &spawnCluster{}
	for i := 0; i < n; i++ {
		rt := testRuntime(t)
		jobs, err := rt.Environment().NewChild(environment.Config{})
		if err != nil {
			t.Fatal(err)
		}
		small, err := rt.Environment().NewChild(environment.Config{MaxMemory: 2 * environment.PageSize})
		if err != nil {
			t.Fatal(err)
		}
		nc, err := srv.Connect(creds[i])
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(nc.Close)
		cfg := testConfig(nc)
		// No test here detects a crash: two seconds of silence, not
		// testConfig's 300 ms, before a node counts as down. Under the
		// full suite's load a stalled node (and a NATS slow-consumer
		// drop of its heartbeats) once made a spawn fail with "not up".
		cfg.HeartbeatMisses = 40
		cfg.Seed = creds[i].Seed()
		cfg.Grants = map[string]*runtime.Environment{JobGrant: jobs, "small": small}
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		nd, err := Join(ctx, rt, cfg)
		cancel()
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { nd.Leave(context.Background()) })
		sc.nodes, sc.rts = append(sc.nodes, nd), append(sc.rts, rt)
	}
	deadline := time.Now().Add(20 * time.Second)
	for _, a := range sc.nodes {
		for _, b := range sc.nodes {
			for a != b && !isUp(a, b.ID()) {
				if time.Now().After(deadline) {
					t.Fatalf("node %d does not see node %d up", a.ID(), b.ID())
				}
				time.Sleep(2 * time.Millisecond)
			}
		}
	}
	return sc
}

// waitGone waits until id is not alive, as rt sees it.
func waitGone(t *testing.T, rt *runtime.Runtime, id runtime.ProcessID) {
	t.Helper()
	ctx := testContext(t)
	for {
		ok, err := rt.Exists(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		if !ok {
			return
		}
		select {
		case <-ctx.Done():
			t.Fatalf("process %d still alive", id)
		case <-time.After(2 * time.Millisecond):
		}
	}
}

// paramsWAT waits with four parameters, one of each kind; killerWAT kills
// the process its parameter names.
const (
	paramsWAT = `(module
  (import "ward_message" "receive" (func $receive (param i32 i32 i64) (result i32)))
  (memory (export "memory") 1)
  (func (export "wait") (param i32 i64 f32 f64)
    (drop (call $receive (i32.const 0) (i32.const 0) (i64.const -1)))))`
	killerWAT = `(module
  (import "ward_process" "kill" (func $kill (param i64) (result i32)))
  (import "ward_process" "link" (func $link (param i64) (result i32)))
  (import "ward_message" "receive" (func $receive (param i32 i32 i64) (result i32)))
  (import "ward_message" "create_data" (func $create (param i64)))
  (import "ward_message" "send" (func $send (param i64) (result i32)))
  (memory (export "memory") 1)
  (func (export "kill") (param $pid i64)
    (drop (call $kill (local.get $pid))))
  ;; link links to pid, tells report it has, and waits
  (func (export "link") (param $pid i64) (param $report i64)
    (drop (call $link (local.get $pid)))
    (call $create (i64.const 1))
    (drop (call $send (local.get $report)))
    (drop (call $receive (i32.const 0) (i32.const 0) (i64.const -1)))))`
)

// A node spawns on another a module that node never loaded: the target
// fetches it from the object store by hash, checks it, and runs it with
// the caller's parameters; the id names the target's node.
func TestRemoteSpawnShipsTheModule(t *testing.T) {
	ctx := testContext(t)
	sc := startSpawnCluster(t, 3)
	a, b := sc.nodes[0], sc.nodes[1]
	m, err := a.Publish(ctx, "params", []byte(paramsWAT))
	if err != nil {
		t.Fatal(err)
	}
	pid, err := a.Spawn(ctx, b.ID(), m.Hash(), "wait", SpawnOptions{Grant: JobGrant},
		runtime.I32(1), runtime.I64(2), runtime.F32(3), runtime.F64(4))
	if err != nil {
		t.Fatal(err)
	}
	if pid.Node() != b.ID() {
		t.Fatalf("pid %x names node %d, want %d", pid, pid.Node(), b.ID())
	}
	p, ok := sc.rts[1].Process(pid)
	if !ok {
		t.Fatal("the process is not on the target")
	}
	if p.Module().Hash() != m.Hash() || p.Module() == m {
		t.Errorf("the target runs module %s (%p), want its own compile of %s", p.Module().Hash(), p.Module(), m.Hash())
	}
	if ok, err := sc.rts[0].Exists(ctx, pid); !ok || err != nil {
		t.Errorf("Exists from the caller: %v %v", ok, err)
	}
	// Parameters of the wrong kinds are refused there, and the error
	// says so here.
	_, err = a.Spawn(ctx, b.ID(), m.Hash(), "wait", SpawnOptions{Grant: JobGrant}, runtime.I32(1))
	if !errors.Is(err, runtime.ErrBadParams) {
		t.Errorf("wrong params: %v, want ErrBadParams", err)
	}
	// Go code on the caller may kill it.
	if err := sc.rts[0].Kill(ctx, pid); err != nil {
		t.Fatal(err)
	}
	waitGone(t, sc.rts[0], pid)
	// Spawning here (node 0) goes by the same rules.
	local, err := a.Spawn(ctx, 0, m.Hash(), "wait", SpawnOptions{Grant: JobGrant},
		runtime.I32(1), runtime.I64(2), runtime.F32(3), runtime.F64(4))
	if err != nil {
		t.Fatal(err)
	}
	if p, ok := sc.rts[0].Process(local); !ok {
		t.Error("the local spawn is not here")
	} else {
		p.Kill()
	}
}

// The target checks what the store gives it: bytes put under another
// module's hash are refused there, and the caller reads ErrHashMismatch.
func TestRemoteSpawnRefusesACorruptedObject(t *testing.T) {
	ctx := testContext(t)
	sc := startSpawnCluster(t, 2)
	a, b := sc.nodes[0], sc.nodes[1]
	ms, err := a.modules(ctx)
	if err != nil {
		t.Fatal(err)
	}
	wanted := []byte(waiterWAT)
	if _, err := ms.obs.PutBytes(ctx, hashOf(wanted), []byte(paramsWAT)); err != nil {
		t.Fatal(err)
	}
	_, err = a.Spawn(ctx, b.ID(), hashOf(wanted), "wait", SpawnOptions{Grant: JobGrant})
	if !errors.Is(err, ErrHashMismatch) {
		t.Fatalf("spawn of a corrupted object: %v, want ErrHashMismatch", err)
	}
	if n := sc.nodes[1].cfg.Grants[JobGrant].NumProcesses(); n != 0 {
		t.Errorf("%d processes in the target's grant", n)
	}
}

// Grants: a spawn names one the target has, or is refused; it runs in a
// child of it narrowed as asked, and one that asks for more than the
// grant, or than its Owner has, is refused. A node that is not up is
// route.ErrNoNode.
func TestRemoteSpawnObeysGrants(t *testing.T) {
	ctx := testContext(t)
	sc := startSpawnCluster(t, 2)
	a, b := sc.nodes[0], sc.nodes[1]
	m, err := a.Publish(ctx, "waiter", []byte(waiterWAT))
	if err != nil {
		t.Fatal(err)
	}
	spawn := func(opts SpawnOptions) (runtime.ProcessID, error) {
		return a.Spawn(ctx, b.ID(), m.Hash(), "wait", opts)
	}
	if _, err := spawn(SpawnOptions{Grant: "root"}); !errors.Is(err, ErrUnknownGrant) {
		t.Errorf("unknown grant: %v, want ErrUnknownGrant", err)
	}
	if _, err := spawn(SpawnOptions{Grant: "small", Config: environment.Config{MaxMemory: 4 * environment.PageSize}}); !errors.Is(err, environment.ErrWiden) {
		t.Errorf("wider than the grant: %v, want ErrWiden", err)
	}
	narrow, err := sc.rts[0].Environment().NewChild(environment.Config{MaxMemory: environment.PageSize})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := spawn(SpawnOptions{Grant: JobGrant, Owner: narrow, Config: environment.Config{MaxMemory: 2 * environment.PageSize}}); !errors.Is(err, environment.ErrWiden) {
		t.Errorf("wider than the owner: %v, want ErrWiden", err)
	}
	pid, err := spawn(SpawnOptions{Grant: JobGrant, Owner: narrow})
	if err != nil {
		t.Fatal(err)
	}
	p, ok := sc.rts[1].Process(pid)
	if !ok {
		t.Fatal("not on the target")
	}
	defer p.Kill()
	if got := p.Environment().Config().MaxMemory; got != environment.PageSize {
		t.Errorf("under a one-page owner: MaxMemory %d, want %d", got, environment.PageSize)
	}
	if p.Environment().Parent() != b.cfg.Grants[JobGrant] {
		t.Error("not in a child of the grant")
	}
	if _, err := a.Spawn(ctx, 999, m.Hash(), "wait", SpawnOptions{Grant: JobGrant}); !errors.Is(err, route.ErrNoNode) {
		t.Errorf("node 999: %v, want route.ErrNoNode", err)
	}
}

// The subtree rule across nodes: a guest of the spawn's Owner may kill
// the spawned process from the caller's node; a guest of another
// environment there may not (the target lives on, and the refusal is
// counted on its node).
func TestRemoteKillFollowsTheOwner(t *testing.T) {
	ctx := testContext(t)
	sc := startSpawnCluster(t, 2)
	a, b := sc.nodes[0], sc.nodes[1]
	m, err := a.Publish(ctx, "waiter", []byte(waiterWAT))
	if err != nil {
		t.Fatal(err)
	}
	killer, err := sc.rts[0].LoadModule(ctx, "killer", []byte(killerWAT))
	if err != nil {
		t.Fatal(err)
	}
	owner, err := sc.rts[0].Environment().NewChild(environment.Config{})
	if err != nil {
		t.Fatal(err)
	}
	other, err := sc.rts[0].Environment().NewChild(environment.Config{})
	if err != nil {
		t.Fatal(err)
	}
	below := child(t, owner)
	target, err := a.Spawn(ctx, b.ID(), m.Hash(), "wait", SpawnOptions{Grant: JobGrant, Owner: owner})
	if err != nil {
		t.Fatal(err)
	}
	kill := func(env *runtime.Environment) {
		t.Helper()
		if _, err := env.Run(ctx, killer, "kill", runtime.I64(int64(target))); err != nil {
			t.Fatal(err)
		}
	}
	for i, env := range []*runtime.Environment{other, below} {
		kill(env)
		// Exists goes after the kill, in order, on the same pair.
		if ok, err := sc.rts[0].Exists(ctx, target); !ok || err != nil {
			t.Fatalf("after a kill from outside the owner's chain: alive %v, %v", ok, err)
		}
		if got := b.Stats().KillsRefused; got != uint64(i+1) {
			t.Errorf("KillsRefused %d, want %d", got, i+1)
		}
	}
	kill(owner)
	waitGone(t, sc.rts[0], target)
}

// Links follow the same rule: a guest outside the Owner's chain that
// links to the spawned process is refused (the link fires at once with
// the refusal as its reason, and the target lives on); one of the Owner
// links, and the target's end then ends it.
func TestRemoteLinkFollowsTheOwner(t *testing.T) {
	ctx := testContext(t)
	sc := startSpawnCluster(t, 2)
	a, b := sc.nodes[0], sc.nodes[1]
	m, err := a.Publish(ctx, "waiter", []byte(waiterWAT))
	if err != nil {
		t.Fatal(err)
	}
	linker, err := sc.rts[0].LoadModule(ctx, "linker", []byte(killerWAT))
	if err != nil {
		t.Fatal(err)
	}
	owner, other := child(t, sc.rts[0].Environment()), child(t, sc.rts[0].Environment())
	target, err := a.Spawn(ctx, b.ID(), m.Hash(), "wait", SpawnOptions{Grant: JobGrant, Owner: owner})
	if err != nil {
		t.Fatal(err)
	}
	linked := make(chan struct{}, 1)
	collector, err := sc.rts[0].Environment().SpawnGo(ctx, "collector", func(ctx context.Context, self *runtime.Self) error {
		for {
			if _, err := self.Receive(ctx, 1); err != nil {
				return nil
			}
			linked <- struct{}{}
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	defer collector.Kill()
	report := runtime.I64(int64(collector.ID()))
	// The outsider reports to no one: the refusal may end it first.
	outsider, err := other.Spawn(ctx, linker, "link", runtime.I64(int64(target)), runtime.I64(0))
	if err != nil {
		t.Fatal(err)
	}
	reason, err := outsider.Wait(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if reason.Normal() || !strings.Contains(reason.Error(), "not permitted") {
		t.Errorf("the outsider ended with %v, want the refusal", reason)
	}
	if got := b.Stats().LinksRefused; got != 1 {
		t.Errorf("LinksRefused %d, want 1", got)
	}
	if ok, err := sc.rts[0].Exists(ctx, target); !ok || err != nil {
		t.Fatalf("the target after a refused link: alive %v, %v", ok, err)
	}
	insider, err := owner.Spawn(ctx, linker, "link", runtime.I64(int64(target)), report)
	if err != nil {
		t.Fatal(err)
	}
	select {
	case <-linked:
	case <-ctx.Done():
		t.Fatal("no word from the owner's linker")
	}
	// Exists, then the kill, go after the link on the same pair, in order.
	if ok, err := sc.rts[0].Exists(ctx, target); !ok || err != nil {
		t.Fatalf("target after the owner's link: %v %v", ok, err)
	}
	if got := b.Stats().LinksRefused; got != 1 {
		t.Errorf("LinksRefused %d after the owner's link, want 1", got)
	}
	if err := sc.rts[0].Kill(ctx, target); err != nil {
		t.Fatal(err)
	}
	reason, err = insider.Wait(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if reason != runtime.Killed {
		t.Errorf("the linked owner's guest ended with %v, want killed", reason)
	}
}
