package runtime

import (
	"errors"
	"log/slog"
	"sync"
	"testing"

	"github.com/wardrt/ward/environment"
	"github.com/wardrt/ward/internal/abi"
	"github.com/wardrt/ward/registry"
	"github.com/wardrt/ward/testdata"
)

func TestRegistryFromGo(t *testing.T) {
	r := newRuntime(t)
	env := r.Environment()
	procs := load(t, r, "procs", testdata.Procs)
	v1 := spawn(t, env, procs, "sleep_forever")
	v12 := spawn(t, env, procs, "sleep_forever")
	v2 := spawn(t, env, procs, "sleep_forever")
	for p, v := range map[*Process]string{v1: "1.0.0", v12: "1.2.3", v2: "2.0.0"} {
		if err := env.Register("db", v, p); err != nil {
			t.Fatal(err)
		}
	}
	if p, v, err := env.Lookup("db", "^1.2"); err != nil || p != v12 || v.String() != "1.2.3" {
		t.Fatalf("Lookup ^1.2 = %v %v %v", p, v, err)
	}
	if err := env.Register("db", "1.2.3", v1); !errors.Is(err, registry.ErrTaken) {
		t.Fatalf("second holder of db@1.2.3: %v", err)
	}
	// Names are per environment.
	child, _ := env.NewChild(environment.Config{})
	if _, _, err := child.Lookup("db", ""); !errors.Is(err, ErrNotRegistered) {
		t.Fatalf("child sees the parent's names: %v", err)
	}
	// A name goes with its process, and can be taken again.
	v12.Kill()
	wait(t, v12)
	if _, _, err := env.Lookup("db", "^1.2"); !errors.Is(err, ErrNotRegistered) {
		t.Fatalf("after db@1.2.3 exited nothing matches ^1.2: %v", err)
	}
	if p, v, err := env.Lookup("db", "^1"); err != nil || p != v1 || v.String() != "1.0.0" {
		t.Fatalf("Lookup ^1 = %v %v %v", p, v, err)
	}
	if err := env.Register("db", "1.2.3", v1); err != nil {
		t.Fatalf("reusing a name after its process exited: %v", err)
	}
	if err := env.Register("db", "9.0.0", v12); !errors.Is(err, ErrNoProcess) {
		t.Fatalf("registering an ended process: %v", err)
	}
}

func TestGetOrSpawnUnderConcurrency(t *testing.T) {
	r := newRuntime(t)
	env := r.Environment()
	procs := load(t, r, "procs", testdata.Procs)
	const callers = 100
	got := make([]*Process, callers)
	spawned := make([]bool, callers)
	var wg sync.WaitGroup
	for i := range callers {
		wg.Go(func() {
			p, s, err := env.GetOrSpawn(testCtx(t), "cache", "1.0.0", procs, "sleep_forever")
			if err != nil {
				t.Error(err)
			}
			got[i], spawned[i] = p, s
		})
	}
	wg.Wait()
	n := 0
	for i := range callers {
		if got[i] != got[0] {
			t.Fatal("callers got different processes")
		}
		if spawned[i] {
			n++
		}
	}
	if n != 1 || r.NumProcesses() != 1 {
		t.Fatalf("%d callers spawned, %d processes alive; want 1 and 1", n, r.NumProcesses())
	}
}

// registryWAT registers itself as svc@<version from its param> and idles;
// finder looks svc up with "^1" and exits with the status, or 0 and the id
// checks out; getter calls get_or_spawn("svc", "3.0.0", "idle").
const registryWAT = `(module $reg
  (import "ward_process" "exit" (func $exit (param i32)))
  (import "ward_process" "sleep_ms" (func $sleep (param i64)))
  (import "ward_registry" "register" (func $register (param i32 i32 i32 i32) (result i32)))
  (import "ward_registry" "lookup" (func $lookup (param i32 i32 i32 i32 i32) (result i32)))
  (import "ward_registry" "get_or_spawn" (func $gos (param i32 i32 i32 i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  (data (i32.const 0) "svc")
  (data (i32.const 16) "1.4.0")
  (data (i32.const 32) "^1")
  (data (i32.const 48) "3.0.0")
  (data (i32.const 64) "idle")
  (func $idle (export "idle") (loop $l (call $sleep (i64.const 1000000)) (br $l)))
  (func $serve (export "serve")
    (if (call $register (i32.const 0) (i32.const 3) (i32.const 16) (i32.const 5))
      (then (call $exit (i32.const 9))))
    (call $idle))
  (func $register_twice (export "register_twice")
    (call $exit (call $register (i32.const 0) (i32.const 3) (i32.const 16) (i32.const 5))))
  (func $register_then_crash (export "register_then_crash")
    (drop (call $register (i32.const 0) (i32.const 3) (i32.const 16) (i32.const 5)))
    unreachable)
  (func $finder (export "finder")
    (call $exit (call $lookup (i32.const 0) (i32.const 3) (i32.const 32) (i32.const 2) (i32.const 128))))
  (func $bad_version (export "bad_version")
    (call $exit (call $register (i32.const 0) (i32.const 3) (i32.const 64) (i32.const 4))))
  (func $getter (export "getter")
    (call $exit (call $gos (i32.const 0) (i32.const 3) (i32.const 48) (i32.const 5) (i32.const 64) (i32.const 4) (i32.const 128))))
)`

func TestRegistryFromGuests(t *testing.T) {
	h := &recordingHandler{}
	r := newRuntime(t, WithLogger(slog.New(h)))
	env := r.Environment()
	m := load(t, r, "reg", []byte(registryWAT))
	server := spawn(t, env, m, "serve")
	waitFor(t, testTimeout, "the registration", func() bool { _, _, err := env.Lookup("svc", "1.4.0"); return err == nil })
	var ee *ExitError
	if reason := wait(t, spawn(t, env, m, "finder")); reason != Normal {
		t.Fatalf("finder: %v", reason)
	}
	if reason := wait(t, spawn(t, env, m, "register_twice")); !errors.As(reason, &ee) || ee.Code != abi.ErrTaken {
		t.Fatalf("register_twice: %v", reason)
	}
	if reason := wait(t, spawn(t, env, m, "bad_version")); !errors.As(reason, &ee) || ee.Code != abi.ErrInvalid {
		t.Fatalf("bad_version: %v", reason)
	}
	for range 3 {
		if reason := wait(t, spawn(t, env, m, "getter")); reason != Normal {
			t.Fatalf("getter: %v", reason)
		}
	}
	if p, _, err := env.Lookup("svc", "3"); err != nil || p.Entry() != "idle" || r.NumProcesses() != 2 {
		t.Fatalf("get_or_spawn made %v (%v), %d processes alive", p, err, r.NumProcesses())
	}
	// The name shows in the failure of its holder.
	server.Kill()
	wait(t, server)
	if reason := wait(t, spawn(t, env, m, "finder")); !errors.As(reason, &ee) || ee.Code != abi.ErrNotFound {
		t.Fatalf("finder after the server exited: %v", reason)
	}
}

func TestTrapNamesItsRegisteredNames(t *testing.T) {
	h := &recordingHandler{}
	r := newRuntime(t, WithLogger(slog.New(h)))
	m := load(t, r, "reg", []byte(registryWAT))
	reason := wait(t, spawn(t, r.Environment(), m, "register_then_crash"))
	var te *TrapError
	if !errors.As(reason, &te) || len(te.Names) != 1 || te.Names[0] != "svc@1.4.0" {
		t.Fatalf("reason %v, names %v", reason, te.Names)
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	found := false
	for _, rec := range h.records {
		rec.Attrs(func(a slog.Attr) bool {
			found = found || (a.Key == "names" && a.Value.String() == "[svc@1.4.0]")
			return true
		})
	}
	if !found {
		t.Fatal("the failure log does not name the process's registered name")
	}
	if _, _, err := r.Environment().Lookup("svc", ""); !errors.Is(err, ErrNotRegistered) {
		t.Fatalf("the name outlived its process: %v", err)
	}
}
