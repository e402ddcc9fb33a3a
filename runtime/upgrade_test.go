package runtime

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/wardrt/ward/environment"
	"github.com/wardrt/ward/internal/abi"
)

// upgraderWAT is a server that upgrades on request. Its messages:
//
//	tag 1, a number: reported to the collector under tag 10*version
//	tag 2, an entry name: upgrade to it, handing over the collector's id;
//	       a failure is reported under tag 30 with the status (u32)
//	tag 3: return (a normal end)
//	tag 4: sleep 200 ms
//
// Its entries: main(collector) starts serving; resume reads the collector
// from the upgrade state, reports 10*version+1 and serves. Each version
// has other bytes.
func upgraderWAT(version int) []byte {
	return fmt.Appendf(nil, `(module
  (import "ward_process" "exit" (func $exit (param i32)))
  (import "ward_process" "sleep_ms" (func $sleep (param i64)))
  (import "ward_process" "upgrade" (func $upgrade (param i32 i32 i32 i32) (result i32)))
  (import "ward_message" "receive" (func $recv (param i32 i32 i64) (result i32)))
  (import "ward_message" "get_tag" (func $tag (result i64)))
  (import "ward_message" "data_size" (func $size (result i64)))
  (import "ward_message" "read_data" (func $read (param i32 i32) (result i32)))
  (import "ward_message" "create_data" (func $create (param i64)))
  (import "ward_message" "write_data" (func $write (param i32 i32) (result i32)))
  (import "ward_message" "send" (func $send (param i64) (result i32)))
  (memory (export "memory") 1)
  (global $collector (mut i64) (i64.const 0))
  (func $report (param $tag i64) (param $ptr i32) (param $len i32)
    (call $create (local.get $tag))
    (drop (call $write (local.get $ptr) (local.get $len)))
    (drop (call $send (global.get $collector))))
  (func $serve
    (local $t i64) (local $n i32)
    (loop $l
      (drop (call $recv (i32.const 0) (i32.const 0) (i64.const -1)))
      (local.set $t (call $tag))
      (if (i64.eq (local.get $t) (i64.const 1)) (then
        (drop (call $read (i32.const 8) (i32.const 8)))
        (call $report (i64.const %[2]d) (i32.const 8) (i32.const 8))
        (br $l)))
      (if (i64.eq (local.get $t) (i64.const 2)) (then
        (local.set $n (call $read (i32.const 64) (i32.const 64)))
        (i64.store (i32.const 16) (global.get $collector))
        (i32.store (i32.const 24) (call $upgrade (i32.const 64) (local.get $n) (i32.const 16) (i32.const 8)))
        (call $report (i64.const 30) (i32.const 24) (i32.const 4))
        (br $l)))
      (if (i64.eq (local.get $t) (i64.const 4)) (then (call $sleep (i64.const 200)) (br $l)))
      (if (i64.eq (local.get $t) (i64.const 3)) (then (return)))
      (br $l)))
  (func (export "main") (param i64)
    (global.set $collector (local.get 0))
    (call $serve))
  (func (export "resume")
    (if (i64.ne (call $tag) (i64.const %[3]d)) (then (call $exit (i32.const 3))))
    (if (i64.ne (call $size) (i64.const 8)) (then (call $exit (i32.const 4))))
    (drop (call $read (i32.const 16) (i32.const 8)))
    (global.set $collector (i64.load (i32.const 16)))
    (call $report (i64.const %[4]d) (i32.const 0) (i32.const 0))
    (call $serve))
  (func (export "takes_params") (param i32)))`, version, 10*version, abi.TagUpgrade, 10*version+1)
}

// collect spawns a Go process that forwards every message it gets to the
// returned channel.
func collect(t *testing.T, r *Runtime) (*Process, <-chan Message) {
	t.Helper()
	ch := make(chan Message, 1<<16)
	p, err := r.Environment().SpawnGo(testCtx(t), "collector", func(ctx context.Context, self *Self) error {
		for {
			m, err := self.Receive(ctx)
			if err != nil {
				return nil
			}
			ch <- m
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Kill)
	return p, ch
}

func next(t *testing.T, ch <-chan Message) Message {
	t.Helper()
	select {
	case m := <-ch:
		return m
	case <-time.After(testTimeout):
		t.Fatal("no report")
		return Message{}
	}
}

func number(n uint64) []byte { return binary.LittleEndian.AppendUint64(nil, n) }

// installVersion loads upgraderWAT(v) and installs it as svc v.0.0.
func installVersion(t *testing.T, r *Runtime, v int) *Module {
	t.Helper()
	m := load(t, r, "svc", upgraderWAT(v))
	defer m.Close()
	if err := r.Install(testCtx(t), "svc", fmt.Sprintf("%d.0.0", v), m); err != nil {
		t.Fatal(err)
	}
	cur, _, _ := r.Current("svc")
	return cur
}

// A receiver fed a steady stream upgrades in the middle of it: every
// message arrives once, in order, the ones before the upgrade handled by
// v1 and the rest by v2, including those its old instance had taken
// ahead of the mailbox.
func TestUpgradeUnderLoadKeepsEveryMessage(t *testing.T) {
	r := newRuntime(t)
	ctx := testCtx(t)
	collector, reports := collect(t, r)
	v1 := installVersion(t, r, 1)
	p := spawn(t, r.Environment(), v1, "main", I64(int64(collector.ID())))

	const n = 4000
	send := func(m Message) {
		t.Helper()
		if err := r.Send(ctx, p.ID(), m); err != nil {
			t.Fatal(err)
		}
	}
	for i := range n {
		switch i {
		case n / 2:
			installVersion(t, r, 2)
			// Asleep while the upgrade request and the messages behind
			// it queue: its next receive takes them ahead at once.
			send(Message{Tag: 4})
			time.Sleep(20 * time.Millisecond)
			send(Message{Tag: 2, Data: []byte("resume")})
		}
		send(Message{Tag: 1, Data: number(uint64(i))})
	}
	send(Message{Tag: 3})

	want, version := uint64(0), int64(10)
	for want < n {
		m := next(t, reports)
		switch {
		case m.Tag == 21 && version == 10:
			version = 20
		case m.Tag == version && len(m.Data) == 8:
			if got := binary.LittleEndian.Uint64(m.Data); got != want {
				t.Fatalf("message %d reported as number %d (version tag %d)", want, got, m.Tag)
			}
			want++
		default:
			t.Fatalf("report tag %d (%x) after %d numbers, on version tag %d", m.Tag, m.Data, want, version)
		}
	}
	if version != 20 {
		t.Fatal("the receiver never reported from v2")
	}
	if reason, _ := p.Wait(ctx); !reason.Normal() {
		t.Fatalf("receiver ended with %v", reason)
	}
	if p.aheads == 0 {
		t.Error("no message went ahead of the mailbox: the inbox hand-over was not exercised")
	}
}

// An upgraded process is the same process: its id, registered name,
// links and monitors carry over, and the monitor fires once, at its end.
func TestUpgradeKeepsIdentity(t *testing.T) {
	r := newRuntime(t)
	ctx := testCtx(t)
	env := r.Environment()
	collector, reports := collect(t, r)
	v1 := installVersion(t, r, 1)
	p := spawn(t, env, v1, "main", I64(int64(collector.ID())))
	if err := env.Register("svc", "1.0.0", p); err != nil {
		t.Fatal(err)
	}
	signals := make(chan Message, 8)
	watcher, err := env.SpawnGo(ctx, "watcher", func(ctx context.Context, self *Self) error {
		self.TrapExit(true)
		if err := self.Link(p.ID()); err != nil {
			return err
		}
		if _, err := self.Monitor(p.ID()); err != nil {
			return err
		}
		signals <- Message{} // watching
		for {
			m, err := self.Receive(ctx)
			if err != nil {
				return nil
			}
			signals <- m
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	defer watcher.Kill()
	<-signals

	v2 := installVersion(t, r, 2)
	if err := r.Send(ctx, p.ID(), Message{Tag: 2, Data: []byte("resume")}); err != nil {
		t.Fatal(err)
	}
	if m := next(t, reports); m.Tag != 21 {
		t.Fatalf("report %d, want v2's resume (21)", m.Tag)
	}
	if got, ok := r.Process(p.ID()); !ok || got != p {
		t.Fatal("the upgraded process is not in the table under its id")
	}
	if p.Module() != v2 {
		t.Fatalf("Module() = %v, want v2", p.Module().Name())
	}
	if q, _, err := env.Lookup("svc", "^1"); err != nil || q != p {
		t.Fatalf("lookup after the upgrade: %v, %v", q, err)
	}
	if err := r.Send(ctx, p.ID(), Message{Tag: 1, Data: number(7)}); err != nil {
		t.Fatal(err)
	}
	if m := next(t, reports); m.Tag != 20 || binary.LittleEndian.Uint64(m.Data) != 7 {
		t.Fatalf("report %d %x, want v2's 7", m.Tag, m.Data)
	}
	// An abnormal end, so that the link signals too.
	p.Kill()
	p.Wait(ctx)
	if p.Module() != v2 {
		t.Fatal("once ended, Module() no longer reports the version it upgraded to")
	}
	var downs, exits int
	deadline := time.After(200 * time.Millisecond)
	for done := false; !done; {
		select {
		case m := <-signals:
			if _, ok := ParseDown(m); ok {
				downs++
			} else if _, ok := ParseExit(m); ok {
				exits++
			}
		case <-deadline:
			done = true
		}
	}
	if downs != 1 || exits != 1 {
		t.Fatalf("%d DOWN and %d exit signals after the end, want one of each", downs, exits)
	}
	if _, _, err := env.Lookup("svc", "^1"); err == nil {
		t.Fatal("the name outlived the process")
	}
}

// With nothing newer to move to, or no such entry there, upgrade returns
// a status and the process runs on, on its old code.
func TestUpgradeRefusedRunsOn(t *testing.T) {
	r := newRuntime(t)
	ctx := testCtx(t)
	collector, reports := collect(t, r)
	v1 := installVersion(t, r, 1)
	p := spawn(t, r.Environment(), v1, "main", I64(int64(collector.ID())))
	status := func(entry string) uint32 {
		t.Helper()
		if err := r.Send(ctx, p.ID(), Message{Tag: 2, Data: []byte(entry)}); err != nil {
			t.Fatal(err)
		}
		m := next(t, reports)
		if m.Tag != 30 {
			t.Fatalf("report %d, want a status (30)", m.Tag)
		}
		return binary.LittleEndian.Uint32(m.Data)
	}
	if st := status("resume"); st != abi.ErrNotFound {
		t.Fatalf("upgrade on the current version: status %d, want ErrNotFound", st)
	}
	installVersion(t, r, 2)
	if st := status("nosuch"); st != abi.ErrNotFound {
		t.Fatalf("upgrade to a missing entry: status %d, want ErrNotFound", st)
	}
	if st := status("takes_params"); st != abi.ErrNotFound {
		t.Fatalf("upgrade to an entry with params: status %d, want ErrNotFound", st)
	}
	if err := r.Send(ctx, p.ID(), Message{Tag: 1, Data: number(5)}); err != nil {
		t.Fatal(err)
	}
	if m := next(t, reports); m.Tag != 10 {
		t.Fatalf("report %d after refused upgrades, want v1's (10)", m.Tag)
	}
	if p.Module() != v1 {
		t.Fatal("Module() changed without an upgrade")
	}
	r.Send(ctx, p.ID(), Message{Tag: 3})
	if reason, _ := p.Wait(ctx); !reason.Normal() {
		t.Fatalf("ended with %v", reason)
	}
}

// A kill while the process upgrades ends it, with nothing left behind
// (newRuntime's cleanup counts the stores).
func TestKillDuringUpgrade(t *testing.T) {
	r := newRuntime(t)
	ctx := testCtx(t)
	collector, _ := collect(t, r)
	v1 := installVersion(t, r, 1)
	installVersion(t, r, 2)
	for i := range 50 {
		p := spawn(t, r.Environment(), v1, "main", I64(int64(collector.ID())))
		r.Send(ctx, p.ID(), Message{Tag: 2, Data: []byte("resume")})
		if i%2 == 1 {
			time.Sleep(time.Duration(i) * 10 * time.Microsecond)
		}
		p.Kill()
		if reason, _ := p.Wait(ctx); reason != Killed {
			t.Fatalf("ended with %v, want Killed", reason)
		}
	}
	if n := r.Stats().Modules; n != 2 {
		t.Fatalf("%d modules, want the two installed", n)
	}
}

// The third version purges processes still on the first; those that
// upgraded to the second run on.
func TestUpgradedProcessesSurviveThePurge(t *testing.T) {
	r := newRuntime(t)
	ctx := testCtx(t)
	collector, reports := collect(t, r)
	v1 := installVersion(t, r, 1)
	stays := spawn(t, r.Environment(), v1, "main", I64(int64(collector.ID())))
	moves := spawn(t, r.Environment(), v1, "main", I64(int64(collector.ID())))
	installVersion(t, r, 2)
	r.Send(ctx, moves.ID(), Message{Tag: 2, Data: []byte("resume")})
	if m := next(t, reports); m.Tag != 21 {
		t.Fatalf("report %d, want v2's resume", m.Tag)
	}
	installVersion(t, r, 3)
	if reason, _ := stays.Wait(ctx); !errors.Is(reason, ErrPurged) {
		t.Fatalf("the process on v1 ended with %v, want a purge", reason)
	}
	if moves.Reason() != nil {
		t.Fatalf("the upgraded process ended: %v", moves.Reason())
	}
	r.Send(ctx, moves.ID(), Message{Tag: 2, Data: []byte("resume")})
	if m := next(t, reports); m.Tag != 31 {
		t.Fatalf("report %d, want v3's resume", m.Tag)
	}
	r.Send(ctx, moves.ID(), Message{Tag: 3})
	if reason, _ := moves.Wait(ctx); !reason.Normal() {
		t.Fatalf("ended with %v", reason)
	}
}

// wasiUpgraderWAT writes a line to stdout when it starts (if wasi), waits
// for a message, upgrades to resume, and there writes another and
// returns.
func wasiUpgraderWAT(version int, wasi bool) []byte {
	write := `(func $write (param i32 i32))`
	if wasi {
		write = `(import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (func $write (param $ptr i32) (param $len i32)
    (i32.store (i32.const 0) (local.get $ptr))
    (i32.store (i32.const 4) (local.get $len))
    (drop (call $fd_write (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 8))))`
	}
	return fmt.Appendf(nil, `(module
  (import "ward_process" "upgrade" (func $upgrade (param i32 i32 i32 i32) (result i32)))
  (import "ward_message" "receive" (func $recv (param i32 i32 i64) (result i32)))
  %s
  (memory (export "memory") 1)
  (data (i32.const 16) "v%d\n")
  (data (i32.const 32) "v%d resumed\n")
  (data (i32.const 64) "resume")
  (func (export "main")
    (call $write (i32.const 16) (i32.const 3))
    (drop (call $recv (i32.const 0) (i32.const 0) (i64.const -1)))
    (drop (call $upgrade (i32.const 64) (i32.const 6) (i32.const 0) (i32.const 0))))
  (func (export "resume") (call $write (i32.const 32) (i32.const 11))))`, write, version, version)
}

// An upgrade into a version that uses WASI gives it the environment's
// WASI setup, whether or not the old one had it, and its output is
// flushed before Wait returns; newRuntime's cleanup finds no output
// stream or goroutine left.
func TestUpgradeIntoWASI(t *testing.T) {
	for _, oldWASI := range []bool{true, false} {
		t.Run(fmt.Sprintf("old uses WASI: %v", oldWASI), func(t *testing.T) {
			r := newRuntime(t)
			ctx := testCtx(t)
			var stdout syncBuffer
			env, err := r.NewEnvironment(environment.Config{WASI: environment.WASI{Stdout: &stdout}})
			if err != nil {
				t.Fatal(err)
			}
			install := func(v int, wasi bool) *Module {
				m := load(t, r, "w", wasiUpgraderWAT(v, wasi))
				defer m.Close()
				if err := r.Install(ctx, "w", fmt.Sprintf("%d.0.0", v), m); err != nil {
					t.Fatal(err)
				}
				cur, _, _ := r.Current("w")
				return cur
			}
			p := spawn(t, env, install(1, oldWASI), "main")
			install(2, true)
			if err := r.Send(ctx, p.ID(), Message{Tag: 1}); err != nil {
				t.Fatal(err)
			}
			if reason := wait(t, p); reason != Normal {
				t.Fatalf("ended with %v", reason)
			}
			want := "v2 resumed\n"
			if oldWASI {
				want = "v1\n" + want
			}
			if got := stdout.String(); got != want {
				t.Fatalf("stdout %q, want %q", got, want)
			}
		})
	}
}

// An environment that does not allow the new version's imports refuses
// the upgrade (ErrPermission), and the process runs on.
func TestUpgradeRefusedByTheEnvironment(t *testing.T) {
	r := newRuntime(t)
	ctx := testCtx(t)
	env, err := r.NewEnvironment(environment.Config{Namespaces: []string{"ward_*"}})
	if err != nil {
		t.Fatal(err)
	}
	m1 := load(t, r, "w", wasiUpgraderWAT(1, false))
	defer m1.Close()
	if err := r.Install(ctx, "w", "1.0.0", m1); err != nil {
		t.Fatal(err)
	}
	p := spawn(t, env, m1, "main")
	m2 := load(t, r, "w", wasiUpgraderWAT(2, true))
	defer m2.Close()
	if err := r.Install(ctx, "w", "2.0.0", m2); err != nil {
		t.Fatal(err)
	}
	if err := r.Send(ctx, p.ID(), Message{Tag: 1}); err != nil {
		t.Fatal(err)
	}
	// main drops upgrade's status and returns: a normal end on v1.
	if reason := wait(t, p); reason != Normal {
		t.Fatalf("ended with %v", reason)
	}
	if p.Module() != m1 {
		t.Fatal("the process moved to a version its environment does not allow")
	}
}
