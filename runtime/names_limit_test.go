package runtime

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/wardrt/ward/environment"
	"github.com/wardrt/ward/internal/abi"
)

// namesWAT registers svc@1.0.0-XY, XY two letters spelling a number, so a
// guest can hold hundreds of distinct versions of one name:
//   - fill(first, n) registers versions first..first+n-1 and idles; at the
//     first refusal it exits with 16*(names it got) + the status.
//   - churn(first) registers until refused, which must be ErrLimit, then
//     unregisters one and registers again, which must succeed; it exits
//     with a code saying which step failed, or ends normally.
//   - getter and getter_bad call get_or_spawn(svc, 2.0.0, "idle" or the
//     missing "nope") and exit with the status.
const namesWAT = `(module
  (import "ward_process" "exit" (func $exit (param i32)))
  (import "ward_process" "sleep_ms" (func $sleep (param i64)))
  (import "ward_registry" "register" (func $register (param i32 i32 i32 i32) (result i32)))
  (import "ward_registry" "unregister" (func $unregister (param i32 i32 i32 i32) (result i32)))
  (import "ward_registry" "get_or_spawn" (func $gos (param i32 i32 i32 i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  (data (i32.const 0) "svc")
  (data (i32.const 16) "1.0.0-aa")
  (data (i32.const 32) "2.0.0")
  (data (i32.const 48) "idle")
  (data (i32.const 64) "nope")
  (func $idle (export "idle") (loop $l (call $sleep (i64.const 1000000)) (br $l)))
  (func $version (param $i i32)
    (i32.store8 (i32.const 22) (i32.add (i32.const 97) (i32.rem_u (local.get $i) (i32.const 26))))
    (i32.store8 (i32.const 23) (i32.add (i32.const 97) (i32.div_u (local.get $i) (i32.const 26)))))
  (func $reg (param $i i32) (result i32)
    (call $version (local.get $i))
    (call $register (i32.const 0) (i32.const 3) (i32.const 16) (i32.const 8)))
  (func $unreg (param $i i32) (result i32)
    (call $version (local.get $i))
    (call $unregister (i32.const 0) (i32.const 3) (i32.const 16) (i32.const 8)))
  (func (export "fill") (param $first i32) (param $n i32)
    (local $i i32) (local $s i32)
    (local.set $i (local.get $first))
    (block $done
      (loop $l
        (br_if $done (i32.ge_u (local.get $i) (i32.add (local.get $first) (local.get $n))))
        (local.set $s (call $reg (local.get $i)))
        (if (local.get $s) (then
          (call $exit (i32.add (i32.mul (i32.sub (local.get $i) (local.get $first)) (i32.const 16)) (local.get $s)))))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $l)))
    (call $idle))
  (func (export "churn") (param $first i32)
    (local $i i32) (local $s i32)
    (local.set $i (local.get $first))
    (loop $l
      (if (i32.ge_u (local.get $i) (i32.add (local.get $first) (i32.const 600))) (then (call $exit (i32.const 4000))))
      (local.set $s (call $reg (local.get $i)))
      (if (i32.eqz (local.get $s)) (then
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $l))))
    (if (i32.ne (local.get $s) (i32.const 1)) (then (call $exit (i32.add (i32.const 1000) (local.get $s)))))
    (local.set $s (call $unreg (local.get $first)))
    (if (local.get $s) (then (call $exit (i32.add (i32.const 2000) (local.get $s)))))
    (local.set $s (call $reg (local.get $i)))
    (if (local.get $s) (then (call $exit (i32.add (i32.const 3000) (local.get $s))))))
  (func (export "getter")
    (call $exit (call $gos (i32.const 0) (i32.const 3) (i32.const 32) (i32.const 5) (i32.const 48) (i32.const 4) (i32.const 128))))
  (func (export "getter_bad")
    (call $exit (call $gos (i32.const 0) (i32.const 3) (i32.const 32) (i32.const 5) (i32.const 64) (i32.const 4) (i32.const 128))))
)`

// waitNames waits for env's entry count to settle at want: entries go on
// the ending process's goroutine, after the kill returns.
func waitNames(t *testing.T, env *Environment, want int, what string) {
	t.Helper()
	waitFor(t, testTimeout, what, func() bool { return env.NumNames() == want })
}

func TestNamesBoundedPerProcess(t *testing.T) {
	r := newRuntime(t)
	env, err := r.Environment().NewChild(environment.Config{MaxNames: 5})
	if err != nil {
		t.Fatal(err)
	}
	m := load(t, r, "names", []byte(namesWAT))

	// A guest registering in a loop is refused at MaxNames, with ErrLimit;
	// when it exits, its entries and their charge go.
	if code := exitCode(t, wait(t, spawn(t, env, m, "fill", I32(0), I32(100)))); code != 5*16+abi.ErrLimit {
		t.Fatalf("fill exited with %d; want 5 names then ErrLimit (%d)", code, 5*16+abi.ErrLimit)
	}
	waitNames(t, env, 0, "the entries of an exited process to go")

	// Unregistering gives the room back to the process at once.
	if code := exitCode(t, wait(t, spawn(t, env, m, "churn", I32(0)))); code != 0 {
		t.Fatalf("churn exited with %d; want a normal end", code)
	}
	waitNames(t, env, 0, "the entries of churn to go")

	// From Go the limit is the process's, whichever environment it
	// registers in, and the error says which limit and its value.
	p := spawn(t, env, m, "fill", I32(0), I32(5))
	waitNames(t, env, 5, "fill to register 5 names")
	other, err := r.Environment().NewChild(environment.Config{})
	if err != nil {
		t.Fatal(err)
	}
	err = other.Register("elsewhere", "1.0.0", p)
	if !errors.Is(err, ErrTooManyNames) || !strings.Contains(err.Error(), "MaxNames is 5") {
		t.Fatalf("Register past MaxNames from Go = %v; want ErrTooManyNames naming MaxNames and 5", err)
	}
	if other.NumNames() != 0 {
		t.Fatalf("a refused Register left %d names charged", other.NumNames())
	}
	// A killed process's entries go too.
	p.Kill()
	wait(t, p)
	waitNames(t, env, 0, "the entries of a killed process to go")
	if n := r.Environment().NumNames(); n != 0 {
		t.Fatalf("root still counts %d names", n)
	}
}

func TestNamesBoundedPerEnvironment(t *testing.T) {
	r := newRuntime(t)
	parent, err := r.Environment().NewChild(environment.Config{MaxEnvironmentNames: 8})
	if err != nil {
		t.Fatal(err)
	}
	child, err := parent.NewChild(environment.Config{})
	if err != nil {
		t.Fatal(err)
	}
	m := load(t, r, "names", []byte(namesWAT))

	// The child's entries count against the parent's limit.
	holder := spawn(t, child, m, "fill", I32(0), I32(5))
	waitNames(t, child, 5, "the child's process to register 5 names")
	if n := parent.NumNames(); n != 5 {
		t.Fatalf("parent counts %d names; want the child's 5", n)
	}
	if code := exitCode(t, wait(t, spawn(t, parent, m, "fill", I32(100), I32(100)))); code != 3*16+abi.ErrLimit {
		t.Fatalf("fill in the parent exited with %d; want 3 names then ErrLimit (%d)", code, 3*16+abi.ErrLimit)
	}
	waitNames(t, parent, 5, "the parent's refused process to release its 3 names")

	// Fill the parent from Go, then see Go refused with the limit named.
	idle := spawn(t, parent, m, "idle")
	for _, v := range []string{"1.0.0", "1.0.1", "1.0.2"} {
		if err := parent.Register("go", v, idle); err != nil {
			t.Fatal(err)
		}
	}
	err = parent.Register("go", "1.0.3", idle)
	if !errors.Is(err, ErrTooManyNames) || !strings.Contains(err.Error(), "MaxEnvironmentNames is 8") {
		t.Fatalf("Register past MaxEnvironmentNames = %v; want ErrTooManyNames naming MaxEnvironmentNames and 8", err)
	}
	// The child is refused by its parent's limit as well.
	if err := child.Register("go", "1.0.0", holder); !errors.Is(err, ErrTooManyNames) {
		t.Fatalf("Register in the child with the parent full = %v; want ErrTooManyNames", err)
	}
	// Unregister gives the room back up the chain.
	if err := parent.Unregister("go", "1.0.0"); err != nil {
		t.Fatal(err)
	}
	if err := child.Register("go", "1.0.0", holder); err != nil {
		t.Fatalf("Register in the child after an Unregister in the parent: %v", err)
	}
	if parent.NumNames() != 8 || child.NumNames() != 6 || r.Environment().NumNames() != 8 {
		t.Fatalf("names counted: parent %d, child %d, root %d; want 8, 6, 8", parent.NumNames(), child.NumNames(), r.Environment().NumNames())
	}
	holder.Kill()
	idle.Kill()
	wait(t, holder)
	wait(t, idle)
	waitNames(t, r.Environment(), 0, "every entry to go with its process")
	if parent.NumNames() != 0 || child.NumNames() != 0 {
		t.Fatalf("after every process ended: parent %d, child %d names", parent.NumNames(), child.NumNames())
	}
}

func TestGetOrSpawnNameCharge(t *testing.T) {
	r := newRuntime(t)
	env, err := r.Environment().NewChild(environment.Config{MaxEnvironmentNames: 1})
	if err != nil {
		t.Fatal(err)
	}
	m := load(t, r, "names", []byte(namesWAT))

	// A spawn that fails gives back the name it reserved, from a guest and
	// from Go.
	if code := exitCode(t, wait(t, spawn(t, env, m, "getter_bad"))); code != abi.ErrNotFound {
		t.Fatalf("getter_bad exited with %d; want ErrNotFound (%d)", code, abi.ErrNotFound)
	}
	if _, _, err := env.GetOrSpawn(testCtx(t), "svc", "2.0.0", m, "nope"); !errors.Is(err, ErrNoEntry) {
		t.Fatalf("GetOrSpawn of a missing entry = %v; want ErrNoEntry", err)
	}
	if n := env.NumNames(); n != 0 {
		t.Fatalf("failed get-or-spawns left %d names charged", n)
	}

	// With the environment full, get_or_spawn spawns nothing.
	holder := spawn(t, env, m, "fill", I32(0), I32(1))
	waitNames(t, env, 1, "the holder to register")
	if code := exitCode(t, wait(t, spawn(t, env, m, "getter"))); code != abi.ErrLimit {
		t.Fatalf("getter with the environment full exited with %d; want ErrLimit (%d)", code, abi.ErrLimit)
	}
	if _, _, err := env.GetOrSpawn(testCtx(t), "svc", "2.0.0", m, "idle"); !errors.Is(err, ErrTooManyNames) {
		t.Fatalf("GetOrSpawn with the environment full = %v; want ErrTooManyNames", err)
	}
	if n := env.NumProcesses(); n != 1 {
		t.Fatalf("%d processes alive; want only the holder (nothing spawned when refused)", n)
	}

	// Once there is room, it spawns, and the name goes with the process.
	holder.Kill()
	wait(t, holder)
	waitNames(t, env, 0, "the holder's name to go")
	if code := exitCode(t, wait(t, spawn(t, env, m, "getter"))); code != abi.OK {
		t.Fatalf("getter exited with %d; want OK", code)
	}
	svc, _, err := env.Lookup("svc", "2.0.0")
	if err != nil || env.NumNames() != 1 {
		t.Fatalf("after get_or_spawn: Lookup = %v, %d names; want the service and 1", err, env.NumNames())
	}
	svc.Kill()
	wait(t, svc)
	waitNames(t, env, 0, "the spawned service's name to go")
}

// TestNamesLimitsUnderConcurrency registers, unregisters and gets-or-spawns
// from many goroutines at once: neither limit may be passed, and the
// environment's count must end equal to the entries it holds (run it with
// -race for the locking).
func TestNamesLimitsUnderConcurrency(t *testing.T) {
	r := newRuntime(t)
	env, err := r.Environment().NewChild(environment.Config{MaxNames: 10, MaxEnvironmentNames: 40})
	if err != nil {
		t.Fatal(err)
	}
	m := load(t, r, "names", []byte(namesWAT))
	holders := []*Process{spawn(t, env, m, "idle"), spawn(t, env, m, "idle"), spawn(t, env, m, "idle")}
	var wg sync.WaitGroup
	for g := range 6 {
		wg.Go(func() {
			for i := range 60 {
				p := holders[(g+i)%len(holders)]
				v := fmt.Sprintf("1.%d.%d", g, i)
				err := env.Register("n", v, p)
				if err != nil && !errors.Is(err, ErrTooManyNames) {
					t.Errorf("Register: %v", err)
				}
				if i%3 == 0 {
					_ = env.Unregister("n", v)
				}
				if i%7 == 0 {
					_, _, err := env.GetOrSpawn(testCtx(t), "gs", fmt.Sprintf("1.0.%d", i%4), m, "idle")
					if err != nil && !errors.Is(err, ErrTooManyNames) {
						t.Errorf("GetOrSpawn: %v", err)
					}
				}
			}
		})
	}
	wg.Wait()
	entries := env.Registered()
	if env.NumNames() != len(entries) || len(entries) > 40 {
		t.Fatalf("environment counts %d names and holds %d; want equal and at most 40", env.NumNames(), len(entries))
	}
	held := map[uint64]int{}
	for _, e := range entries {
		held[e.ID]++
	}
	for id, n := range held {
		if n > 10 {
			t.Errorf("process %d holds %d names, past MaxNames 10", id, n)
		}
		if p, ok := r.Process(ProcessID(id)); ok {
			p.Kill()
		}
	}
	for _, p := range holders {
		p.Kill()
	}
	waitNames(t, r.Environment(), 0, "every entry to go with its process")
}
