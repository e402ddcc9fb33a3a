package runtime

import (
	"context"
	"encoding/binary"
	"errors"
	"testing"
	"time"

	"github.com/wardrt/ward/environment"
	"github.com/wardrt/ward/internal/abi"
	"github.com/wardrt/ward/mailbox"
)

// signalsWAT is a hostile guest for the bounds on what signals and timers
// can make the host hold. Memory: 0.. message data (up to 1 MiB).
const signalsWAT = `(module $signals
  (import "ward_process" "exit" (func $exit (param i32)))
  (import "ward_process" "sleep_ms" (func $sleep (param i64)))
  (import "ward_process" "link" (func $link (param i64) (result i32)))
  (import "ward_process" "monitor" (func $monitor (param i64) (result i64)))
  (import "ward_message" "create_data" (func $create (param i64)))
  (import "ward_message" "write_data" (func $write (param i32 i32) (result i32)))
  (import "ward_message" "send" (func $send (param i64) (result i32)))
  (import "ward_message" "send_after" (func $send_after (param i64 i64) (result i64)))
  (memory (export "memory") 17)

  ;; report: send [ok i64][first refusal i64] to obs under tag 7
  (func $report (param $obs i64) (param $ok i64) (param $st i64)
    (i64.store (i32.const 0) (local.get $ok))
    (i64.store (i32.const 8) (local.get $st))
    (call $create (i64.const 7))
    (drop (call $write (i32.const 0) (i32.const 16)))
    (drop (call $send (local.get $obs))))

  ;; monitor_loop: monitor pid n times, never reading the mailbox; report
  ;; the monitors set and the first refusal (a negated status), then sleep
  (func (export "monitor_loop") (param $pid i64) (param $n i64) (param $obs i64)
    (local $ok i64) (local $st i64) (local $ref i64)
    (block $done (loop $l
      (br_if $done (i64.eqz (local.get $n)))
      (local.set $ref (call $monitor (local.get $pid)))
      (if (i64.gt_s (local.get $ref) (i64.const 0))
        (then (local.set $ok (i64.add (local.get $ok) (i64.const 1))))
        (else (if (i64.eqz (local.get $st)) (then (local.set $st (local.get $ref))))))
      (local.set $n (i64.sub (local.get $n) (i64.const 1)))
      (br $l)))
    (call $report (local.get $obs) (local.get $ok) (local.get $st))
    (loop $s (call $sleep (i64.const 1000000)) (br $s)))

  ;; link_then_trap: link to pid; exit 100+status if refused, trap if linked
  (func (export "link_then_trap") (param $pid i64)
    (local $st i32)
    (local.set $st (call $link (local.get $pid)))
    (if (local.get $st) (then (call $exit (i32.add (i32.const 100) (local.get $st)))))
    unreachable)

  ;; link_both: link to a, then b; exit 200+status if a is refused, else
  ;; 100+status of b
  (func (export "link_both") (param $a i64) (param $b i64)
    (local $st i32)
    (local.set $st (call $link (local.get $a)))
    (if (local.get $st) (then (call $exit (i32.add (i32.const 200) (local.get $st)))))
    (call $exit (i32.add (i32.const 100) (call $link (local.get $b)))))

  ;; big_timers: set n timers of size bytes each to pid, delay ms; report
  ;; the timers set and the first refusal, then return
  (func (export "big_timers") (param $pid i64) (param $n i64) (param $size i32) (param $delay i64) (param $obs i64)
    (local $ok i64) (local $st i64) (local $t i64)
    (block $done (loop $l
      (br_if $done (i64.eqz (local.get $n)))
      (call $create (i64.const 1))
      (drop (call $write (i32.const 0) (local.get $size)))
      (local.set $t (call $send_after (local.get $pid) (local.get $delay)))
      (if (i64.gt_s (local.get $t) (i64.const 0))
        (then (local.set $ok (i64.add (local.get $ok) (i64.const 1))))
        (else (if (i64.eqz (local.get $st)) (then (local.set $st (local.get $t))))))
      (local.set $n (i64.sub (local.get $n) (i64.const 1)))
      (br $l)))
    (call $report (local.get $obs) (local.get $ok) (local.get $st)))
)`

// guestReport is what a signalsWAT guest reported: how many calls
// succeeded, and the first refusal's negated status (0 if none).
type guestReport struct{ ok, refused int64 }

// reporter returns a Go process that passes on signalsWAT reports.
func reporter(t *testing.T, env *Environment) (*Process, chan guestReport) {
	out := make(chan guestReport, 16)
	p := goProc(t, env, "reporter", func(ctx context.Context, self *Self) error {
		for {
			m, err := self.Receive(ctx, 7)
			if err != nil {
				return nil
			}
			out <- guestReport{int64(binary.LittleEndian.Uint64(m.Data)), int64(binary.LittleEndian.Uint64(m.Data[8:]))}
		}
	})
	return p, out
}

func report(t *testing.T, c chan guestReport) guestReport {
	t.Helper()
	select {
	case r := <-c:
		return r
	case <-time.After(30 * time.Second): // a hang guard
		t.Fatal("no report from the guest")
		return guestReport{}
	}
}

// A guest monitoring a dead pid in a loop, never reading its mailbox,
// queues no more DOWNs than its mailbox's limits: the DOWN of a monitor of
// a process that is gone is an ordinary message, and the monitor is
// refused with ErrLimit once it does not fit. A monitor of a live process
// is bounded by MaxMonitors.
func TestMonitorsAreBounded(t *testing.T) {
	r := newRuntime(t)
	env := childEnv(t, r.Environment(), environment.Config{MaxMailboxMessages: 50, MaxMonitors: 20})
	m := load(t, r, "signals", []byte(signalsWAT))
	rep, reports := reporter(t, r.Environment())
	dead := goProc(t, env, "dead", func(context.Context, *Self) error { return nil })
	wait(t, dead)

	p := spawn(t, env, m, "monitor_loop", I64(int64(dead.ID())), I64(1000), I64(int64(rep.ID())))
	got := report(t, reports)
	if got.ok != 50 || got.refused != -abi.ErrLimit {
		t.Errorf("1000 monitors of a dead pid: %d set, first refusal %d; want 50 (MaxMailboxMessages), then %d", got.ok, got.refused, -abi.ErrLimit)
	}
	if n := p.mb.Len(); n != 50 {
		t.Errorf("the guest's mailbox holds %d DOWNs, want at most its limit 50", n)
	}
	p.Kill()

	live := goProc(t, env, "live", blockGo)
	p = spawn(t, env, m, "monitor_loop", I64(int64(live.ID())), I64(1000), I64(int64(rep.ID())))
	got = report(t, reports)
	if got.ok != 20 || got.refused != -abi.ErrLimit {
		t.Errorf("1000 monitors of a live pid: %d set, first refusal %d; want 20 (MaxMonitors), then %d", got.ok, got.refused, -abi.ErrLimit)
	}
	if n := numWatchers(live); n != 20 {
		t.Errorf("the target holds %d monitors, want 20", n)
	}
	p.Kill()
	wait(t, p)
	if n := numWatchers(live); n != 0 {
		t.Errorf("the watcher ended, and its target still holds %d of its monitors", n)
	}

	// Go callers get the sentinels.
	wait(t, goProc(t, env, "go", func(ctx context.Context, self *Self) error {
		for range 20 {
			if _, err := self.Monitor(live.ID()); err != nil {
				t.Errorf("a monitor within MaxMonitors: %v", err)
			}
		}
		if _, err := self.Monitor(live.ID()); !errors.Is(err, ErrTooManyMonitors) {
			t.Errorf("Self.Monitor past MaxMonitors: %v, want ErrTooManyMonitors", err)
		}
		for range 50 {
			self.p.mb.PushSignal(Message{}) // fill the mailbox
		}
		if _, err := self.Monitor(dead.ID()); !errors.Is(err, mailbox.ErrFull) {
			t.Errorf("Self.Monitor of a dead pid with the mailbox full: %v, want mailbox.ErrFull", err)
		}
		return nil
	}))
}

// Links are bounded by MaxLinks, for Go callers and guests, and neither a
// link nor a monitor is made while a mailbox is full: that is what bounds
// the EXITs and DOWNs that can pile up past its limits.
func TestLinksAreBounded(t *testing.T) {
	r := newRuntime(t)
	env := childEnv(t, r.Environment(), environment.Config{MaxLinks: 3, MaxMailboxMessages: 2})
	m := load(t, r, "signals", []byte(signalsWAT))
	var peers []*Process
	for range 5 {
		peers = append(peers, goProc(t, env, "peer", blockGo))
	}
	wait(t, goProc(t, env, "linker", func(ctx context.Context, self *Self) error {
		for _, p := range peers[:3] {
			if err := self.Link(p.ID()); err != nil {
				t.Errorf("a link within MaxLinks: %v", err)
			}
		}
		if err := self.Link(peers[0].ID()); err != nil {
			t.Errorf("a second link to the same process: %v", err)
		}
		if err := self.Link(peers[3].ID()); !errors.Is(err, ErrTooManyLinks) {
			t.Errorf("Self.Link past MaxLinks: %v, want ErrTooManyLinks", err)
		}
		return nil
	}))

	// A guest: a first link, then one past MaxLinks 1 of its environment.
	one := childEnv(t, env, environment.Config{MaxLinks: 1})
	a, b := goProc(t, one, "a", blockGo), goProc(t, one, "b", blockGo)
	var ee *ExitError
	if reason := wait(t, spawn(t, one, m, "link_both", I64(int64(a.ID())), I64(int64(b.ID())))); !errors.As(reason, &ee) || ee.Code != 100+abi.ErrLimit {
		t.Errorf("a guest's link past MaxLinks: %v, want exit %d", reason, 100+abi.ErrLimit)
	}
	if n := numLinks(b); n != 0 {
		t.Errorf("the refused peer has %d links", n)
	}

	// A full mailbox refuses new links and monitors, from either side.
	full := goProc(t, env, "full", blockGo)
	ctx := testCtx(t)
	for range 2 {
		if err := full.Send(ctx, Message{}); err != nil {
			t.Fatal(err)
		}
	}
	other := peers[4]
	if err := r.link(other, full); !errors.Is(err, mailbox.ErrFull) {
		t.Errorf("a link to a process whose mailbox is full: %v, want mailbox.ErrFull", err)
	}
	if _, err := r.monitor(full, other.ID()); !errors.Is(err, mailbox.ErrFull) {
		t.Errorf("a monitor by a process whose mailbox is full: %v, want mailbox.ErrFull", err)
	}
	if numLinks(other) != 0 || numWatchers(other) != 0 {
		t.Error("a refused link or monitor was made")
	}
}

// A guest may link only to processes of its environment and those below
// it, the rule kill follows: a link is a way to kill. A guest in a sibling
// environment that links and traps leaves the sibling's process alone.
func TestLinkFollowsTheKillRule(t *testing.T) {
	r := newRuntime(t)
	m := load(t, r, "signals", []byte(signalsWAT))
	left := childEnv(t, r.Environment(), environment.Config{})
	right := childEnv(t, r.Environment(), environment.Config{})
	victim := goProc(t, right, "victim", blockGo)

	var ee *ExitError
	if reason := wait(t, spawn(t, left, m, "link_then_trap", I64(int64(victim.ID())))); !errors.As(reason, &ee) || ee.Code != 100+abi.ErrPermission {
		t.Errorf("a guest linking to a sibling environment's process: %v, want exit %d (ErrPermission)", reason, 100+abi.ErrPermission)
	}
	// The guest's end told its links before Wait returned: had it linked,
	// the victim would be ending now.
	if term := victim.term.Load(); term != nil {
		t.Fatalf("the sibling's process is being ended: %v", term.reason)
	}

	// Below its own environment it may: a trap there takes the peer
	// along, as a kill could.
	below := childEnv(t, left, environment.Config{})
	peer := goProc(t, below, "peer", blockGo)
	var te *TrapError
	if reason := wait(t, spawn(t, left, m, "link_then_trap", I64(int64(peer.ID())))); !errors.As(reason, &te) {
		t.Fatalf("a guest linking below its environment: %v, want its trap", reason)
	}
	if reason := wait(t, peer); !errors.As(reason, &te) {
		t.Errorf("the linked process below: %v, want the guest's trap", reason)
	}
}

// A process ending with many monitors on it holds no lock that an
// unrelated environment needs while it tells them: a requester elsewhere
// (Self.Request watches its target, so it takes signal locks) completes
// its round trips while the fan-out is under way. The fan-out is held
// mid-way by holding one watcher's lock, so "under way" is an ordering,
// not a timing: the target has been marked dead and its Done is not yet
// closed.
func TestFanOutEndDoesNotStallOthers(t *testing.T) {
	const monitors = 100_000
	r := newRuntime(t, WithRootEnvironment(environment.Config{MaxMonitors: monitors}))
	busy := childEnv(t, r.Environment(), environment.Config{})
	other := childEnv(t, r.Environment(), environment.Config{})

	target := goProc(t, busy, "target", blockGo)
	many := goProc(t, busy, "many", blockGo)
	slow := goProc(t, busy, "slow", blockGo)
	for range monitors {
		if _, err := r.monitor(many, target.ID()); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := r.monitor(slow, target.ID()); err != nil {
		t.Fatal(err)
	}

	echo := goProc(t, other, "echo", goEcho)

	slow.sig.mu.Lock()
	locked := true
	defer func() {
		if locked {
			slow.sig.mu.Unlock()
		}
	}()
	target.Kill()
	waitFor(t, 30*time.Second, "the target to be marked dead", func() bool {
		target.sig.mu.Lock()
		defer target.sig.mu.Unlock()
		return target.sig.dead
	})

	const trips = 20
	done := make(chan error, 1)
	goProc(t, other, "requester", func(ctx context.Context, self *Self) error {
		for range trips {
			if _, err := self.Request(ctx, echo.ID(), Message{Data: []byte("ping")}); err != nil {
				done <- err
				return err
			}
		}
		done <- nil
		return nil
	})
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(30 * time.Second): // a hang guard
		t.Fatal("an unrelated environment's requests stalled behind the fan-out")
	}
	select {
	case <-target.Done():
		t.Fatal("the fan-out ended before the round trips: the test proves nothing")
	default:
	}

	slow.sig.mu.Unlock()
	locked = false
	wait(t, target)
	if n := many.mb.Len(); n != monitors {
		t.Errorf("%d DOWNs for %d monitors", n, monitors)
	}
	if n := slow.mb.Len(); n != 1 {
		t.Errorf("%d DOWNs for the held-up watcher's monitor", n)
	}
}

// The text a DOWN or EXIT carries is cut at abi.MaxReasonText bytes, so
// each signal that may take a mailbox past its limits stays small; Go
// receivers still get the whole reason.
func TestSignalReasonTextIsBounded(t *testing.T) {
	long := errors.New(string(make([]byte, 10_000)) + "é")
	var ge *GoError
	for _, msg := range []Message{
		downMessage(1, abi.TagDown, 2, &GoError{Process: 2, Name: "long", Err: long}),
		exitMessage(2, &GoError{Process: 2, Name: "long", Err: long}),
	} {
		if len(msg.Data) > 20+abi.MaxReasonText {
			t.Errorf("tag %d: %d bytes of data, want at most %d", msg.Tag, len(msg.Data), 20+abi.MaxReasonText)
		}
		if reason, _ := firstReason(msg); !errors.As(reason, &ge) || ge.Err != long {
			t.Errorf("tag %d: reason %v, want the whole GoError", msg.Tag, reason)
		}
	}
}
