package runtime

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/wardrt/ward/environment"
	"github.com/wardrt/ward/internal/abi"
	"github.com/wardrt/ward/testdata"
)

func TestFuelLimit(t *testing.T) {
	r := newRuntime(t)
	env, err := r.NewEnvironment(environment.Config{MaxFuel: 1_000_000})
	if err != nil {
		t.Fatal(err)
	}
	spin := load(t, r, "spin", testdata.Spin)
	reason := wait(t, spawn(t, env, spin, "spin"))
	var fe *FuelError
	if !errors.Is(reason, ErrOutOfFuel) || !errors.As(reason, &fe) || fe.Limit != 1_000_000 || fe.Trap.Code != TrapOutOfFuel {
		t.Fatalf("reason %T %v, want *FuelError", reason, reason)
	}
	// A job within the budget is unaffected.
	if reason := wait(t, spawn(t, env, spin, "count", I64(1000))); reason != Normal {
		t.Fatalf("small job: %v", reason)
	}
}

func TestMemoryLimit(t *testing.T) {
	r := newRuntime(t)
	const limit = 1 << 20
	env, err := r.NewEnvironment(environment.Config{MaxMemory: limit})
	if err != nil {
		t.Fatal(err)
	}
	grow := load(t, r, "growmem", testdata.GrowMem)
	t.Run("trap after a refused grow", func(t *testing.T) {
		reason := wait(t, spawn(t, env, grow, "grow_forever"))
		var me *MemoryLimitError
		var te *TrapError
		if !errors.Is(reason, ErrMemoryLimit) || !errors.As(reason, &me) || me.Limit != limit || me.Used != limit || !errors.As(reason, &te) {
			t.Fatalf("reason %T %v, want *MemoryLimitError caused by a trap", reason, reason)
		}
	})
	t.Run("exit after a refused grow", func(t *testing.T) {
		reason := wait(t, spawn(t, env, grow, "grow_then_exit"))
		var ee *ExitError
		if !errors.Is(reason, ErrMemoryLimit) || !errors.As(reason, &ee) || ee.Code != 3 {
			t.Fatalf("reason %T %v, want *MemoryLimitError caused by exit 3", reason, reason)
		}
	})
	t.Run("initial memory above the limit", func(t *testing.T) {
		big := load(t, r, "bigmem", testdata.BigMem)
		reason := wait(t, spawn(t, env, big, "run"))
		var ie *InstantiateError
		if !errors.As(reason, &ie) || !errors.Is(reason, ErrMemoryLimit) {
			t.Fatalf("reason %T %v, want *InstantiateError matching ErrMemoryLimit", reason, reason)
		}
		// The same module runs where the limit allows it.
		if reason := wait(t, spawn(t, r.Environment(), big, "run")); reason != Normal {
			t.Fatalf("bigmem in the root environment: %v", reason)
		}
	})
	t.Run("table bomb", func(t *testing.T) {
		m := load(t, r, "tablegrow", testdata.TableGrow)
		var te *TrapError
		if reason := wait(t, spawn(t, env, m, "grow_forever")); !errors.As(reason, &te) || te.Code != TrapUnreachableCodeReached {
			t.Fatalf("reason %v, want the guest's trap once table.grow is refused", reason)
		}
	})
}

func TestNamespaceNotAllowedIsRefused(t *testing.T) {
	r := newRuntime(t)
	env, err := r.NewEnvironment(environment.Config{Namespaces: []string{abi.NamespaceWASI}})
	if err != nil {
		t.Fatal(err)
	}
	procs := load(t, r, "procs", testdata.Procs)
	_, err = env.Spawn(testCtx(t), procs, "sleep_forever")
	var de *environment.DeniedError
	if !errors.Is(err, environment.ErrNamespaceDenied) || !errors.As(err, &de) || de.Import.Module != abi.NamespaceProcess {
		t.Fatalf("Spawn = %v, want a denial naming ward_process", err)
	}
	if !strings.Contains(err.Error(), `"ward_process"`) {
		t.Fatalf("error %q does not name the import", err)
	}
	// A module needing nothing it lacks still runs there.
	hello := load(t, r, "wasi_hello", testdata.WASIHello)
	if reason := wait(t, spawn(t, env, hello, "_start")); reason != Normal {
		t.Fatalf("wasi_hello: %v", reason)
	}
}

func TestSpawnLimit(t *testing.T) {
	r := newRuntime(t)
	parent, err := r.NewEnvironment(environment.Config{MaxProcesses: 5})
	if err != nil {
		t.Fatal(err)
	}
	child, err := parent.NewChild(environment.Config{MaxProcesses: 3})
	if err != nil {
		t.Fatal(err)
	}
	procs := load(t, r, "procs", testdata.Procs)
	var ps []*Process
	for range 3 {
		ps = append(ps, spawn(t, child, procs, "sleep_forever"))
	}
	if _, err := child.Spawn(testCtx(t), procs, "sleep_forever"); !errors.Is(err, ErrProcessLimit) {
		t.Fatalf("4th spawn in a child limited to 3: %v", err)
	}
	for range 2 {
		ps = append(ps, spawn(t, parent, procs, "sleep_forever"))
	}
	if _, err := parent.Spawn(testCtx(t), procs, "sleep_forever"); !errors.Is(err, ErrProcessLimit) {
		t.Fatalf("6th spawn under a parent limited to 5 (3 of them in its child): %v", err)
	}
	ps[0].Kill()
	wait(t, ps[0])
	if p, err := child.Spawn(testCtx(t), procs, "sleep_forever"); err != nil {
		t.Fatalf("spawn after a process ended: %v", err)
	} else {
		p.Kill()
	}
	if got := parent.NumProcesses(); got > 5 {
		t.Fatalf("parent counts %d processes", got)
	}
}

func TestSpawnBombIsContained(t *testing.T) {
	r := newRuntime(t)
	const limit = 50
	env, err := r.NewEnvironment(environment.Config{MaxProcesses: limit, MaxFuel: 50_000_000})
	if err != nil {
		t.Fatal(err)
	}
	procs := load(t, r, "procs", testdata.Procs)
	spawn(t, env, procs, "bomb")
	// Each bomb spawns until refused, then exits with the refusal status:
	// the environment never holds more than its limit and the bombs get
	// ErrLimit, not a crash.
	deadline := time.Now().Add(300 * time.Millisecond)
	for time.Now().Before(deadline) {
		if n := env.NumProcesses(); n > limit {
			t.Fatalf("%d processes alive in an environment limited to %d", n, limit)
		}
		time.Sleep(time.Millisecond)
	}
	if r.NumProcesses() > limit {
		t.Fatalf("runtime holds %d processes", r.NumProcesses())
	}
	// The runtime's Close (in cleanup) must end the storm.
}

func TestSpawnPermission(t *testing.T) {
	r := newRuntime(t)
	env, err := r.NewEnvironment(environment.Config{Permissions: environment.Permissions{Spawn: environment.Deny}})
	if err != nil {
		t.Fatal(err)
	}
	procs := load(t, r, "procs", testdata.Procs)
	var ee *ExitError
	if reason := wait(t, spawn(t, env, procs, "bomb")); !errors.As(reason, &ee) || ee.Code != abi.ErrPermission {
		t.Fatalf("bomb without the spawn permission: %v, want exit %d", reason, abi.ErrPermission)
	}
}

func TestGuestSpawn(t *testing.T) {
	r := newRuntime(t)
	procs := load(t, r, "procs", testdata.Procs)
	parent := spawn(t, r.Environment(), procs, "spawn_child", I32(60_000))
	if reason := wait(t, parent); reason != Normal {
		t.Fatalf("parent: %v", reason)
	}
	waitFor(t, 5*time.Second, "the child", func() bool { return r.NumProcesses() == 1 })
	r.mu.Lock()
	var child *Process
	for _, p := range r.procs {
		child = p
	}
	r.mu.Unlock()
	if child.Entry() != "child" || child.parent != parent.ID() || child.Module() != procs {
		t.Fatalf("child %v spawned by %d", child, child.parent)
	}
	child.Kill()
	wait(t, child)
}

func TestSpawnChecksEntry(t *testing.T) {
	r := newRuntime(t)
	env := r.Environment()
	m := load(t, r, "trivial", testdata.Trivial)
	ctx := testCtx(t)
	if _, err := env.Spawn(ctx, m, "nope"); !errors.Is(err, ErrNoEntry) {
		t.Fatalf("missing entry: %v", err)
	}
	if _, err := env.Spawn(ctx, m, "add", I32(1)); !errors.Is(err, ErrBadParams) {
		t.Fatalf("too few params: %v", err)
	}
	if _, err := env.Spawn(ctx, m, "add", I64(1), I64(2)); !errors.Is(err, ErrBadParams) {
		t.Fatalf("wrong param type: %v", err)
	}
	other := newRuntime(t)
	if _, err := other.Environment().Spawn(ctx, m, "run"); !errors.Is(err, ErrForeignModule) {
		t.Fatalf("module of another runtime: %v", err)
	}
	if reason := wait(t, spawn(t, env, m, "add", I32(-3), I64(10))); reason != Normal {
		t.Fatalf("add: %v", reason)
	}
}

// A start function that runs out of fuel ends the way it would later in
// the process's life: its InstantiateError wraps the same FuelError.
func TestInstantiationLimitsEndLikeLater(t *testing.T) {
	r := newRuntime(t)
	env := childEnv(t, r.Environment(), environment.Config{MaxFuel: 10000, MaxMemory: 2 << 16})
	spin := load(t, r, "spin_start", []byte(`(module (memory 1) (func $s (loop $l (br $l))) (start $s) (func (export "run")))`))
	reason := wait(t, spawn(t, env, spin, "run"))
	var ie *InstantiateError
	var fe *FuelError
	if !errors.As(reason, &ie) || !errors.Is(reason, ErrOutOfFuel) || !errors.As(reason, &fe) {
		t.Fatalf("a start function out of fuel: %T %v, want an InstantiateError matching ErrOutOfFuel", reason, reason)
	}
	if reasonKind(reason) != reasonKind(&FuelError{}) {
		t.Fatalf("guests see kind %d, want out of fuel as for a later end", reasonKind(reason))
	}

	// A start function that grows its memory until refused, then traps,
	// as a guest's allocator does.
	grow := load(t, r, "grow_start", []byte(`(module (memory 1)
	  (func $s (loop $l (br_if $l (i32.ne (memory.grow (i32.const 1)) (i32.const -1)))) unreachable)
	  (start $s) (func (export "run")))`))
	reason = wait(t, spawn(t, env, grow, "run"))
	var me *MemoryLimitError
	if !errors.As(reason, &ie) || !errors.Is(reason, ErrMemoryLimit) || !errors.As(reason, &me) {
		t.Fatalf("a start function out of memory: %T %v, want an InstantiateError matching ErrMemoryLimit", reason, reason)
	}
	if me.Limit != 2<<16 || me.Used != 2<<16 {
		t.Fatalf("MemoryLimitError says %d of %d used, want %d of %d", me.Used, me.Limit, 2<<16, 2<<16)
	}
	if reasonKind(reason) != reasonKind(me) {
		t.Fatalf("guests see kind %d, want memory limit as for a later end", reasonKind(reason))
	}
}
