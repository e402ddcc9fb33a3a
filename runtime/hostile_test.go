package runtime

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wardrt/ward/environment"
	"github.com/wardrt/ward/hostapi"
	"github.com/wardrt/ward/internal/abi"
	"github.com/wardrt/ward/testdata"
)

// The adversarial suite: guests that attack the host on purpose, for the
// classes docs/security.md lists, where the existing tests do not already
// assert the same thing (that page's table says which test covers which
// attack). Cases whose failure would crash or hang the host run in a
// child process (childproc_test.go).

// hostileTimeout bounds a child running a hostile case: a hang guard only.
const hostileTimeout = 60 * time.Second

// loadHostile loads testdata/hostile/name.wasm, the committed build of
// name.wat beside it (go run ./internal/tools/wat2wasm rebuilds it).
func loadHostile(t *testing.T, r *Runtime, name string) *Module {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "testdata", "hostile", name+".wasm"))
	if err != nil {
		t.Fatal(err)
	}
	return load(t, r, name, b)
}

// abiPointer is one pointer parameter of a host function, with the
// parameter giving its length (-1 when the size is fixed) and the bytes
// each unit of that length takes.
type abiPointer struct {
	ptr, length int
	unit        int64 // bytes per unit of length; the fixed size when length is -1
}

// abiPointers finds f's pointer parameters by the table's naming: X_ptr
// goes with X_len or X_count, ptr with len, and id_ptr, handle_ptr and
// env_ptr are one i64.
func abiPointers(f abi.Func) []abiPointer {
	index := map[string]int{}
	for i, p := range f.Params {
		index[p.Name] = i
	}
	var out []abiPointer
	for i, p := range f.Params {
		if p.Name != "ptr" && !strings.HasSuffix(p.Name, "_ptr") {
			continue
		}
		base := strings.TrimSuffix(strings.TrimSuffix(p.Name, "ptr"), "_")
		lenName := "len"
		if base != "" {
			lenName = base + "_len"
		}
		switch {
		case base == "id", base == "handle", base == "env":
			out = append(out, abiPointer{i, -1, 8})
		case base == "params":
			out = append(out, abiPointer{i, index["params_count"], abi.SpawnParamSize})
		case base == "tags":
			out = append(out, abiPointer{i, index["tags_count"], 8})
		default:
			j, ok := index[lenName]
			if !ok {
				panic(fmt.Sprintf("%s.%s: no length for %s", f.Namespace, f.Name, p.Name))
			}
			out = append(out, abiPointer{i, j, 1})
		}
	}
	return out
}

// abiBaseline returns arguments with which the call f succeeds or returns
// a status without waiting: valid strings, an id slot, a zero timeout. A
// case then breaks one pointer.
func abiBaseline(t *testing.T, f abi.Func, pids abiPids) []int64 {
	quit, quitN := abiStr("quit")
	idle, idleN := abiStr("idle")
	svc, svcN := abiStr("svc")
	v1, v1N := abiStr("1.0.0")
	var args []int64
	for _, p := range f.Params {
		var v int64
		switch p.Name {
		case "entry_ptr":
			v = quit
			if f.Name == "get_or_spawn" {
				v = idle
			}
		case "entry_len":
			v = quitN
			if f.Name == "get_or_spawn" {
				v = idleN
			}
		case "name_ptr":
			v = svc
		case "name_len":
			v = svcN
		case "version_ptr", "constraint_ptr":
			v = v1
		case "version_len", "constraint_len":
			v = v1N
		case "id_ptr", "handle_ptr", "env_ptr":
			v = abiIDSlots + 8
		case "config_ptr":
			v = abiScratch
		case "config_len", "handle", "env":
			v = 0
		case "pid":
			v = int64(pids.victim)
		case "ptr", "params_ptr", "tags_ptr", "state_ptr":
			v = abiScratch
		case "len", "params_count", "tags_count", "timeout_ms", "state_len":
			v = 0
		default:
			t.Fatalf("%s.%s: no baseline for parameter %s", f.Namespace, f.Name, p.Name)
		}
		args = append(args, v)
	}
	return args
}

// Every pointer parameter of every ward host function, given a range that
// leaves memory (by one byte, by wrapping past 2^32, or starting past the
// end with nothing to read), traps the caller with a host trap and nothing
// else; the same parameter given a range ending exactly at the end of
// memory, or empty at the end, is served. A host that checked ranges with
// 32-bit arithmetic, or not at all, would read or write outside the guest's
// memory: a crash, so the cases run in a child.
func TestHostileBadPointersToEveryCall(t *testing.T) {
	if !inChild(t) {
		passInChild(t, hostileTimeout)
		return
	}
	dir := t.TempDir()
	exitLast := abiCallOf(t, "ward_process.exit", modeLast)
	type rangeCase struct {
		name     string
		ptr      int64 // with modeMemEnd and a length, less the range's size
		ptrMode  uint32
		units    int64 // the length argument
		wantTrap bool
		lenOnly  bool // only for pointers with a length argument
	}
	cases := []rangeCase{
		{name: "one byte past the end", ptr: 1, ptrMode: modeMemEnd, units: 1, wantTrap: true},
		{name: "wraps past 2^32", ptr: 0xffffffff, units: 2, wantTrap: true},
		{name: "at 2^31", ptr: 0x80000000, units: 1, wantTrap: true},
		{name: "empty, past the end", ptr: 1, ptrMode: modeMemEnd, units: 0, wantTrap: true, lenOnly: true},
		{name: "empty, at the end", ptr: 0, ptrMode: modeMemEnd, units: 0, lenOnly: true},
		{name: "ends at the end", ptr: 0, ptrMode: modeMemEnd, units: 1},
	}
	for id, f := range abi.Funcs {
		if f.Impl == abi.Hosted {
			// A host module's functions are its handlers', tested in its
			// own package (the stubs the interpreter links here would
			// prove nothing).
			continue
		}
		for _, ptr := range abiPointers(f) {
			for _, c := range cases {
				if c.lenOnly && ptr.length < 0 {
					continue
				}
				name := fmt.Sprintf("%s.%s/%s/%s", f.Namespace, f.Name, f.Params[ptr.ptr].Name, c.name)
				t.Run(name, func(t *testing.T) {
					var calls []abiCall
					reason := runABI(t, dir, testTimeout, func(pids abiPids) ([]abiCall, []byte) {
						call := abiCall{op: id}
						copy(call.args[:], abiBaseline(t, f, pids))
						size := ptr.unit
						if ptr.length >= 0 {
							size = c.units * ptr.unit
							call.args[ptr.length] = c.units
						}
						call.args[ptr.ptr] = c.ptr
						call.modes = c.ptrMode << (2 * ptr.ptr)
						if c.ptrMode == modeMemEnd && c.units > 0 {
							call.args[ptr.ptr] -= size // the range ends at, or one byte past, the end
						}
						calls = []abiCall{call, exitLast}
						return calls, nil
					}).reason
					var te *TrapError
					trapped := errors.As(reason, &te) && te.Code == TrapNone && strings.Contains(te.Message, "outside the caller's memory")
					if trapped && !strings.Contains(te.Message, f.Namespace+"."+f.Name+": ") {
						t.Fatalf("the trap %q does not name the function called, %s.%s", te.Message, f.Namespace, f.Name)
					}
					if trapped != c.wantTrap {
						t.Fatalf("reason %T %v, want a host trap: %v; program:\n%s", reason, reason, c.wantTrap, describeABIProgram(calls))
					}
				})
			}
		}
	}
}

// Host code runs on the guest's fiber: C host functions, WASI, and the
// suspension of a Go host call. A guest that fills its Wasm stack and then
// calls the host must get a stack-overflow trap, never overflow the fiber
// into whatever lies below it (a crash, so in a child).
func TestHostileDeepRecursionIntoHostCalls(t *testing.T) {
	if !inChild(t) {
		passInChild(t, hostileTimeout)
		return
	}
	for _, stack := range []int{0, 64 << 10} {
		t.Run(fmt.Sprintf("max wasm stack %d", stack), func(t *testing.T) {
			var opts []Option
			if stack > 0 {
				opts = append(opts, WithMaxWasmStack(stack))
			}
			r := newRuntime(t, opts...)
			m := loadHostile(t, r, "deep")
			for _, entry := range []string{"c", "go", "yield", "wasi", "fat"} {
				var te *TrapError
				if reason := wait(t, spawn(t, r.Environment(), m, entry, I64(0))); !errors.As(reason, &te) || te.Code != TrapStackOverflow {
					t.Fatalf("%s: reason %T %v, want a stack overflow", entry, reason, reason)
				}
			}
		})
	}
}

// A process that never gets past instantiation, because its start
// function loops, sleeps or waits for a message forever, is killed like
// any other, and Close finishes with it there. Without epoch interruption
// and kill checks in the start phase, Kill would wait forever (a hang, so
// in a child).
func TestHostileKillDuringStartFunction(t *testing.T) {
	if !inChild(t) {
		passInChild(t, hostileTimeout)
		return
	}
	r := newRuntime(t)
	env := r.Environment()
	var stuck []*Process
	// Instantiation runs on a fiber: a process holds a stack once it is
	// in its start function.
	inStart := func(n int) func() bool {
		return func() bool { inUse, _ := r.engine.StacksInUse(); return inUse == n }
	}
	names := []string{"start_spin", "start_wait", "start_receive"}
	for _, name := range names {
		m := loadHostile(t, r, name)
		p := spawn(t, env, m, "run")
		waitFor(t, testTimeout, name+" to run its start function", inStart(1))
		p.Kill()
		if reason := wait(t, p); reason != Killed {
			t.Fatalf("%s: reason %T %v, want Killed", name, reason, reason)
		}
	}
	for _, name := range names {
		stuck = append(stuck, spawn(t, env, loadHostile(t, r, name), "run"))
	}
	waitFor(t, testTimeout, "all three to run their start functions", inStart(len(names)))
	for _, p := range stuck {
		if p.Reason() != nil {
			t.Fatalf("%v ended on its own: %v", p, p.Reason())
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := r.Close(ctx); err != nil {
		t.Fatalf("Close with processes stuck in start functions: %v", err)
	}
	for _, p := range stuck {
		if p.Reason() != Killed {
			t.Fatalf("%v: %v after Close", p, p.Reason())
		}
	}
}

// Kill ends a process parked in each kind of wait a guest can enter:
// TestKillInEveryState covers sleeping, running, spinning, not started and
// ended; these are the receives (the plain wait, with a tag filter, with a
// timer) and a request waiting on a target that never answers (with its
// watch). Each must end Killed, and the target stay untouched.
func TestHostileKillInEveryWait(t *testing.T) {
	r := newRuntime(t)
	env := r.Environment()
	m := loadHostile(t, r, "waits")
	target := spawn(t, env, m, "idle")
	for _, c := range []struct {
		entry  string
		params []Value
	}{
		{"receive_forever", nil},
		{"receive_tagged", nil},
		{"receive_timeout", nil},
		{"request", []Value{I64(int64(target.ID()))}},
		{"sleep", nil},
	} {
		t.Run(c.entry, func(t *testing.T) {
			p := spawn(t, env, m, c.entry, c.params...)
			waitFor(t, testTimeout, "the process to park", func() bool {
				inUse, _ := r.engine.StacksInUse()
				return inUse == 2 // the target's and this one's
			})
			if c.entry == "receive_tagged" {
				// A message it does not want must not wake it for good.
				if err := p.Send(testCtx(t), Message{Tag: 1}); err != nil {
					t.Fatal(err)
				}
			}
			p.Kill()
			if reason := wait(t, p); reason != Killed {
				t.Fatalf("reason %T %v, want Killed", reason, reason)
			}
		})
	}
	if target.Reason() != nil {
		t.Fatalf("the target ended: %v", target.Reason())
	}
}

// memory.grow by deltas that overflow a naive page count (2^32-1, 2^31,
// 65536 and 65537 pages) is refused with -1 like any grow past the limit,
// and the process runs on with its memory intact. A host that computed the
// new size in 32 bits, or tried to map it, could crash: in a child. Under
// a one-page limit every grow is refused (exit 0); under the largest limit
// there is, 4 GiB, only the last one-page grow is granted, and memory is
// two pages (exit 1 + 100: see grow.wat).
func TestHostileMemoryGrowExtremes(t *testing.T) {
	if !inChild(t) {
		passInChild(t, hostileTimeout)
		return
	}
	r := newRuntime(t, WithRootEnvironment(environment.Config{MaxMemory: environment.MaxWasm32Memory}))
	m := loadHostile(t, r, "grow")
	for _, c := range []struct {
		limit uint64
		exit  int
	}{{environment.PageSize, 0}, {environment.MaxWasm32Memory, 101}} {
		env, err := r.NewEnvironment(environment.Config{MaxMemory: c.limit})
		if err != nil {
			t.Fatal(err)
		}
		reason := wait(t, spawn(t, env, m, "run"))
		var ee *ExitError
		if (c.exit == 0 && reason != Normal) || (c.exit != 0 && (!errors.As(reason, &ee) || ee.Code != c.exit)) {
			t.Fatalf("limit %d: %T %v, want exit %d", c.limit, reason, reason, c.exit)
		}
	}
}

// A spawn bomb fills its own environment's process limit and no more
// (TestSpawnBombIsContained); here a process of a sibling environment
// still spawns, runs and finishes while the bomb goes on.
func TestHostileSpawnBombLeavesSiblingsRunning(t *testing.T) {
	r := newRuntime(t)
	bombEnv, err := r.NewEnvironment(environment.Config{MaxProcesses: 50, MaxFuel: 50_000_000})
	if err != nil {
		t.Fatal(err)
	}
	other, err := r.NewEnvironment(environment.Config{MaxProcesses: 4})
	if err != nil {
		t.Fatal(err)
	}
	procs := load(t, r, "procs", testdata.Procs)
	spin := load(t, r, "spin", testdata.Spin)
	spawn(t, bombEnv, procs, "bomb")
	waitFor(t, testTimeout, "the bomb to fill its environment", func() bool { return bombEnv.NumProcesses() >= 40 })
	for range 3 {
		if reason := wait(t, spawn(t, other, spin, "count", I64(100_000))); reason != Normal {
			t.Fatalf("a sibling's job: %v", reason)
		}
	}
}

// Kill ends a process while a host module's handler serves its call: the
// handler's context is cancelled, and the process ends Killed once the
// handler returns, whatever it returns.
func TestHostileKillInAHostModuleCall(t *testing.T) {
	var entered atomic.Int64
	mod := hostapi.Module{Namespace: "slow", Funcs: []hostapi.Func{{Name: "wait",
		Handler: func(ctx context.Context, _ *hostapi.Call) error {
			entered.Add(1)
			<-ctx.Done()
			return ctx.Err()
		}}}}
	r := newRuntime(t, WithHostModule(mod))
	m := load(t, r, "slow", []byte(`(module (import "slow" "wait" (func $w)) (func (export "run") (call $w)))`))
	for i := range 3 {
		p := spawn(t, r.Environment(), m, "run")
		waitFor(t, testTimeout, "the handler to be called", func() bool { return entered.Load() == int64(i+1) })
		p.Kill()
		if reason := wait(t, p); reason != Killed {
			t.Fatalf("reason %T %v, want Killed", reason, reason)
		}
	}
}

// A guest may not kill a process outside its environment (hostKill), so
// it may not do so by linking to it and exiting abnormally either: links
// must follow the rule kill follows (issue 13).
func TestHostileLinkCannotKillAcrossEnvironments(t *testing.T) {
	var calls []abiCall
	out := runABI(t, t.TempDir(), testTimeout, func(pids abiPids) ([]abiCall, []byte) {
		calls = []abiCall{
			abiCallOf(t, "ward_process.link", 0, int64(pids.outsider)),
			abiCallOf(t, "ward_process.exit", 0, 9),
		}
		return calls, nil
	})
	var ee *ExitError
	if !errors.As(out.reason, &ee) || ee.Code != 9 {
		t.Fatalf("the linker: %v", out.reason)
	}
	// runABI checks the outsider survived.
}

// Runtime.Stats after Close must answer (zero stacks), not read the stack
// pool Close freed. Found while adding a check to the fuzz harness; in a
// child, as it hung (a lock on freed memory), and a read of freed memory
// may as well crash.
func TestStatsAfterClose(t *testing.T) {
	if !inChild(t) {
		passInChild(t, 20*time.Second)
		return
	}
	// The freed pool is read as garbage only once its memory is reused:
	// make and close runtimes until it has been.
	var rts []*Runtime
	for range 200 {
		r, err := New(WithLogger(discardLogger()))
		if err != nil {
			t.Fatal(err)
		}
		if err := r.Close(testCtx(t)); err != nil {
			t.Fatal(err)
		}
		rts = append(rts, r)
	}
	for _, r := range rts {
		if s := r.Stats(); s.Processes != 0 || s.StacksInUse != 0 {
			t.Fatalf("Stats after Close: %+v", s)
		}
	}
}
