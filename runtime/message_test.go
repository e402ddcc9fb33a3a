package runtime

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	goruntime "runtime"
	"testing"
	"time"

	"github.com/wardrt/ward/environment"
	"github.com/wardrt/ward/internal/abi"
	"github.com/wardrt/ward/mailbox"
)

func loadMessages(t *testing.T, r *Runtime) *Module {
	return load(t, r, "messages", []byte(messagesWAT))
}

// goProc spawns a Go-native process and returns it with a channel that
// receives what fn returns.
func goProc(t *testing.T, env *Environment, name string, fn GoFunc) *Process {
	t.Helper()
	p, err := env.SpawnGo(testCtx(t), name, fn)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// goEcho is a Go-native process that answers every request with its data.
func goEcho(ctx context.Context, self *Self) error {
	for {
		m, err := self.Receive(ctx)
		if err != nil {
			return nil
		}
		if err := self.Reply(m, Message{Data: m.Data}); err != nil {
			return err
		}
	}
}

func u64(v uint64) []byte { return binary.LittleEndian.AppendUint64(nil, v) }

func TestGoAndWasmProcessesTalkBothWays(t *testing.T) {
	r := newRuntime(t)
	env := r.Environment()
	m := loadMessages(t, r)
	echo := spawn(t, env, m, "echo")

	t.Run("Go requests, Wasm replies", func(t *testing.T) {
		reply, err := r.Request(testCtx(t), echo.ID(), Message{Data: []byte("hello")})
		if err != nil || string(reply.Data) != "hello" || reply.Sender != uint64(echo.ID()) {
			t.Fatalf("reply %+v, %v", reply, err)
		}
	})
	t.Run("Wasm pings a Go echo", func(t *testing.T) {
		goSide := goProc(t, env, "echo", goEcho)
		if reason := wait(t, spawn(t, env, m, "ping", I64(int64(goSide.ID())), I64(200))); reason != Normal {
			t.Fatalf("ping: %v", reason)
		}
		goSide.Kill()
		if reason := wait(t, goSide); reason != Killed {
			t.Fatalf("go echo: %v", reason)
		}
	})
	t.Run("Wasm pings Wasm", func(t *testing.T) {
		if reason := wait(t, spawn(t, env, m, "ping", I64(int64(echo.ID())), I64(200))); reason != Normal {
			t.Fatalf("ping: %v", reason)
		}
	})
	t.Run("typed messages", func(t *testing.T) {
		type point struct{ X, Y int }
		req, err := EncodeMessage(0, point{3, 4})
		if err != nil {
			t.Fatal(err)
		}
		reply, err := r.Request(testCtx(t), echo.ID(), req)
		if err != nil {
			t.Fatal(err)
		}
		var got point
		if err := DecodeMessage(reply, &got); err != nil || got != (point{3, 4}) {
			t.Fatalf("got %+v, %v", got, err)
		}
	})
}

func TestOrderIsKeptPerSender(t *testing.T) {
	r := newRuntime(t)
	env := r.Environment()
	m := loadMessages(t, r)
	const n = 2000
	got := make(chan error, 1)
	collector := goProc(t, env, "collector", func(ctx context.Context, self *Self) error {
		for i := range uint64(n) {
			msg, err := self.Receive(ctx)
			if err != nil {
				got <- err
				return err
			}
			if seq := binary.LittleEndian.Uint64(msg.Data); seq != i || msg.Tag != 2 {
				got <- fmt.Errorf("message %d carried %d (tag %d)", i, seq, msg.Tag)
				return nil
			}
		}
		got <- nil
		return nil
	})
	blaster := spawn(t, env, m, "blast", I64(int64(collector.ID())), I64(n))
	if reason := wait(t, blaster); reason != Normal {
		t.Fatalf("blast: %v", reason)
	}
	if err := <-got; err != nil {
		t.Fatal(err)
	}
	// And Go to Wasm: n messages into a sink, whose last one comes back.
	sink := spawn(t, env, m, "sink", I64(0), I64(n))
	_ = sink
	reporter := goProc(t, env, "reporter", func(ctx context.Context, self *Self) error {
		s := spawn(t, env, m, "sink", I64(int64(self.ID())), I64(n))
		for i := range uint64(n) {
			if err := self.Send(s.ID(), Message{Tag: 9, Data: u64(i)}); err != nil {
				return err
			}
		}
		last, err := self.Receive(ctx, 7)
		if err != nil {
			return err
		}
		if tag, seq := int64(binary.LittleEndian.Uint64(last.Data)), binary.LittleEndian.Uint64(last.Data[8:]); tag != 9 || seq != n-1 {
			return fmt.Errorf("the sink's last message was tag %d seq %d", tag, seq)
		}
		return nil
	})
	if reason := wait(t, reporter); reason != Normal {
		t.Fatalf("reporter: %v", reason)
	}
	sink.Kill()
}

func TestSelectiveReceiveAmongManyMessages(t *testing.T) {
	r := newRuntime(t)
	env := r.Environment()
	m := loadMessages(t, r)
	reason := wait(t, goProc(t, env, "tester", func(ctx context.Context, self *Self) error {
		recv := spawn(t, env, m, "recv_one", I64(42), I64(-1))
		for i := range 5000 {
			if err := self.Send(recv.ID(), Message{Tag: 1, Data: u64(uint64(i))}); err != nil {
				return err
			}
		}
		if err := self.Send(recv.ID(), Message{Tag: 42, Data: []byte("the one")}); err != nil {
			return err
		}
		reply, err := self.Receive(ctx, 42)
		if err != nil || string(reply.Data) != "the one" {
			return fmt.Errorf("reply %q, %v", reply.Data, err)
		}
		if reason := wait(t, recv); reason != Normal {
			return fmt.Errorf("recv_one: %v", reason)
		}
		return nil
	}))
	if reason != Normal {
		t.Fatal(reason)
	}
}

func TestReceiveTimeout(t *testing.T) {
	r := newRuntime(t)
	m := loadMessages(t, r)
	var ee *ExitError
	reason := wait(t, spawn(t, r.Environment(), m, "recv_one", I64(42), I64(20)))
	if !errors.As(reason, &ee) || ee.Code != 100+abi.ErrTimeout {
		t.Fatalf("reason %v, want exit %d", reason, 100+abi.ErrTimeout)
	}
	// Timeout 0 only checks.
	reason = wait(t, spawn(t, r.Environment(), m, "recv_one", I64(42), I64(0)))
	if !errors.As(reason, &ee) || ee.Code != 100+abi.ErrTimeout {
		t.Fatalf("reason %v", reason)
	}
}

func TestLinkChainDiesTogether(t *testing.T) {
	h := &recordingHandler{}
	r := newRuntime(t, WithLogger(newSlog(h)))
	env := r.Environment()
	m := loadMessages(t, r)
	boom := errors.New("boom")
	root := goProc(t, env, "root", func(ctx context.Context, self *Self) error {
		if _, err := self.Receive(ctx, 1); err != nil {
			return nil
		}
		return boom
	})
	chain := []*Process{root}
	for range 4 {
		chain = append(chain, spawn(t, env, m, "linked", I64(int64(chain[len(chain)-1].ID()))))
	}
	// A bystander linked to nobody survives.
	bystander := spawn(t, env, m, "idle")
	waitFor(t, 5*time.Second, "every link of the chain", func() bool {
		for i, p := range chain {
			want := 2
			if i == 0 || i == len(chain)-1 {
				want = 1
			}
			if numLinks(p) != want {
				return false
			}
		}
		return true
	})
	if err := root.Send(testCtx(t), Message{Tag: 1}); err != nil {
		t.Fatal(err)
	}
	for i, p := range chain {
		reason := wait(t, p)
		var ge *GoError
		if !errors.As(reason, &ge) || !errors.Is(reason, boom) || ge.Process != root.ID() {
			t.Fatalf("chain[%d] ended with %v, want root's reason", i, reason)
		}
	}
	if bystander.Reason() != nil {
		t.Fatalf("bystander ended: %v", bystander.Reason())
	}
	h.mu.Lock()
	n := len(h.records)
	h.mu.Unlock()
	if n != 1 {
		t.Fatalf("%d failures logged, want 1: the linked ones died of the root's reason", n)
	}
}

func TestNormalExitDoesNotKillLinks(t *testing.T) {
	r := newRuntime(t)
	env := r.Environment()
	m := loadMessages(t, r)
	root := goProc(t, env, "root", func(ctx context.Context, self *Self) error {
		_, err := self.Receive(ctx, 1)
		_ = err
		return nil
	})
	linked := spawn(t, env, m, "linked", I64(int64(root.ID())))
	waitFor(t, 5*time.Second, "the link", func() bool {
		return numLinks(root) == 1
	})
	root.Send(testCtx(t), Message{Tag: 1})
	if reason := wait(t, root); reason != Normal {
		t.Fatal(reason)
	}
	time.Sleep(10 * time.Millisecond)
	if linked.Reason() != nil {
		t.Fatalf("a normal exit killed the linked process: %v", linked.Reason())
	}
	linked.Kill()
}

// observe starts a Go process that collects n messages tagged 7 (the
// guests' reports) and returns them on a channel.
func observe(t *testing.T, env *Environment, n int) (*Process, chan []Message) {
	out := make(chan []Message, 1)
	p := goProc(t, env, "observer", func(ctx context.Context, self *Self) error {
		var got []Message
		for range n {
			m, err := self.Receive(ctx, 7)
			if err != nil {
				return err
			}
			got = append(got, m)
		}
		out <- got
		return nil
	})
	return p, out
}

// reported splits a guest report into the original tag and data.
func reported(m Message) (int64, []byte) {
	return int64(binary.LittleEndian.Uint64(m.Data)), m.Data[8:]
}

func TestTrapExit(t *testing.T) {
	r := newRuntime(t)
	env := r.Environment()
	m := loadMessages(t, r)
	peer := goProc(t, env, "peer", func(ctx context.Context, self *Self) error {
		self.Receive(ctx, 1)
		return errors.New("peer failed")
	})
	obs, got := observe(t, env, 1)
	trapper := spawn(t, env, m, "trapper", I64(int64(peer.ID())), I64(int64(obs.ID())))
	waitFor(t, 5*time.Second, "the link", func() bool {
		return numLinks(peer) == 1
	})
	peer.Send(testCtx(t), Message{Tag: 1})
	msgs := <-got
	tag, data := reported(msgs[0])
	if tag != TagExit || ProcessID(binary.LittleEndian.Uint64(data)) != peer.ID() || binary.LittleEndian.Uint32(data[8:]) != abi.ReasonGoError {
		t.Fatalf("trapper got tag %d data %x", tag, data)
	}
	if reason := wait(t, trapper); reason != Normal {
		t.Fatalf("the trapping process must survive its peer: %v", reason)
	}
}

func TestKillCannotBeTrapped(t *testing.T) {
	r := newRuntime(t)
	env := r.Environment()
	m := loadMessages(t, r)
	idle := spawn(t, env, m, "idle")
	trapper := spawn(t, env, m, "trapper", I64(int64(idle.ID())), I64(0))
	waitFor(t, 5*time.Second, "trap_exit", func() bool { return trapper.trapExit.Load() })
	trapper.Kill()
	if reason := wait(t, trapper); reason != Killed {
		t.Fatalf("trapper: %v", reason)
	}
	// Its peer, linked and not trapping, goes down with it.
	if reason := wait(t, idle); reason != Killed {
		t.Fatalf("linked peer: %v", reason)
	}
}

func TestMonitorsStack(t *testing.T) {
	r := newRuntime(t)
	env := r.Environment()
	m := loadMessages(t, r)
	target := spawn(t, env, m, "idle")
	obs, got := observe(t, env, 2)
	mon := spawn(t, env, m, "monitorer", I64(int64(target.ID())), I64(int64(obs.ID())))
	waitFor(t, 5*time.Second, "the monitors", func() bool {
		return numWatchers(target) == 2
	})
	target.Kill()
	msgs := <-got
	refs := map[uint64]bool{}
	for _, msg := range msgs {
		tag, data := reported(msg)
		if tag != TagDown || ProcessID(binary.LittleEndian.Uint64(data[8:])) != target.ID() || binary.LittleEndian.Uint32(data[16:]) != abi.ReasonKilled {
			t.Fatalf("DOWN tag %d data %x", tag, data)
		}
		refs[binary.LittleEndian.Uint64(data)] = true
	}
	if len(refs) != 2 {
		t.Fatalf("two monitors gave %d distinct refs", len(refs))
	}
	if reason := wait(t, mon); reason != Normal {
		t.Fatal(reason)
	}

	t.Run("dead target: noproc at once", func(t *testing.T) {
		obs, got := observe(t, env, 2)
		spawn(t, env, m, "monitorer", I64(int64(target.ID())), I64(int64(obs.ID())))
		for _, msg := range <-got {
			tag, data := reported(msg)
			if tag != TagDown || binary.LittleEndian.Uint32(data[16:]) != abi.ReasonNoProc {
				t.Fatalf("DOWN tag %d data %x", tag, data)
			}
		}
	})
	t.Run("Go monitor and demonitor", func(t *testing.T) {
		target := spawn(t, env, m, "idle")
		reason := wait(t, goProc(t, env, "watcher", func(ctx context.Context, self *Self) error {
			ref1, err := self.Monitor(target.ID())
			if err != nil {
				return err
			}
			ref2, err := self.Monitor(target.ID())
			if err != nil {
				return err
			}
			self.Demonitor(ref1)
			target.Kill()
			msg, err := self.Receive(ctx, TagDown)
			if err != nil {
				return err
			}
			d, ok := ParseDown(msg)
			if !ok || d.Ref != ref2 || d.Process != target.ID() || d.Reason != Killed {
				return fmt.Errorf("down %+v", d)
			}
			if _, ok := self.TryReceive(TagDown); ok {
				return errors.New("a demonitored monitor fired")
			}
			return nil
		}))
		if reason != Normal {
			t.Fatal(reason)
		}
	})
}

func TestSpawnLinkIsAtomic(t *testing.T) {
	r := newRuntime(t)
	m := loadMessages(t, r)
	// The child traps at once; the parent, linked before the child ran,
	// must die with the child's reason every time.
	for range 20 {
		reason := wait(t, spawn(t, r.Environment(), m, "spawn_link_crash"))
		var te *TrapError
		if !errors.As(reason, &te) || te.Entry != "crash" || te.Code != TrapUnreachableCodeReached {
			t.Fatalf("parent: %v", reason)
		}
	}
}

func TestMessagesToDeadProcesses(t *testing.T) {
	r := newRuntime(t)
	env := r.Environment()
	m := loadMessages(t, r)
	dead := spawn(t, env, m, "crash")
	wait(t, dead)
	if err := dead.Send(testCtx(t), Message{Data: []byte("x")}); !errors.Is(err, ErrNoProcess) {
		t.Fatalf("Send to an ended process: %v", err)
	}
	if err := r.Send(testCtx(t), 1<<40, Message{}); !errors.Is(err, ErrNoProcess) {
		t.Fatalf("Send to an unknown id: %v", err)
	}
	var ee *ExitError
	if reason := wait(t, spawn(t, env, m, "flood", I64(int64(dead.ID())))); !errors.As(reason, &ee) || ee.Code != abi.ErrNotFound {
		t.Fatalf("guest send to an ended process: %v", reason)
	}
}

func TestMailboxFlood(t *testing.T) {
	r := newRuntime(t)
	env := r.Environment()
	m := loadMessages(t, r)
	victim := spawn(t, env, m, "idle")
	var ee *ExitError
	if reason := wait(t, spawn(t, env, m, "flood", I64(int64(victim.ID())))); !errors.As(reason, &ee) || ee.Code != abi.ErrLimit {
		t.Fatalf("flooder: %v, want exit %d once the mailbox is full", reason, abi.ErrLimit)
	}
	if n := victim.mb.Len(); n != mailbox.DefaultMaxMessages {
		t.Fatalf("victim holds %d messages, want the limit %d", n, mailbox.DefaultMaxMessages)
	}
	if err := victim.Send(testCtx(t), Message{}); !errors.Is(err, mailbox.ErrFull) {
		t.Fatalf("Go Send to the full mailbox: %v", err)
	}
	// The victim is unharmed, and signals still reach it.
	if victim.Reason() != nil {
		t.Fatal(victim.Reason())
	}
	victim.Kill()
	if reason := wait(t, victim); reason != Killed {
		t.Fatal(reason)
	}
}

func TestTimers(t *testing.T) {
	r := newRuntime(t)
	env := r.Environment()
	m := loadMessages(t, r)
	if reason := wait(t, spawn(t, env, m, "after_self", I64(5))); reason != Normal {
		t.Fatalf("after_self: %v", reason)
	}
	var ee *ExitError
	if reason := wait(t, spawn(t, env, m, "cancel_after")); !errors.As(reason, &ee) || ee.Code != abi.ErrTimeout {
		t.Fatalf("cancel_after: %v, want a receive timeout after the cancelled timer", reason)
	}
	// From Go.
	echo := spawn(t, env, m, "recv_one", I64(3), I64(-1))
	id, err := r.SendAfter(time.Hour, echo.ID(), Message{Tag: 3})
	if err != nil || !r.CancelTimer(id) || r.CancelTimer(id) {
		t.Fatalf("cancel: %v", err)
	}
	if _, err := r.SendAfter(time.Millisecond, echo.ID(), Message{Tag: 3}); err != nil {
		t.Fatal(err)
	}
	if reason := wait(t, echo); reason != Normal {
		t.Fatalf("timer message not received: %v", reason)
	}
}

func TestMessageMisuseTrapsOnlyTheGuest(t *testing.T) {
	r := newRuntime(t)
	env := r.Environment()
	m := loadMessages(t, r)
	for _, entry := range []string{"bad_read", "bad_write", "bad_tags"} {
		var te *TrapError
		if reason := wait(t, spawn(t, env, m, entry)); !errors.As(reason, &te) || te.Code != TrapNone {
			t.Fatalf("%s: %v", entry, reason)
		}
	}
	idle := spawn(t, env, m, "idle")
	var ee *ExitError
	if reason := wait(t, spawn(t, env, m, "negative_tag", I64(int64(idle.ID())))); !errors.As(reason, &ee) || ee.Code != abi.ErrInvalid {
		t.Fatalf("negative tag: %v", reason)
	}
	if err := idle.Send(testCtx(t), Message{Tag: -1}); !errors.Is(err, ErrReservedTag) {
		t.Fatalf("Go send with a negative tag: %v", err)
	}
	if _, err := r.SendAfter(time.Hour, idle.ID(), Message{Tag: -1}); !errors.Is(err, ErrReservedTag) {
		t.Errorf("Runtime.SendAfter with a negative tag: %v", err)
	}
	timer := goProc(t, env, "timer", func(ctx context.Context, self *Self) error {
		_, err := self.SendAfter(time.Hour, idle.ID(), Message{Tag: -1})
		return err
	})
	if reason := wait(t, timer); !errors.Is(reason, ErrReservedTag) {
		t.Errorf("Self.SendAfter with a negative tag: %v", reason)
	}
	idle.Kill()
}

func TestKillAndExistsFromGuests(t *testing.T) {
	r := newRuntime(t)
	m := loadMessages(t, r)
	child, err := r.NewEnvironment(environment.Config{})
	if err != nil {
		t.Fatal(err)
	}
	outsider := spawn(t, r.Environment(), m, "idle")
	insider := spawn(t, child, m, "idle")
	var ee *ExitError
	if reason := wait(t, spawn(t, child, m, "exists_pid", I64(int64(outsider.ID())))); !errors.As(reason, &ee) || ee.Code != 1 {
		t.Fatalf("exists(alive): %v", reason)
	}
	if reason := wait(t, spawn(t, child, m, "kill_pid", I64(int64(outsider.ID())))); !errors.As(reason, &ee) || ee.Code != abi.ErrPermission {
		t.Fatalf("kill outside its environment: %v", reason)
	}
	if reason := wait(t, spawn(t, r.Environment(), m, "kill_pid", I64(int64(insider.ID())))); reason != Normal {
		t.Fatalf("kill inside a child environment: %v", reason)
	}
	if reason := wait(t, insider); reason != Killed {
		t.Fatal(reason)
	}
	if reason := wait(t, spawn(t, child, m, "exists_pid", I64(int64(insider.ID())))); reason != Normal {
		t.Fatalf("exists(dead) should exit 0: %v", reason)
	}
	outsider.Kill()
}

// A guest cancels the timers of its own environment and of those below
// it, never those of an environment beside or above it, nor the host's:
// timer ids are sequential, so they are easy to guess.
func TestCancelTimerFromGuestsStaysInItsEnvironment(t *testing.T) {
	r := newRuntime(t)
	m := loadMessages(t, r)
	parent, err := r.NewEnvironment(environment.Config{})
	if err != nil {
		t.Fatal(err)
	}
	child, err := parent.NewChild(environment.Config{})
	if err != nil {
		t.Fatal(err)
	}
	sibling, err := r.NewEnvironment(environment.Config{})
	if err != nil {
		t.Fatal(err)
	}
	// The timers' target outlives their setters: its end would cancel
	// them.
	target := goProc(t, r.Environment(), "target", blockGo)
	timerIn := func(env *Environment) TimerID {
		var id TimerID
		p := goProc(t, env, "setter", func(ctx context.Context, self *Self) error {
			var err error
			id, err = self.SendAfter(time.Hour, target.ID(), Message{})
			return err
		})
		if reason := wait(t, p); reason != Normal {
			t.Fatal(reason)
		}
		return id
	}
	cancelFrom := func(env *Environment, id TimerID) Reason {
		return wait(t, spawn(t, env, m, "cancel_id", I64(int64(id))))
	}
	var ee *ExitError
	notFound := func(reason Reason) bool { return errors.As(reason, &ee) && ee.Code == abi.ErrNotFound }

	id := timerIn(child)
	if reason := cancelFrom(sibling, id); !notFound(reason) {
		t.Errorf("cancel from a sibling environment: %v, want exit %d (ErrNotFound)", reason, abi.ErrNotFound)
	}
	if reason := cancelFrom(parent, id); reason != Normal {
		t.Errorf("cancel from the parent environment: %v, want normal", reason)
	}
	id = timerIn(parent)
	if reason := cancelFrom(child, id); !notFound(reason) {
		t.Errorf("cancel from a child environment: %v, want ErrNotFound", reason)
	}
	if !r.CancelTimer(id) {
		t.Error("the timer a child failed to cancel is gone")
	}
	hostTimer, err := r.SendAfter(time.Hour, target.ID(), Message{})
	if err != nil {
		t.Fatal(err)
	}
	if reason := cancelFrom(r.Environment(), hostTimer); !notFound(reason) {
		t.Errorf("cancel of the host's timer from the root environment: %v, want ErrNotFound", reason)
	}
	if !r.CancelTimer(hostTimer) {
		t.Error("the host's timer is gone")
	}
}

func TestGoProcessReasons(t *testing.T) {
	r := newRuntime(t)
	env := r.Environment()
	var ge *GoError
	if reason := wait(t, goProc(t, env, "panics", func(context.Context, *Self) error { panic("oops") })); !errors.As(reason, &ge) || ge.Panic != "oops" || ge.Name != "panics" {
		t.Fatalf("panic: %v (name %q)", reason, ge.Name)
	}
	if reason := wait(t, goProc(t, env, "ok", func(context.Context, *Self) error { return nil })); reason != Normal {
		t.Fatalf("nil: %v", reason)
	}
	p := goProc(t, env, "waits", func(ctx context.Context, self *Self) error {
		_, err := self.Receive(context.Background())
		return err
	})
	p.Kill()
	if reason := wait(t, p); reason != Killed {
		t.Fatalf("killed Go process: %v", reason)
	}

	// runtime.Goexit (t.FailNow, from a GoFunc) ends the process like a
	// panic: it used to leave it in the table, unwaitable, and Close hung.
	watcher := goProc(t, env, "watcher", func(ctx context.Context, self *Self) error {
		<-ctx.Done()
		return nil
	})
	exits := goProc(t, env, "goexit", func(ctx context.Context, self *Self) error {
		self.Receive(ctx)
		goruntime.Goexit()
		return nil
	})
	if _, err := r.monitor(watcher, exits.ID()); err != nil {
		t.Fatal(err)
	}
	if err := exits.Send(testCtx(t), Message{}); err != nil {
		t.Fatal(err)
	}
	if reason := wait(t, exits); !errors.As(reason, &ge) || !errors.Is(reason, ErrGoexit) || ge.Name != "goexit" {
		t.Fatalf("Goexit: %v, want a *GoError wrapping ErrGoexit", reason)
	}
	if m, ok := watcher.mb.TryReceive(TagDown); !ok {
		t.Error("no DOWN for the process that called Goexit")
	} else if d, _ := ParseDown(m); !errors.Is(d.Reason, ErrGoexit) {
		t.Errorf("its DOWN says %v", d.Reason)
	}
	watcher.Kill()
	wait(t, watcher)
	if n := r.NumProcesses(); n != 0 {
		t.Errorf("%d processes left", n)
	}
	if err := r.Close(testCtx(t)); err != nil {
		t.Errorf("Close after a Goexit: %v", err)
	}
}

// Handles move between Go-native processes: here a module, which the
// receiver spawns. A Wasm process refuses them, from every Go sender, and
// its mailbox stays as it was.
func TestHandlesGoToGoNativeProcessesOnly(t *testing.T) {
	r := newRuntime(t)
	env := r.Environment()
	mod := loadMessages(t, r)
	spawned := make(chan Reason, 1)
	receiver := goProc(t, env, "receiver", func(ctx context.Context, self *Self) error {
		m, err := self.Receive(ctx)
		if err != nil {
			return err
		}
		got, ok := m.Handles[0].(*Module)
		if len(m.Handles) != 1 || !ok {
			return fmt.Errorf("handles %v, want the module", m.Handles)
		}
		p, err := self.Process().Environment().Spawn(ctx, got, "crash")
		if err != nil {
			return err
		}
		reason, err := p.Wait(ctx)
		spawned <- reason
		return err
	})
	ctx := testCtx(t)
	if err := r.Send(ctx, receiver.ID(), Message{Handles: []any{mod}}); err != nil {
		t.Fatalf("Send with a module handle to a Go-native process: %v", err)
	}
	if reason := <-spawned; reason == Normal {
		t.Errorf("the module received as a handle ran %q normally, want its crash", "crash")
	}
	if reason := wait(t, receiver); reason != Normal {
		t.Fatalf("receiver: %v", reason)
	}

	wasm := spawn(t, env, mod, "idle")
	withHandle := Message{Tag: 1, Data: []byte("x"), Handles: []any{mod}}
	sender := goProc(t, env, "sender", func(ctx context.Context, self *Self) error {
		return self.Send(wasm.ID(), withHandle)
	})
	if reason := wait(t, sender); !errors.Is(reason, ErrHandlesToWasm) {
		t.Errorf("Self.Send with a handle to a Wasm process: %v, want ErrHandlesToWasm", reason)
	}
	if err := r.Send(ctx, wasm.ID(), withHandle); !errors.Is(err, ErrHandlesToWasm) {
		t.Errorf("Runtime.Send: %v, want ErrHandlesToWasm", err)
	}
	if err := wasm.Send(ctx, withHandle); !errors.Is(err, ErrHandlesToWasm) {
		t.Errorf("Process.Send: %v, want ErrHandlesToWasm", err)
	}
	if _, err := r.SendAfter(time.Millisecond, wasm.ID(), withHandle); !errors.Is(err, ErrHandlesToWasm) {
		t.Errorf("SendAfter: %v, want ErrHandlesToWasm", err)
	}
	if _, err := r.Request(ctx, wasm.ID(), withHandle); !errors.Is(err, ErrHandlesToWasm) {
		t.Errorf("Request: %v, want ErrHandlesToWasm", err)
	}
	if n := wasm.mb.Len(); n != 0 {
		t.Errorf("%d messages reached the Wasm process", n)
	}
	if err := r.Send(ctx, wasm.ID(), Message{Tag: 1, Data: []byte("x")}); err != nil {
		t.Errorf("the same message without its handle: %v", err)
	}
}
