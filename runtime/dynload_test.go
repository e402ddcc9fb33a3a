package runtime

import (
	"errors"
	"fmt"
	goruntime "runtime"
	"strings"
	"testing"
	"time"

	"github.com/bytecodealliance/wasmtime-go/v25"

	"github.com/wardrt/ward/environment"
	"github.com/wardrt/ward/internal/abi"
	"github.com/wardrt/ward/testdata"
)

// Guests that compile modules and make environments (ward_module,
// ward_environment). The loader guest below reports each call's status as
// its exit code (0 is a normal end), so a test reads it from the Reason.

// Loader memory: the handle at 0, a spawned id at 8, the token of a
// message at 16, the entry name at 256, the environment config at 512,
// the child module at 64 KiB.
func loaderWAT(child, cfg []byte) string {
	return fmt.Sprintf(`(module
  (import "ward_process" "exit" (func $exit (param i32)))
  (import "ward_module" "load" (func $load (param i32 i32 i32) (result i32)))
  (import "ward_module" "spawn" (func $spawn (param i64 i32 i32 i32 i32 i64 i32) (result i32)))
  (import "ward_module" "drop" (func $drop (param i64) (result i32)))
  (import "ward_module" "take" (func $take (param i64) (result i32)))
  (import "ward_environment" "create" (func $create (param i32 i32 i32) (result i32)))
  (import "ward_environment" "drop" (func $edrop (param i64) (result i32)))
  (import "ward_message" "create_data" (func $cd (param i64)))
  (import "ward_message" "write_data" (func $wd (param i32 i32) (result i32)))
  (import "ward_message" "read_data" (func $rd (param i32 i32) (result i32)))
  (import "ward_message" "send" (func $send (param i64) (result i32)))
  (import "ward_message" "sender" (func $sender (result i64)))
  (import "ward_message" "receive" (func $recv (param i32 i32 i64) (result i32)))
  (memory (export "memory") 4)
  (data (i32.const 256) "run")
  (data (i32.const 512) "%s")
  (data (i32.const 65536) "%s")
  (global $n i32 (i32.const %d))
  (global $cfgn i32 (i32.const %d))

  (func $check (param i32) (if (local.get 0) (then (call $exit (local.get 0)))))
  (func $loadit (call $check (call $load (i32.const 65536) (global.get $n) (i32.const 0))))
  (func $spawnit (param $env i64)
    (call $check (call $spawn (i64.load (i32.const 0)) (i32.const 256) (i32.const 3)
      (i32.const 0) (i32.const 0) (local.get $env) (i32.const 8))))
  (func $wait (call $check (call $recv (i32.const 0) (i32.const 0) (i64.const -1))))
  (func $sendhandle (param $to i64)
    (call $cd (i64.const 1))
    (drop (call $wd (i32.const 0) (i32.const 8)))
    (call $check (call $send (local.get $to))))

  ;; load, then spawn its run in the caller's environment
  (func (export "load_spawn") (call $loadit) (call $spawnit (i64.const 0)))
  ;; load len bytes of the child
  (func (export "load_len") (param $len i32)
    (call $check (call $load (i32.const 65536) (local.get $len) (i32.const 0))))
  ;; load with any pointers
  (func (export "load_at") (param $ptr i32) (param $len i32) (param $out i32)
    (call $check (call $load (local.get $ptr) (local.get $len) (local.get $out))))
  ;; load until refused; exit with the refusal
  (func (export "load_forever") (loop $l (call $loadit) (br $l)))
  ;; load, then hold it until a message comes
  (func (export "load_hold") (call $loadit) (call $wait))
  ;; wait, load, wait, drop, wait (the first wait makes its inbox, so
  ;; that the memory it holds is the same in the later ones)
  (func (export "load_drop_hold")
    (call $wait) (call $loadit) (call $wait) (call $check (call $drop (i64.load (i32.const 0)))) (call $wait))
  ;; load, drop, then drop again
  (func (export "load_drop_twice")
    (call $loadit)
    (call $check (call $drop (i64.load (i32.const 0))))
    (call $check (call $drop (i64.load (i32.const 0)))))
  ;; spawn from a handle the caller never held
  (func (export "spawn_token") (param $t i64)
    (i64.store (i32.const 0) (local.get $t)) (call $spawnit (i64.const 0)))
  ;; take a token
  (func (export "take_token") (param $t i64) (call $check (call $take (local.get $t))))
  ;; load, send the handle to $to, wait for its ack, end
  (func (export "load_send") (param $to i64)
    (call $loadit) (call $sendhandle (local.get $to)) (call $wait))
  ;; receive a handle, take it, ack, wait for a go, spawn from it
  (func (export "take_then_spawn")
    (call $wait)
    (drop (call $rd (i32.const 0) (i32.const 8)))
    (call $check (call $take (i64.load (i32.const 0))))
    (call $cd (i64.const 2))
    (call $check (call $send (call $sender)))
    (call $wait)
    (call $spawnit (i64.const 0)))
  ;; create an environment from the config, load, spawn there
  (func (export "create_spawn")
    (call $check (call $create (i32.const 512) (global.get $cfgn) (i32.const 16)))
    (call $loadit)
    (call $spawnit (i64.load (i32.const 16))))
  ;; create_spawn, then hold both handles until a message comes
  (func (export "create_spawn_hold")
    (call $check (call $create (i32.const 512) (global.get $cfgn) (i32.const 16)))
    (call $loadit)
    (call $spawnit (i64.load (i32.const 16)))
    (call $wait))
  ;; create an environment and exit with the status
  (func (export "create") (call $check (call $create (i32.const 512) (global.get $cfgn) (i32.const 16))))
  ;; create environments until refused
  (func (export "create_forever")
    (loop $l (call $check (call $create (i32.const 512) (global.get $cfgn) (i32.const 16))) (br $l)))
  ;; the environment handle as a module handle, and the reverse
  (func (export "kinds")
    (call $check (call $create (i32.const 512) (global.get $cfgn) (i32.const 16)))
    (call $loadit)
    (if (i32.ne (call $drop (i64.load (i32.const 16))) (i32.const %d)) (then unreachable))
    (if (i32.ne (call $take (i64.load (i32.const 16))) (i32.const %d)) (then unreachable))
    (if (i32.ne (call $edrop (i64.load (i32.const 0))) (i32.const %d)) (then unreachable))
    (call $check (call $edrop (i64.load (i32.const 16)))))
)`, watBytes(cfg), watBytes(child), len(child), len(cfg), abi.ErrNotFound, abi.ErrNotFound, abi.ErrNotFound)
}

func wat2wasm(t *testing.T, wat string) []byte {
	t.Helper()
	b, err := wasmtime.Wat2Wasm(wat)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// waitChild is a child module that waits for a message, then ends.
const waitChildWAT = `(module
  (import "ward_message" "receive" (func $recv (param i32 i32 i64) (result i32)))
  (memory (export "memory") 1)
  (func (export "run") (drop (call $recv (i32.const 0) (i32.const 0) (i64.const -1)))))`

func loader(t *testing.T, r *Runtime, child, cfg []byte) *Module {
	t.Helper()
	m := load(t, r, "loader", []byte(loaderWAT(child, cfg)))
	t.Cleanup(func() { m.Close() })
	return m
}

// status runs entry of m in env and returns the status it exited with.
func status(t *testing.T, env *Environment, m *Module, entry string, params ...Value) int {
	t.Helper()
	reason, err := env.Run(testCtx(t), m, entry, params...)
	if err != nil {
		t.Fatal(err)
	}
	if reason.Normal() {
		return abi.OK
	}
	return exitCode(t, reason)
}

func envWith(t *testing.T, r *Runtime, c environment.Config) *Environment {
	t.Helper()
	e, err := r.NewEnvironment(c)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// A guest loads a module from bytes in its memory and spawns from it; the
// code is freed once the loader and the child have ended.
func TestGuestLoadsAndSpawns(t *testing.T) {
	r := newRuntime(t, grantAll())
	m := loader(t, r, wat2wasm(t, waitChildWAT), nil)
	p := spawn(t, r.Environment(), m, "load_spawn")
	if reason := wait(t, p); !reason.Normal() {
		t.Fatalf("loader: %v", reason)
	}
	// The loader ended, so its handle went; the child still runs the code.
	if n := r.numHandles(); n != 0 {
		t.Fatalf("%d handles after the loader ended, want 0", n)
	}
	if n := r.Stats().Modules; n != 2 {
		t.Fatalf("%d modules while the child runs, want 2 (loader and child)", n)
	}
	var child *Process
	r.mu.RLock()
	for _, q := range r.procs {
		child = q
	}
	r.mu.RUnlock()
	if child == nil || child.Entry() != "run" {
		t.Fatalf("no child process running (%v)", child)
	}
	if err := r.Send(testCtx(t), child.ID(), Message{Tag: 1}); err != nil {
		t.Fatal(err)
	}
	if reason := wait(t, child); !reason.Normal() {
		t.Fatalf("child: %v", reason)
	}
	if n := r.Stats().Modules; n != 1 {
		t.Fatalf("%d modules after the child ended, want 1 (the loader's)", n)
	}
}

// Without CompileModules a load is refused with ErrPermission, and without
// Spawn a spawn from a loaded module is.
func TestGuestLoadNeedsPermission(t *testing.T) {
	r := newRuntime(t, grantAll())
	m := loader(t, r, testdata.Trivial, nil)
	noCompile := envWith(t, r, environment.Config{Permissions: environment.Permissions{CompileModules: environment.Deny}})
	if st := status(t, noCompile, m, "load_spawn"); st != abi.ErrPermission {
		t.Fatalf("load without CompileModules: status %d, want ErrPermission", st)
	}
	noSpawn := envWith(t, r, environment.Config{Permissions: environment.Permissions{Spawn: environment.Deny}})
	if st := status(t, noSpawn, m, "load_spawn"); st != abi.ErrPermission {
		t.Fatalf("spawn without Spawn: status %d, want ErrPermission", st)
	}
	if st := status(t, r.Environment(), m, "load_spawn"); st != abi.OK {
		t.Fatalf("with both: status %d", st)
	}
	noEnvs := envWith(t, r, environment.Config{Permissions: environment.Permissions{CreateEnvironments: environment.Deny}})
	if st := status(t, noEnvs, m, "create"); st != abi.ErrPermission {
		t.Fatalf("create without CreateEnvironments: status %d, want ErrPermission", st)
	}
}

// A handle passed in a message is taken by the receiver, which spawns
// from it after the loader has ended; the code goes with the last holder.
func TestGuestPassesModuleHandle(t *testing.T) {
	r := newRuntime(t, grantAll())
	ctx := testCtx(t)
	m := loader(t, r, wat2wasm(t, waitChildWAT), nil)
	env := r.Environment()
	b := spawn(t, env, m, "take_then_spawn")
	a := spawn(t, env, m, "load_send", I64(int64(b.ID())))
	// b acks once it holds the handle; a ends on the ack.
	if reason := wait(t, a); !reason.Normal() {
		t.Fatalf("loader: %v", reason)
	}
	if n := r.numHandles(); n != 1 {
		t.Fatalf("%d handles with b holding the module, want 1", n)
	}
	if n := r.Stats().Modules; n != 2 {
		t.Fatalf("%d modules, want 2", n)
	}
	if err := r.Send(ctx, b.ID(), Message{Tag: 3}); err != nil {
		t.Fatal(err)
	}
	if reason := wait(t, b); !reason.Normal() {
		t.Fatalf("taker: %v", reason)
	}
	if n := r.numHandles(); n != 0 {
		t.Fatalf("%d handles after every holder ended, want 0", n)
	}
	// b's child runs the code still.
	if n := r.Stats().Modules; n != 2 {
		t.Fatalf("%d modules while b's child runs, want 2", n)
	}
	waitFor(t, testTimeout, "b's child", func() bool { return r.NumProcesses() == 1 })
	r.mu.RLock()
	var child *Process
	for _, q := range r.procs {
		child = q
	}
	r.mu.RUnlock()
	if err := r.Send(ctx, child.ID(), Message{Tag: 1}); err != nil {
		t.Fatal(err)
	}
	wait(t, child)
	if n := r.Stats().Modules; n != 1 {
		t.Fatalf("%d modules after the last holder and runner ended, want 1", n)
	}
}

// A token no process holds, or one that names an environment, is
// ErrNotFound; so is a spawn or drop of a handle the caller does not hold.
func TestGuestBadTokens(t *testing.T) {
	r := newRuntime(t, grantAll())
	env := r.Environment()
	m := loader(t, r, testdata.Trivial, nil)
	if st := status(t, env, m, "take_token", I64(0x1234567)); st != abi.ErrNotFound {
		t.Fatalf("take of a made-up token: %d, want ErrNotFound", st)
	}
	if st := status(t, env, m, "spawn_token", I64(0x1234567)); st != abi.ErrNotFound {
		t.Fatalf("spawn of a made-up token: %d, want ErrNotFound", st)
	}
	if st := status(t, env, m, "load_drop_twice"); st != abi.ErrNotFound {
		t.Fatalf("second drop: %d, want ErrNotFound", st)
	}
	if st := status(t, env, m, "kinds"); st != abi.OK {
		t.Fatalf("handles of the wrong kind: %d", st)
	}
	// A held module's token is usable only by a process that took it.
	h := spawn(t, env, m, "load_hold")
	var tok uint64
	waitFor(t, testTimeout, "the holder's load", func() bool {
		r.dyn.mu.Lock()
		defer r.dyn.mu.Unlock()
		for t := range r.dyn.entries { // the processes before it have ended
			tok = t
		}
		return len(r.dyn.entries) == 1
	})
	if st := status(t, env, m, "spawn_token", I64(int64(tok))); st != abi.ErrNotFound {
		t.Fatalf("spawn from a token not taken: %d, want ErrNotFound", st)
	}
	h.Kill()
	wait(t, h)
	if st := status(t, env, m, "take_token", I64(int64(tok))); st != abi.ErrNotFound {
		t.Fatalf("take after the last holder ended: %d, want ErrNotFound", st)
	}
}

// Bytes that are not a module, WAT text included, are ErrInvalid; a
// module past MaxModuleBytes is ErrLimit; pointers outside memory trap
// the caller.
func TestGuestLoadRefusals(t *testing.T) {
	r := newRuntime(t, grantAll())
	child := testdata.Trivial
	m := loader(t, r, child, nil)
	env := envWith(t, r, environment.Config{MaxModuleBytes: len(child) - 1})
	if st := status(t, env, m, "load_len", I32(int32(len(child)))); st != abi.ErrLimit {
		t.Fatalf("module past MaxModuleBytes: %d, want ErrLimit", st)
	}
	root := r.Environment()
	if st := status(t, root, m, "load_len", I32(int32(len(child)-3))); st != abi.ErrInvalid {
		t.Fatalf("truncated module: %d, want ErrInvalid", st)
	}
	if st := status(t, root, m, "load_len", I32(0)); st != abi.ErrInvalid {
		t.Fatalf("empty module: %d, want ErrInvalid", st)
	}
	wat := loader(t, r, []byte(`(module (func (export "run")))`), nil)
	if st := status(t, root, wat, "load_spawn"); st != abi.ErrInvalid {
		t.Fatalf("WAT text: %d, want ErrInvalid", st)
	}
	for _, c := range []struct{ ptr, n, out int32 }{
		{4 << 16, 8, 0},       // bytes past the end
		{65536, 1 << 30, 0},   // a length past the end
		{-1, 16, 0},           // near 2^32
		{65536, 8, 4<<16 - 4}, // the handle's slot straddles the end
	} {
		reason, err := root.Run(testCtx(t), m, "load_at", I32(c.ptr), I32(c.n), I32(c.out))
		var trap *TrapError
		if err != nil || !errors.As(reason, &trap) {
			t.Fatalf("load_at(%d, %d, %d): %v %v, want a trap", c.ptr, c.n, c.out, reason, err)
		}
	}
	if n := r.numHandles(); n != 0 {
		t.Fatalf("%d handles left", n)
	}
}

// A guest loading in a loop is stopped by MaxHandles, or by
// MaxTotalMemory when the code does not fit; either way it ends bounded
// and its charges are given back.
func TestGuestLoadLoopIsBounded(t *testing.T) {
	r := newRuntime(t, grantAll())
	m := loader(t, r, testdata.Trivial, nil)
	env := envWith(t, r, environment.Config{MaxHandles: 5})
	used := env.MemoryInUse()
	if st := status(t, env, m, "load_forever"); st != abi.ErrLimit {
		t.Fatalf("load loop: %d, want ErrLimit", st)
	}
	if got := env.MemoryInUse(); got != used {
		t.Fatalf("MemoryInUse %d after the loop ended, want %d", got, used)
	}
	// The code of one trivial module costs more than 64 KiB: this
	// environment's memory cannot hold the loader and many of them.
	tight := envWith(t, r, environment.Config{MaxTotalMemory: 1 << 20, MaxMemory: 4 << 16})
	if st := status(t, tight, m, "load_forever"); st != abi.ErrLimit {
		t.Fatalf("load loop in 1 MiB: %d, want ErrLimit", st)
	}
	if got := tight.MemoryInUse(); got != 0 {
		t.Fatalf("MemoryInUse %d after the loop ended, want 0", got)
	}
	if n := r.numHandles(); n != 0 {
		t.Fatalf("%d handles left", n)
	}
}

// Holding a module is charged to MaxTotalMemory: dropping it gives back
// its cost, which covers at least its compiled code.
func TestGuestModuleIsCharged(t *testing.T) {
	r := newRuntime(t, grantAll())
	m := loader(t, r, testdata.Trivial, nil)
	env := envWith(t, r, environment.Config{})
	h := spawn(t, env, m, "load_drop_hold")
	if err := r.Send(testCtx(t), h.ID(), Message{Tag: 1}); err != nil {
		t.Fatal(err)
	}
	var cost int64
	waitFor(t, testTimeout, "the load", func() bool {
		r.dyn.mu.Lock()
		defer r.dyn.mu.Unlock()
		for _, e := range r.dyn.entries {
			cost = e.cost
		}
		return cost != 0
	})
	if min := int64(handleEntryCost + codeCostOverhead + len(testdata.Trivial)); cost < min {
		t.Fatalf("a held module costs %d, want at least %d", cost, min)
	}
	holding := env.MemoryInUse()
	if err := r.Send(testCtx(t), h.ID(), Message{Tag: 1}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, testTimeout, "the drop", func() bool { return r.numHandles() == 0 })
	if got := env.MemoryInUse(); holding-got != uint64(cost) {
		t.Fatalf("dropping gave back %d bytes, want the %d charged", holding-got, cost)
	}
	if err := r.Send(testCtx(t), h.ID(), Message{Tag: 1}); err != nil {
		t.Fatal(err)
	}
	if reason := wait(t, h); !reason.Normal() {
		t.Fatal(reason)
	}
	if got := env.MemoryInUse(); got != 0 {
		t.Fatalf("MemoryInUse %d with no process, want 0", got)
	}
}

// slowModule is a module big enough to take a while to compile: many
// functions. Each seed gives other bytes.
func slowModule(t *testing.T, seed int) []byte {
	var wat strings.Builder
	wat.WriteString(`(module (memory (export "memory") 1)`)
	for i := range 3000 {
		fmt.Fprintf(&wat, `(func (export "f%d") (param i64) (result i64) (i64.mul (i64.add (local.get 0) (i64.const %d)) (i64.const 3)))`, i, i+seed)
	}
	return wat2wasm(t, wat.String()+")")
}

// However many guests load at once, the runtime compiles at most
// GOMAXPROCS of their modules at a time.
func TestGuestCompilesAreBounded(t *testing.T) {
	r := newRuntime(t, grantAll())
	env := r.Environment()
	var ps []*Process
	for i := range 3 * goruntime.GOMAXPROCS(0) {
		child := slowModule(t, i)
		ps = append(ps, spawn(t, env, loader(t, r, child, nil), "load_len", I32(int32(len(child)))))
	}
	for _, p := range ps {
		if reason := wait(t, p); !reason.Normal() {
			t.Fatalf("loader: %v", reason)
		}
	}
	most := int(r.dyn.mostCompiling.Load())
	t.Logf("at most %d compiles at once", most)
	if most < 1 || most > goruntime.GOMAXPROCS(0) {
		t.Fatalf("%d guest compiles ran at once, want 1 to GOMAXPROCS (%d)", most, goruntime.GOMAXPROCS(0))
	}
}

// A kill during a compile releases everything: the compile finishes in
// the background and its result is dropped.
func TestGuestKilledDuringCompile(t *testing.T) {
	r := newRuntime(t, grantAll())
	m := loader(t, r, slowModule(t, 0), nil)
	env := envWith(t, r, environment.Config{})
	used := env.MemoryInUse()
	for range 5 {
		p := spawn(t, env, m, "load_hold")
		time.Sleep(time.Millisecond) // into the compile, most times; any point must do
		p.Kill()
		if reason := wait(t, p); reason != Killed {
			t.Fatalf("killed loader: %v", reason)
		}
	}
	waitFor(t, testTimeout, "the compiles to end", func() bool {
		return env.MemoryInUse() == used && r.Stats().Modules == 1 && r.numHandles() == 0
	})
}

// An environment a guest makes narrows its own: a child spawned there
// cannot pass the narrowed MaxMemory, and asking for more than the
// guest's environment has is ErrPermission.
// Environments a guest makes are handles like modules: bounded by
// MaxHandles, and given back when the guest ends.
// The Go SDK's EnvironmentConfig encodes what the runtime decodes, every
// field of it.
// Closing the creator's environment ends what the guest made: the
// processes in the environment it made, its handles and their charges.

// Close while guests compile: it waits for the compiles, which give back
// their charges before the budgets go, and returns.
func TestGuestCompileDuringClose(t *testing.T) {
	r := newRuntime(t, grantAll())
	env := envWith(t, r, environment.Config{})
	for i := range 3 {
		spawn(t, env, loader(t, r, slowModule(t, i), nil), "load_hold")
	}
	time.Sleep(time.Millisecond) // into the compiles, most times; any point must do
	if err := r.Close(testCtx(t)); err != nil {
		t.Fatal(err)
	}
	if n := r.numHandles(); n != 0 {
		t.Fatalf("%d handles after Close", n)
	}
}

// Taking a module needs no permission (it was compiled under the
// sender's), and is charged to the taker's environment.
func TestGuestTakeIsChargedToTheTaker(t *testing.T) {
	r := newRuntime(t, grantAll())
	ctx := testCtx(t)
	m := loader(t, r, testdata.Trivial, nil)
	takers := envWith(t, r, environment.Config{Permissions: environment.Permissions{CompileModules: environment.Deny}})
	b := spawn(t, takers, m, "take_then_spawn")
	waitFor(t, testTimeout, "the taker to wait", func() bool { return takers.MemoryInUse() > 0 })
	before := takers.MemoryInUse()
	a := spawn(t, r.Environment(), m, "load_send", I64(int64(b.ID())))
	if reason := wait(t, a); !reason.Normal() {
		t.Fatalf("loader: %v", reason)
	}
	var cost int64
	r.dyn.mu.Lock()
	for _, e := range r.dyn.entries {
		cost = e.cost
	}
	r.dyn.mu.Unlock()
	holding := takers.MemoryInUse()
	if err := r.Send(ctx, b.ID(), Message{Tag: 3}); err != nil {
		t.Fatal(err)
	}
	if reason := wait(t, b); !reason.Normal() {
		t.Fatalf("taker: %v", reason)
	}
	// The child b spawned runs on in b's environment; b's holding is gone.
	waitFor(t, testTimeout, "the child", func() bool { return takers.NumProcesses() == 0 })
	// Besides the module, only the inbox the token's message made.
	if cost == 0 || holding-before < uint64(cost) {
		t.Fatalf("the taker's environment went from %d to %d bytes by taking a module of cost %d", before, holding, cost)
	}
	if got := takers.MemoryInUse(); got != 0 {
		t.Fatalf("MemoryInUse %d after the taker ended, want 0", got)
	}
}
