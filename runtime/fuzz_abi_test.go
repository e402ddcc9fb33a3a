package runtime

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	goruntime "runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wardrt/ward/environment"
	"github.com/wardrt/ward/hostapi"
	"github.com/wardrt/ward/internal/abi"
	"github.com/wardrt/ward/internal/hoststub"
	"github.com/wardrt/ward/internal/wasm"
)

// The fuzz targets below drive ward's guest ABI the way a hostile guest
// would: a short program of calls to the host functions of abi.Funcs, with
// arguments a fuzzer chooses (pointers and lengths near 0, past the end of
// memory, near 2^32; ids of live, dead and foreign processes and of echo
// servers; the results of earlier calls), run by an interpreter guest
// inside an environment with small limits. The property is the one
// docs/security.md promises: the host never crashes or hangs, the
// interpreter ends with a reason a guest can earn (normal, killed, a trap,
// out of fuel, memory limit, an exit code) or is killed within a bound,
// Close returns, and once it has no process store and no goroutine is
// left; and the sibling environment's process survives whatever the
// program does (links follow kill's environment rule).
//
// The interpreter is generated from abi.Funcs, so a function added to the
// table is fuzzed without touching this file.

// Fixed guest memory layout of the interpreter (one 64 KiB page at start).
const (
	abiIDSlots  = 0      // 32 i64 slots: where id_ptr arguments usually point
	abiStrings  = 256    // the fixed strings below, 16 bytes apart
	abiParams   = 768    // spawn parameter records (see abiParamRecords)
	abiScratch  = 1024   // free for reads and writes
	abiProgram  = 0x8000 // the program message: u32 count, records, blob
	abiRecSize  = 64     // op u32, modes u32, 7 x i64 args
	abiMaxCalls = 16
	abiMaxBlob  = 1024
	abiMaxArgs  = 7
)

// abiStringsTable is written at abiStrings, entry i at abiStrings+16*i:
// the interpreter's exports (spawn entries), names, versions and
// constraints good and bad.
var abiStringsTable = []string{
	"run", "idle", "crash", "quit", "spin", "sleep", "nope", "svc",
	"1.0.0", "^1", "", "2.0.0-rc.1+b", ">=1, <3", "not a version", "svc\x00x", "recurse",
}

// abiParamRecords are spawn parameter records at abiParams: i64 5, i32 7,
// an unknown type code, and i64 -1.
var abiParamRecords = []struct {
	typ uint32
	val int64
}{{1, 5}, {0, 7}, {9, 0}, {1, -1}}

// Extra interpreter ops after the host functions.
const (
	opGrow    = iota // memory.grow(arg0)
	opSpin           // loop arg0 times (fuel bounds it)
	opStore          // i64.store arg1 at arg0
	opRecurse        // recurse arg0 deep (the stack bounds it)
	numExtraOps
)

// Argument modes, two bits per argument in a record's modes word.
const (
	modeLiteral = 0 // the value as written
	modeLast    = 1 // the previous call's result
	modeMemEnd  = 2 // the memory's current size in bytes plus the value
	modeLoad    = 3 // the i64 in memory at (value & 0xfff8): an id a call wrote
)

// abiGuestWAT generates the interpreter.
func abiGuestWAT() string {
	var b strings.Builder
	b.WriteString("(module $abifuzz\n")
	for _, f := range abi.Funcs {
		fmt.Fprintf(&b, "  (import %q %q (func $%s.%s", f.Namespace, f.Name, f.Namespace, f.Name)
		for _, p := range f.Params {
			fmt.Fprintf(&b, " (param %s)", p.Type)
		}
		for _, r := range f.Results {
			fmt.Fprintf(&b, " (result %s)", r.Type)
		}
		b.WriteString("))\n")
	}
	b.WriteString(`  (memory (export "memory") 1)
  (global $last (mut i64) (i64.const 0))
`)
	for i, s := range abiStringsTable {
		fmt.Fprintf(&b, "  (data (i32.const %d) \"%s\")\n", abiStrings+16*i, watBytes([]byte(s)))
	}
	for i, r := range abiParamRecords {
		var rec [16]byte
		binary.LittleEndian.PutUint32(rec[0:], r.typ)
		binary.LittleEndian.PutUint64(rec[8:], uint64(r.val))
		fmt.Fprintf(&b, "  (data (i32.const %d) \"%s\")\n", abiParams+16*i, watBytes(rec[:]))
	}
	b.WriteString(`
  (func $arg (param $rec i32) (param $i i32) (result i64)
    (local $v i64)
    (local.set $v (i64.load offset=8 (i32.add (local.get $rec) (i32.shl (local.get $i) (i32.const 3)))))
    (block $load (block $memend (block $last (block $lit
      (br_table $lit $last $memend $load
        (i32.and (i32.shr_u (i32.load offset=4 (local.get $rec)) (i32.shl (local.get $i) (i32.const 1))) (i32.const 3))))
      (return (local.get $v)))
      (return (global.get $last)))
      (return (i64.add (i64.shl (i64.extend_i32_u (memory.size)) (i64.const 16)) (local.get $v))))
    (i64.load (i32.and (i32.wrap_i64 (local.get $v)) (i32.const 0xfff8))))

  (func $recurse (export "recurse") (param $n i64)
    (if (i64.gt_s (local.get $n) (i64.const 0))
      (then (call $recurse (i64.sub (local.get $n) (i64.const 1))))))
  (func (export "idle") (loop $l (call $ward_process.sleep_ms (i64.const 1000000)) (br $l)))
  (func (export "crash") unreachable)
  (func (export "quit"))
  (func (export "spin") (loop $l (br $l)))
  (func (export "sleep") (param $ms i64) (call $ward_process.sleep_ms (local.get $ms)))
  ;; echo: answer every message to its sender, same tag and data (refused
  ;; for the runtime's negative tags, which is fine)
  (func (export "echo") (local $n i32)
    (loop $l
      (drop (call $ward_message.receive (i32.const 0) (i32.const 0) (i64.const -1)))
      (local.set $n (call $ward_message.read_data (i32.const 1024) (i32.const 4096)))
      (call $ward_message.create_data (call $ward_message.get_tag))
      (drop (call $ward_message.write_data (i32.const 1024) (local.get $n)))
      (drop (call $ward_message.send (call $ward_message.sender)))
      (br $l)))

  ;; run: receive the program, then run its calls in order.
  (func (export "run")
    (local $rec i32) (local $end i32) (local $i i64)
    (if (call $ward_message.receive (i32.const 0) (i32.const 0) (i64.const -1)) (then unreachable))
    (drop (call $ward_message.read_data (i32.const 0x8000) (i32.const 0x8000)))
    (local.set $rec (i32.const 0x8004))
    (local.set $end (i32.add (local.get $rec) (i32.mul (i32.load (i32.const 0x8000)) (i32.const 64))))
    (block $out (loop $next
      (br_if $out (i32.ge_u (local.get $rec) (local.get $end)))
      (block $done
`)
	n := len(abi.Funcs) + numExtraOps
	for i := n - 1; i >= 0; i-- {
		fmt.Fprintf(&b, "      (block $op%d\n", i)
	}
	b.WriteString("      (br_table")
	for i := range n {
		fmt.Fprintf(&b, " $op%d", i)
	}
	b.WriteString(" $done (i32.load (local.get $rec)))\n")
	arg := func(i int, t abi.ValType) string {
		if t == abi.I32 {
			return fmt.Sprintf("(i32.wrap_i64 (call $arg (local.get $rec) (i32.const %d)))", i)
		}
		return fmt.Sprintf("(call $arg (local.get $rec) (i32.const %d))", i)
	}
	for i, f := range abi.Funcs {
		fmt.Fprintf(&b, "      ) ;; op %d: %s.%s\n      ", i, f.Namespace, f.Name)
		call := fmt.Sprintf("(call $%s.%s", f.Namespace, f.Name)
		for j, p := range f.Params {
			call += " " + arg(j, p.Type)
		}
		call += ")"
		switch {
		case len(f.Results) == 0:
			b.WriteString(call)
		case f.Results[0].Type == abi.I32:
			b.WriteString("(global.set $last (i64.extend_i32_s " + call + "))")
		default:
			b.WriteString("(global.set $last " + call + ")")
		}
		b.WriteString(" (br $done)\n")
	}
	fmt.Fprintf(&b, `      ) ;; grow
      (global.set $last (i64.extend_i32_s (memory.grow %s))) (br $done)
      ) ;; spin
      (local.set $i %s)
      (block $s (loop $l (br_if $s (i64.le_s (local.get $i) (i64.const 0)))
        (local.set $i (i64.sub (local.get $i) (i64.const 1))) (br $l)))
      (br $done)
      ) ;; store
      (i64.store %s %s) (br $done)
      ) ;; recurse
      (call $recurse %s)
      ) ;; done
      (local.set $rec (i32.add (local.get $rec) (i32.const 64)))
      (br $next))))
)
`, arg(0, abi.I32), arg(0, abi.I64), arg(0, abi.I32), arg(1, abi.I64), arg(0, abi.I64))
	return b.String()
}

func discardLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func watBytes(b []byte) string {
	var s strings.Builder
	for _, c := range b {
		fmt.Fprintf(&s, "\\%02x", c)
	}
	return s.String()
}

// abiPids are the processes a program's pid arguments can name: itself;
// an idle process, a Wasm echo server and a Go-native echo server in its
// environment (the servers answer every message, which brings in the
// hand-off and the Go paths); an idle process in a sibling environment;
// and a process that has ended.
type abiPids struct{ self, victim, echo, goEcho, outsider, dead ProcessID }

// abiCall is one decoded call: an op (an abi.Funcs index, or past them an
// extra op), argument modes and values.
type abiCall struct {
	op    int
	modes uint32
	args  [abiMaxArgs]int64
}

// abiReader hands out fuzz bytes, zeros once they run out.
type abiReader struct{ b []byte }

func (r *abiReader) byte() byte {
	if len(r.b) == 0 {
		return 0
	}
	c := r.b[0]
	r.b = r.b[1:]
	return c
}

func (r *abiReader) u32() uint32 {
	return uint32(r.byte()) | uint32(r.byte())<<8 | uint32(r.byte())<<16 | uint32(r.byte())<<24
}

// decodeABIProgram turns fuzz bytes into at most abiMaxCalls calls drawn
// from ops, and a blob: the bytes after the calls, which land in guest
// memory right after the records (blobAddr) for pointer arguments to use.
//
// Each call is an op byte, then per parameter one class byte (low nibble:
// what kind of value; high nibble: a small operand) and, for some classes,
// four more bytes. The classes aim at what breaks hosts: 0, -1, sizes just
// past the end of memory, near 2^31 and 2^32, strings that exist, ids of
// processes alive, dead and elsewhere, and results of earlier calls.
func decodeABIProgram(data []byte, ops []int, pids abiPids) (calls []abiCall, blob []byte, blobAddr uint32) {
	r := &abiReader{data}
	if len(r.b) == 0 {
		return nil, nil, 0
	}
	n := int(r.byte())%abiMaxCalls + 1
	blobAddr = abiProgram + 4 + uint32(n)*abiRecSize
	for range n {
		c := abiCall{op: ops[int(r.byte())%len(ops)]}
		for j := range abiMaxArgs {
			cls := r.byte()
			k := int64(cls >> 4) // 0..15
			var v int64
			mode := uint32(modeLiteral)
			switch cls & 15 {
			case 0:
				v = 0
			case 1:
				v = -1
			case 2:
				v = int64(int32(r.u32()))
			case 3:
				v = int64(r.u32())<<32 | int64(r.u32())
			case 4:
				mode, v = modeMemEnd, k-8 // just before or past the end of memory
			case 5:
				v = [...]int64{0x7fffffff, 0x80000000, 0xffffffff, 0x100000000, 1 << 62, -1 << 63, 0x7ffffff0, 0xfffffff0}[k&7]
			case 6:
				v = int64(abiStrings + 16*(k%int64(len(abiStringsTable))))
			case 7:
				v = int64(len(abiStringsTable[k%int64(len(abiStringsTable))]))
			case 8:
				mode = modeLast
			case 9:
				v = int64([...]ProcessID{pids.self, pids.victim, pids.outsider, pids.dead, pids.echo, pids.goEcho, 0, 1 << 62}[k&7])
			case 10:
				v = int64(abiIDSlots + 8*(k&31))
			case 11:
				mode, v = modeLoad, int64(abiIDSlots+8*(k&31)) // an id a call wrote
			case 12:
				v = k // small counts, tags, timeouts
			case 13:
				v = int64(blobAddr) + int64(r.byte())
			case 14:
				v = int64(abiParams + 16*(k&3))
			case 15:
				v = int64(r.byte()) + k<<8 // up to 4 KiB: lengths
			}
			c.modes |= mode << (2 * j)
			c.args[j] = v
		}
		calls = append(calls, c)
	}
	blob = r.b
	if len(blob) > abiMaxBlob {
		blob = blob[:abiMaxBlob]
	}
	return calls, blob, blobAddr
}

// encodeABIProgram lays calls and blob out as the interpreter reads them.
func encodeABIProgram(calls []abiCall, blob []byte) []byte {
	out := binary.LittleEndian.AppendUint32(nil, uint32(len(calls)))
	for _, c := range calls {
		out = binary.LittleEndian.AppendUint32(out, uint32(c.op))
		out = binary.LittleEndian.AppendUint32(out, c.modes)
		for _, a := range c.args {
			out = binary.LittleEndian.AppendUint64(out, uint64(a))
		}
	}
	return append(out, blob...)
}

// abiFuzzEnv is the small environment every program runs in: a few pages,
// a fuel budget that ends spinning in well under a second, a handful of
// processes, and small mailbox, timer, link, monitor and name bounds.
var abiFuzzEnv = environment.Config{
	MaxMemory:           4 * environment.PageSize,
	MaxFuel:             20_000_000,
	MaxProcesses:        10,
	MaxMailboxMessages:  32,
	MaxMailboxBytes:     64 << 10,
	MaxTimers:           8,
	MaxTimerBytes:       64 << 10,
	MaxLinks:            8,
	MaxMonitors:         8,
	MaxNames:            4,
	MaxEnvironmentNames: 8,
}

// abiRunBound is how long a program may run before it is killed: a program
// that receives or sleeps forever is legitimate, and Kill must end it.
const abiRunBound = 30 * time.Millisecond

var abiWATOnce = sync.OnceValue(abiGuestWAT)

// runABIProgram runs one fuzz input in a fresh runtime and checks the
// property. A runtime per input costs a few milliseconds, and it is the
// only way to check that Close leaves nothing behind, and that one input's
// timers and names cannot change the next input's outcome.
func runABIProgram(t *testing.T, cacheDir string, data []byte, ops []int) {
	runABI(t, cacheDir, abiRunBound, func(pids abiPids) ([]abiCall, []byte) {
		calls, blob, _ := decodeABIProgram(data, ops, pids)
		return calls, blob
	})
}

// abiOutcome is how a program's run ended.
type abiOutcome struct {
	reason   Reason // the interpreter's
	outsider Reason // the sibling environment's process's, nil if running
}

// runABI runs the program build makes in a fresh runtime, checks the
// property and returns how the program's processes ended.
//
// cacheDir keeps the interpreter's compiled code between runtimes:
// deserializing it takes a millisecond, compiling it fifty. The program is
// killed if it runs longer than bound: abiRunBound when fuzzing, a hang
// guard for programs that are to finish.
func runABI(t *testing.T, cacheDir string, bound time.Duration, build func(abiPids) ([]abiCall, []byte)) abiOutcome {
	goroutines := goruntime.NumGoroutine()
	stores := wasm.LiveProcs()
	// Stubs of ward's hosted namespaces are registered so that the
	// interpreter's hosted imports link: the modules themselves import
	// the runtime, and each tests its own calls.
	opts := []Option{WithLogger(discardLogger()), WithCacheDir(cacheDir), grantAll()}
	for _, m := range hostedStubs(t) {
		opts = append(opts, WithHostModule(m))
	}
	r, err := New(opts...)
	if err != nil {
		t.Fatal(err)
	}
	closed := false
	defer func() {
		if !closed {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			_ = r.Close(ctx)
		}
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	m, err := r.LoadModule(ctx, "abifuzz", []byte(abiWATOnce()))
	if err != nil {
		t.Fatal(err)
	}
	env, err := r.NewEnvironment(abiFuzzEnv)
	if err != nil {
		t.Fatal(err)
	}
	beside, err := r.NewEnvironment(abiFuzzEnv)
	if err != nil {
		t.Fatal(err)
	}
	victim, err := env.Spawn(ctx, m, "idle")
	if err != nil {
		t.Fatal(err)
	}
	outsider, err := beside.Spawn(ctx, m, "idle")
	if err != nil {
		t.Fatal(err)
	}
	echo, err := env.Spawn(ctx, m, "echo")
	if err != nil {
		t.Fatal(err)
	}
	goEcho, err := env.SpawnGo(ctx, "goecho", func(ctx context.Context, self *Self) error {
		for {
			msg, err := self.Receive(ctx)
			if err != nil {
				return nil // killed, or the runtime closing
			}
			if msg.Tag >= 0 {
				_ = self.Send(ProcessID(msg.Sender), Message{Tag: msg.Tag, Data: msg.Data})
			}
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	dead, err := env.Spawn(ctx, m, "quit")
	if err != nil {
		t.Fatal(err)
	}
	if reason, err := dead.Wait(ctx); err != nil || reason != Normal {
		t.Fatalf("quit: %v %v", reason, err)
	}
	p, err := env.Spawn(ctx, m, "run")
	if err != nil {
		t.Fatal(err)
	}
	calls, blob := build(abiPids{p.ID(), victim.ID(), echo.ID(), goEcho.ID(), outsider.ID(), dead.ID()})
	if err := p.Send(ctx, Message{Tag: 1, Data: encodeABIProgram(calls, blob)}); err != nil {
		t.Fatalf("sending the program: %v", err)
	}

	killed := false
	select {
	case <-p.Done():
	case <-time.After(bound):
		killed = true
		p.Kill()
		select {
		case <-p.Done():
		case <-time.After(10 * time.Second): // a hang guard
			t.Fatalf("the interpreter did not end 10 s after Kill; program:\n%s", describeABIProgram(calls))
		}
	}
	if err := saneReason(p.Reason(), killed); err != nil {
		t.Fatalf("%v; program:\n%s", err, describeABIProgram(calls))
	}
	out := abiOutcome{reason: p.Reason(), outsider: outsider.Reason()}
	// A link passes an exit on by ending its peer from outside, which marks
	// it killed at once and ends it soon after: look at the mark, or the
	// check would depend on timing.
	if out.outsider != nil || outsider.killed.Load() {
		t.Fatalf("the process of the sibling environment is ending or ended (reason so far: %v); program:\n%s", out.outsider, describeABIProgram(calls))
	}

	closeCtx, closeCancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer closeCancel()
	if err := r.Close(closeCtx); err != nil {
		t.Fatalf("Close: %v; program:\n%s", err, describeABIProgram(calls))
	}
	closed = true
	if n := r.NumProcesses(); n != 0 {
		t.Fatalf("after Close: %d processes in the table; program:\n%s", n, describeABIProgram(calls))
	}
	if n := wasm.LiveProcs(); n != stores {
		t.Fatalf("after Close: %d process stores alive, want %d; program:\n%s", n, stores, describeABIProgram(calls))
	}
	// Goroutines of timers that fired or were stopped, and of the
	// runtime, wind down just after Close; wait for them, within a guard.
	deadline := time.Now().Add(10 * time.Second)
	for goruntime.NumGoroutine() > goroutines {
		if time.Now().After(deadline) {
			t.Fatalf("after Close: %d goroutines, %d before; program:\n%s", goruntime.NumGoroutine(), goroutines, describeABIProgram(calls))
		}
		time.Sleep(time.Millisecond)
	}
	return out
}

// saneReason accepts the reasons a guest can earn by itself, and Killed
// when it was killed; anything else (an instantiation failure, a Go error,
// nil) means the host mishandled a call.
func saneReason(reason Reason, killed bool) error {
	var (
		te *TrapError
		fe *FuelError
		me *MemoryLimitError
		ee *ExitError
	)
	switch {
	case reason == nil:
		return errors.New("ended without a reason")
	case reason == Normal, reason == Killed && killed:
		return nil
	case errors.As(reason, &fe), errors.As(reason, &me), errors.As(reason, &ee):
		return nil
	case errors.As(reason, &te):
		// A trap of the interpreter itself, or of a spawn-linked child
		// that took it down; either way, a Wasm trap or a host call's.
		if te.Module != "abifuzz" {
			return fmt.Errorf("trap in module %q: %v", te.Module, reason)
		}
		return nil
	case reason == Killed:
		// Killed by a program's own kill(self), or a kill of a linked
		// process passing on; both are a guest's doing.
		return nil
	}
	return fmt.Errorf("reason %T %v is not one a guest can cause", reason, reason)
}

func describeABIProgram(calls []abiCall) string {
	var b strings.Builder
	for _, c := range calls {
		name := ""
		if c.op < len(abi.Funcs) {
			f := abi.Funcs[c.op]
			name = f.Namespace + "." + f.Name
		} else {
			name = [...]string{"grow", "spin", "store", "recurse"}[c.op-len(abi.Funcs)]
		}
		fmt.Fprintf(&b, "  %s(", name)
		for j, a := range c.args {
			if j > 0 {
				b.WriteString(", ")
			}
			switch (c.modes >> (2 * j)) & 3 {
			case modeLast:
				b.WriteString("last")
			case modeMemEnd:
				fmt.Fprintf(&b, "memend%+d", a)
			case modeLoad:
				fmt.Fprintf(&b, "*%#x", a&0xfff8)
			default:
				fmt.Fprintf(&b, "%#x", a)
			}
		}
		b.WriteString(")\n")
	}
	return b.String()
}

// abiOps lists the ops of the namespaces given, plus the extra ops.
func abiOps(namespaces ...string) []int {
	var ops []int
	for i, f := range abi.Funcs {
		for _, ns := range namespaces {
			if f.Namespace == ns {
				ops = append(ops, i)
			}
		}
	}
	for i := range numExtraOps {
		ops = append(ops, len(abi.Funcs)+i)
	}
	return ops
}

func fuzzABI(f *testing.F, ops []int) {
	// A seed per op: that call with plausible arguments, then with the
	// worst: everything near the end of memory and 2^32.
	for i := range ops {
		good := []byte{0, byte(i), 0x06, 0x07, 0x16, 0x17, 0x0a, 0x0a, 0x0c}
		bad := []byte{0, byte(i), 0x04, 0x95, 0x05, 0x35, 0x14, 0x75, 0x01}
		f.Add(good)
		f.Add(bad)
	}
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, data []byte) { runABIProgram(t, dir, data, ops) })
}

// FuzzGuestABI draws calls from every host function of every namespace.
func FuzzGuestABI(f *testing.F) {
	fuzzABI(f, abiOps(abi.NamespaceProcess, abi.NamespaceMessage, abi.NamespaceRegistry))
}

// FuzzProcessABI draws calls from ward_process alone.
func FuzzProcessABI(f *testing.F) { fuzzABI(f, abiOps(abi.NamespaceProcess)) }

// FuzzMessageABI draws calls from ward_message alone.
func FuzzMessageABI(f *testing.F) { fuzzABI(f, abiOps(abi.NamespaceMessage)) }

// FuzzRegistryABI draws calls from ward_registry alone.
func FuzzRegistryABI(f *testing.F) { fuzzABI(f, abiOps(abi.NamespaceRegistry)) }

// call builds an interpreter call by function name; args are literals
// unless modes says otherwise.
func abiCallOf(t *testing.T, name string, modes uint32, args ...int64) abiCall {
	t.Helper()
	c := abiCall{modes: modes}
	switch name {
	case "grow", "spin", "store", "recurse":
		c.op = len(abi.Funcs) + map[string]int{"grow": opGrow, "spin": opSpin, "store": opStore, "recurse": opRecurse}[name]
	default:
		ns, fn, _ := strings.Cut(name, ".")
		_, i, ok := abi.Lookup(ns, fn)
		if !ok {
			t.Fatalf("no host function %s", name)
		}
		c.op = i
	}
	copy(c.args[:], args)
	return c
}

func abiStr(s string) (ptr, n int64) {
	for i, x := range abiStringsTable {
		if x == s {
			return int64(abiStrings + 16*i), int64(len(s))
		}
	}
	panic("no fixed string " + s)
}

// The interpreter must really make the calls it is given, with the
// arguments given, or the fuzz targets test nothing: known programs end
// with the statuses abi documents.
func TestABIInterpreterMakesTheCalls(t *testing.T) {
	exitLast := func(t *testing.T) abiCall { return abiCallOf(t, "ward_process.exit", modeLast) }
	svc, svcN := abiStr("svc")
	v1, v1N := abiStr("1.0.0")
	bad, badN := abiStr("not a version")
	nope, nopeN := abiStr("nope")
	idle, idleN := abiStr("idle")
	cases := []struct {
		name  string
		calls func(t *testing.T, pids abiPids) []abiCall
		want  func(Reason) bool
	}{
		{"register then exit with its status", func(t *testing.T, _ abiPids) []abiCall {
			return []abiCall{abiCallOf(t, "ward_registry.register", 0, svc, svcN, v1, v1N), exitLast(t)}
		}, isNormal},
		{"a bad version is ErrInvalid", func(t *testing.T, _ abiPids) []abiCall {
			return []abiCall{abiCallOf(t, "ward_registry.register", 0, svc, svcN, bad, badN), exitLast(t)}
		}, exitsWith(abi.ErrInvalid)},
		{"spawning a missing export is ErrNotFound", func(t *testing.T, _ abiPids) []abiCall {
			return []abiCall{abiCallOf(t, "ward_process.spawn", 0, nope, nopeN, 0, 0, 8), exitLast(t)}
		}, exitsWith(abi.ErrNotFound)},
		{"spawn writes the id, and modeLoad reads it back", func(t *testing.T, _ abiPids) []abiCall {
			return []abiCall{
				abiCallOf(t, "ward_process.spawn", 0, idle, idleN, 0, 0, 8),
				abiCallOf(t, "ward_process.exists", modeLoad, 8),
				abiCallOf(t, "store", modeLast<<2, 1024), // the 1 exists returned, at 1024
				abiCallOf(t, "ward_process.exit", modeLoad, 1024),
			}
		}, exitsWith(1)},
		{"the Wasm echo answers a request", func(t *testing.T, pids abiPids) []abiCall {
			return []abiCall{
				abiCallOf(t, "ward_message.create_data", 0, 7),
				abiCallOf(t, "ward_message.write_data", 0, abiScratch, 8),
				abiCallOf(t, "ward_message.send_receive", 0, int64(pids.echo), 0, 0, 10_000),
				exitLast(t),
			}
		}, isNormal},
		{"the Go echo answers a request", func(t *testing.T, pids abiPids) []abiCall {
			return []abiCall{
				abiCallOf(t, "ward_message.create_data", 0, 7),
				abiCallOf(t, "ward_message.send_receive", 0, int64(pids.goEcho), 0, 0, 10_000),
				abiCallOf(t, "ward_message.get_tag", 0),
				exitLast(t),
			}
		}, exitsWith(7)},
		{"try_receive with nothing there is ErrAgain", func(t *testing.T, _ abiPids) []abiCall {
			return []abiCall{abiCallOf(t, "ward_message.try_receive", 0, 0, 0), exitLast(t)}
		}, exitsWith(abi.ErrAgain)},
		{"try_send to the Go echo is ErrAgain, and send then sends", func(t *testing.T, pids abiPids) []abiCall {
			return []abiCall{
				abiCallOf(t, "ward_message.create_data", 0, 7),
				abiCallOf(t, "ward_message.try_send", 0, int64(pids.goEcho)),
				abiCallOf(t, "store", modeLast<<2, 1024),
				abiCallOf(t, "ward_message.send", 0, int64(pids.goEcho)),
				abiCallOf(t, "ward_message.receive", 0, 0, 0, 10_000),
				abiCallOf(t, "ward_message.get_tag", 0),
				abiCallOf(t, "ward_process.exit", modeLoad, 1024),
			}
		}, exitsWith(abi.ErrAgain)},
		{"kill outside the environment is ErrPermission", func(t *testing.T, pids abiPids) []abiCall {
			return []abiCall{abiCallOf(t, "ward_process.kill", 0, int64(pids.outsider)), exitLast(t)}
		}, exitsWith(abi.ErrPermission)},
		{"a write past the end of memory traps", func(t *testing.T, _ abiPids) []abiCall {
			return []abiCall{abiCallOf(t, "ward_message.write_data", modeMemEnd, -4, 8)}
		}, hostTrap("ward_message.write_data")},
		{"memory.grow past MaxMemory fails, then memend moves with a grow", func(t *testing.T, _ abiPids) []abiCall {
			return []abiCall{
				abiCallOf(t, "grow", 0, 3), // to 4 pages, the limit
				abiCallOf(t, "grow", 0, 1), // refused: -1
				abiCallOf(t, "store", modeLast<<2, 1024),
				abiCallOf(t, "ward_message.write_data", modeMemEnd, -8, 8), // in memory at 4 pages
				abiCallOf(t, "ward_process.exit", modeLoad, 1024),
			}
		}, func(r Reason) bool {
			var ee *ExitError
			return errors.As(r, &ee) && ee.Code == -1
		}},
	}
	dir := t.TempDir()
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var calls []abiCall
			reason := runABI(t, dir, testTimeout, func(pids abiPids) ([]abiCall, []byte) {
				calls = c.calls(t, pids)
				return calls, nil
			}).reason
			if !c.want(reason) {
				t.Fatalf("reason %T %v; program:\n%s", reason, reason, describeABIProgram(calls))
			}
		})
	}
}

func isNormal(r Reason) bool { return r == Normal }

func exitsWith(code int) func(Reason) bool {
	return func(r Reason) bool {
		var ee *ExitError
		return errors.As(r, &ee) && ee.Code == code
	}
}

func hostTrap(fn string) func(Reason) bool {
	return func(r Reason) bool {
		var te *TrapError
		return errors.As(r, &te) && te.Code == TrapNone && strings.Contains(te.Message, fn)
	}
}

// hostedStubs links every hosted namespace of the table (hoststub).
func hostedStubs(t *testing.T) []hostapi.Module {
	t.Helper()
	mods, err := hoststub.Modules()
	if err != nil {
		t.Fatal(err)
	}
	return mods
}
