package cluster

import (
	"errors"
	"fmt"
	"math"
	"testing"

	"github.com/fxamacker/cbor/v2"

	"github.com/wardrt/ward/environment"
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
