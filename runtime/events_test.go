package runtime

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"

	"github.com/wardrt/ward/environment"
	"github.com/wardrt/ward/mailbox"
)

// endsGuest ends in each way a Wasm process can, one entry per way.
const endsGuest = `(module
  (import "ward_process" "exit" (func $exit (param i32)))
  (memory (export "memory") 1)
  (func (export "ok"))
  (func (export "trap") unreachable)
  (func (export "exit") (call $exit (i32.const 3)))
  (func (export "spin") (loop $l (br $l)))
  (func (export "grow")
    (loop $l (br_if $l (i32.ne (memory.grow (i32.const 1)) (i32.const -1))))
    unreachable))`

// eventLog records the events a runtime reports.
type eventLog struct {
	mu     sync.Mutex
	events []Event
}

func (l *eventLog) add(e Event) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.events = append(l.events, e)
}

// of returns the events of process id, in the order they were reported.
func (l *eventLog) of(id ProcessID) []Event {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []Event
	for _, e := range l.events {
		if e.Process == id {
			out = append(out, e)
		}
	}
	return out
}

// TestStatsAndEventsByEnd ends one process in each way ward tells apart
// and checks that Stats counts each under its EndKind and that each
// process reported a start and then an end with its reason.
func TestStatsAndEventsByEnd(t *testing.T) {
	var log eventLog
	r := newRuntime(t, WithEvents(log.add))
	ctx := testCtx(t)
	env, err := r.NewEnvironment(environment.Config{MaxFuel: 1_000_000, MaxMemory: 1 << 20})
	if err != nil {
		t.Fatal(err)
	}
	m := load(t, r, "ends", []byte(endsGuest))
	goProc := func(fn GoFunc) *Process {
		p, err := env.SpawnGo(ctx, "g", fn)
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	killed := spawn(t, r.Environment(), m, "spin") // the root has no fuel limit
	killed.Kill()
	failing := goProc(func(context.Context, *Self) error { return errors.New("boom") })
	cases := []struct {
		p    *Process
		want EndKind
	}{
		{spawn(t, env, m, "ok"), EndNormal},
		{killed, EndKilled},
		{spawn(t, env, m, "trap"), EndTrap},
		{spawn(t, env, m, "spin"), EndOutOfFuel},
		{spawn(t, env, m, "grow"), EndMemoryLimit},
		{spawn(t, env, m, "exit"), EndExit},
		// Its initial memory, 2 MiB, is over env's MaxMemory.
		{spawn(t, env, load(t, r, "big", []byte(`(module (memory 32) (func (export "ok")))`)), "ok"), EndInstantiate},
		{failing, EndGoError},
	}
	want := [NumEndKinds]uint64{}
	for _, c := range cases {
		reason := wait(t, c.p)
		want[c.want]++
		evs := log.of(c.p.ID())
		if len(evs) != 2 || evs[0].Kind != EventStart || evs[1].Kind != EventEnd {
			t.Errorf("%v (%v): events %+v, want a start then an end", c.p, reason, evs)
			continue
		}
		if e := evs[1]; e.End != c.want || e.Reason != reason || e.Environment != c.p.Environment() || e.Entry != c.p.Entry() || e.Time.Before(evs[0].Time) {
			t.Errorf("%v: end event %+v, want kind %v and reason %v", c.p, e, c.want, reason)
		}
		if c.p.Module() != nil && evs[0].Module != c.p.Module().Name() {
			t.Errorf("%v: start event names module %q, want %q", c.p, evs[0].Module, c.p.Module().Name())
		}
	}
	s := r.Stats()
	if s.Ended != want {
		t.Errorf("Stats.Ended = %v, want %v", s.Ended, want)
	}
	if n := uint64(len(cases)); s.Spawned != n {
		t.Errorf("Stats.Spawned = %d, want %d", s.Spawned, n)
	}
}

// TestStatsLinkedEnd checks that a process ended by a linked process's
// exit signal counts as EndLinked, not as its reason's kind.
func TestStatsLinkedEnd(t *testing.T) {
	var log eventLog
	r := newRuntime(t, WithEvents(log.add))
	ctx := testCtx(t)
	m := load(t, r, "ends", []byte(endsGuest))
	target := spawn(t, r.Environment(), m, "spin")
	linked := make(chan error, 1)
	p, err := r.Environment().SpawnGo(ctx, "linked", func(ctx context.Context, self *Self) error {
		linked <- self.Link(target.ID())
		<-ctx.Done()
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := <-linked; err != nil {
		t.Fatal(err)
	}
	target.Kill()
	if reason := wait(t, p); reason != Killed {
		t.Fatalf("linked process ended with %v, want Killed, its link's reason", reason)
	}
	if got := r.Stats().Ended; got[EndLinked] != 1 || got[EndKilled] != 1 {
		t.Errorf("Stats.Ended = %v, want one linked and one killed", got)
	}
	if evs := log.of(p.ID()); len(evs) != 2 || evs[1].End != EndLinked || evs[1].Reason != Killed {
		t.Errorf("linked process's events %+v, want its end as EndLinked with reason Killed", evs)
	}
}

// TestStatsMessages checks that messages queued and refused are counted,
// both while the receiver lives and after it has ended.
func TestStatsMessages(t *testing.T) {
	r := newRuntime(t)
	ctx := testCtx(t)
	env, err := r.NewEnvironment(environment.Config{MaxMailboxMessages: 3})
	if err != nil {
		t.Fatal(err)
	}
	p, err := env.SpawnGo(ctx, "sink", blockGo)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 5 {
		err := r.Send(ctx, p.ID(), Message{Tag: 1})
		if full := errors.Is(err, mailbox.ErrFull); full != (i >= 3) {
			t.Fatalf("send %d: %v", i, err)
		}
	}
	if s := r.Stats(); s.MessagesSent != 3 || s.MailboxFull != 2 {
		t.Errorf("while alive: %d sent, %d full; want 3, 2", s.MessagesSent, s.MailboxFull)
	}
	p.Kill()
	wait(t, p)
	if s := r.Stats(); s.MessagesSent != 3 || s.MailboxFull != 2 {
		t.Errorf("after its end: %d sent, %d full; want 3, 2", s.MessagesSent, s.MailboxFull)
	}
}

// TestEventsHookPanic checks that a panicking hook is logged and changes
// nothing about the process.
func TestEventsHookPanic(t *testing.T) {
	var buf syncBuffer
	r := newRuntime(t, WithLogger(slog.New(slog.NewTextHandler(&buf, nil))), WithEvents(func(e Event) {
		panic("hook " + e.Kind.String())
	}))
	m := load(t, r, "ends", []byte(endsGuest))
	if reason := wait(t, spawn(t, r.Environment(), m, "ok")); reason != Normal {
		t.Fatalf("reason %v, want Normal", reason)
	}
	if n := r.Stats().Ended[EndNormal]; n != 1 {
		t.Errorf("%d normal ends counted, want 1", n)
	}
	for _, want := range []string{"hook start", "hook end"} {
		if !strings.Contains(buf.String(), want) {
			t.Errorf("log has no %q:\n%s", want, buf.String())
		}
	}
}

// TestStatsMessagesConcurrent sends from several goroutines to processes
// that receive and end while Stats is read, and checks that no message
// is lost from the count or counted twice once all have ended.
func TestStatsMessagesConcurrent(t *testing.T) {
	r := newRuntime(t)
	ctx := testCtx(t)
	const senders, perSender = 4, 200
	sink := func() *Process {
		p, err := r.Environment().SpawnGo(ctx, "sink", func(ctx context.Context, self *Self) error {
			for range senders * perSender / 2 {
				if _, err := self.Receive(ctx); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	sinks := []*Process{sink(), sink()}
	var wg sync.WaitGroup
	for i := range senders {
		wg.Add(1)
		go func() {
			defer wg.Done()
			to := sinks[i%2].ID()
			for range perSender {
				for {
					err := r.Send(ctx, to, Message{Tag: 1})
					if err == nil {
						break
					}
					if !errors.Is(err, mailbox.ErrFull) {
						t.Error(err)
						return
					}
				}
			}
		}()
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	for running := true; running; {
		select {
		case <-done:
			running = false
		default:
		}
		// A process ending now may be missing for a moment, but the
		// count never exceeds what was sent.
		if s := r.Stats(); s.MessagesSent > senders*perSender {
			t.Fatalf("%d messages counted, more than the %d sent", s.MessagesSent, senders*perSender)
		}
	}
	for _, p := range sinks {
		if reason := wait(t, p); reason != Normal {
			t.Fatalf("sink: %v", reason)
		}
	}
	if s := r.Stats(); s.MessagesSent != senders*perSender {
		t.Errorf("%d messages counted, want %d", s.MessagesSent, senders*perSender)
	}
}
