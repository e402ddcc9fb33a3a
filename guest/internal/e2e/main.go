//go:build wasip1

package main

import (
	"bytes"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"sync"
	"time"

	"github.com/wardrt/ward/guest"
)

const tagReport = 1 // the tag of every report to the host

// report sends "ok", or err's text, to the host's collector.
func report(to int64, err error) {
	text := "ok"
	if err != nil {
		text = err.Error()
	}
	if guest.Send(guest.ProcessID(to), tagReport, []byte(text)) != nil {
		guest.Exit(99)
	}
}

// want returns an error unless errors.Is(err, target).
func want(step string, err, target error) error {
	if !errors.Is(err, target) {
		return fmt.Errorf("%s: got error %v, want %v", step, err, target)
	}
	return nil
}

// ---- helpers other processes run ----

//go:wasmexport noop
func noop() {}

//go:wasmexport exit_with
func exitWith(code int32) { guest.Exit(code) }

//go:wasmexport panics
func panics() { panic("on purpose") }

// waiter waits for any message, then returns.
//
//go:wasmexport waiter
func waiter() { guest.Receive() }

// hoarder takes every message and answers none.
//
//go:wasmexport hoarder
func hoarder() {
	for {
		guest.Receive()
	}
}

// echo_params sends its parameters back to parent as 16 bytes.
//
//go:wasmexport echo_params
func echoParams(a int32, b int64, parent int64) {
	msg := fmt.Appendf(nil, "%d %d", a, b)
	guest.Send(guest.ProcessID(parent), 7, msg)
}

// echo_server replies to requests with their data reversed, until a
// message with tag 0.
//
//go:wasmexport echo_server
func echoServer() {
	for {
		m, err := guest.Receive()
		if err != nil || m.Tag == 0 {
			return
		}
		r := bytes.Clone(m.Data)
		for i, j := 0, len(r)-1; i < j; i, j = i+1, j-1 {
			r[i], r[j] = r[j], r[i]
		}
		if guest.Reply(m, r) != nil {
			guest.Exit(1)
		}
	}
}

// typed_server answers one Sum request.
//
//go:wasmexport typed_server
func typedServer() {
	m, err := guest.Receive()
	if err != nil {
		guest.Exit(1)
	}
	var in []int
	if m.Decode(&in) != nil {
		guest.Exit(2)
	}
	s := 0
	for _, v := range in {
		s += v
	}
	guest.ReplyValue(m, Sum{N: len(in), Total: s})
}

// Sum is a typed reply.
type Sum struct {
	N     int `cbor:"n"`
	Total int `cbor:"total"`
}

// register_as tries to register "svc" at 1.2.3 and sends the result to
// parent.
//
//go:wasmexport register_as
func registerAs(parent int64) {
	err := guest.Register("svc", "1.2.3")
	msg := "ok"
	if err != nil {
		msg = err.Error()
	}
	guest.Send(guest.ProcessID(parent), 8, []byte(msg))
}

// ---- checks the host test runs ----

//go:wasmexport check_self
func checkSelf(to int64) {
	report(to, func() error {
		self := guest.Self()
		if self == 0 {
			return errors.New("Self() = 0")
		}
		if !guest.Exists(self) {
			return errors.New("Exists(Self()) = false")
		}
		if guest.Exists(1 << 60) {
			return errors.New("Exists(1<<60) = true")
		}
		// The host compares this with the process's id.
		return guest.Send(guest.ProcessID(to), 2, []byte(self.String()))
	}())
}

//go:wasmexport check_spawn
func checkSpawn(to int64) {
	report(to, func() error {
		if _, err := guest.Spawn("no_such_export"); !errors.Is(err, guest.ErrNotFound) {
			return fmt.Errorf("spawn of a missing export: got %v, want ErrNotFound", err)
		}
		if _, err := guest.Spawn("echo_params"); !errors.Is(err, guest.ErrInvalid) {
			return fmt.Errorf("spawn with missing params: got %v, want ErrInvalid", err)
		}
		if _, err := guest.Spawn(strings.Repeat("x", guest.MaxNameLen+1)); !errors.Is(err, guest.ErrInvalid) {
			return fmt.Errorf("spawn with a name past MaxNameLen: got %v, want ErrInvalid", err)
		}
		many := make([]guest.Value, guest.MaxSpawnParams+1)
		if err := want("spawn with 17 params", func() error { _, err := guest.Spawn("noop", many...); return err }(), guest.ErrInvalid); err != nil {
			return err
		}
		self := int64(guest.Self())
		child, err := guest.Spawn("echo_params", guest.I32(-5), guest.I64(1<<40+3), guest.I64(self))
		if err != nil {
			return fmt.Errorf("spawn echo_params: %w", err)
		}
		if child == 0 || child == guest.Self() {
			return fmt.Errorf("spawn returned id %d", child)
		}
		m, err := guest.ReceiveTimeout(10*time.Second, 7)
		if err != nil {
			return fmt.Errorf("receive params: %w", err)
		}
		if got := string(m.Data); got != "-5 1099511627779" || m.Sender != child {
			return fmt.Errorf("child got params %q from %d, want \"-5 1099511627779\" from %d", got, m.Sender, child)
		}
		return nil
	}())
}

//go:wasmexport check_messages
func checkMessages(to int64) {
	report(to, func() error {
		self := guest.Self()
		big := make([]byte, 1<<20+13)
		for i := range big {
			big[i] = byte(i * 7)
		}
		for _, s := range []struct {
			tag  int64
			data []byte
		}{{5, []byte("five")}, {6, nil}, {7, big}} {
			if err := guest.Send(self, s.tag, s.data); err != nil {
				return fmt.Errorf("send tag %d to self: %w", s.tag, err)
			}
		}
		// Selective receive: 7 first, then 6, then whatever is left.
		m, err := guest.ReceiveTimeout(time.Second, 7, 8)
		if err != nil || m.Tag != 7 || !bytes.Equal(m.Data, big) || m.Sender != self {
			return fmt.Errorf("receive tag 7: tag %d, %d bytes (equal %v), sender %d, err %v",
				m.Tag, len(m.Data), bytes.Equal(m.Data, big), m.Sender, err)
		}
		m, err = guest.ReceiveTimeout(time.Second, 6)
		if err != nil || m.Tag != 6 || len(m.Data) != 0 {
			return fmt.Errorf("receive tag 6: tag %d, data %q, err %v", m.Tag, m.Data, err)
		}
		m, err = guest.Receive()
		if err != nil || m.Tag != 5 || string(m.Data) != "five" {
			return fmt.Errorf("receive any: tag %d, data %q, err %v", m.Tag, m.Data, err)
		}
		if _, err := guest.ReceiveTimeout(0, 1, 2, 3); !errors.Is(err, guest.ErrTimeout) {
			return fmt.Errorf("receive with timeout 0 on an empty mailbox: got %v, want ErrTimeout", err)
		}
		start := time.Now()
		if _, err := guest.ReceiveTimeout(30 * time.Millisecond); !errors.Is(err, guest.ErrTimeout) {
			return fmt.Errorf("receive with timeout 30ms: got %v, want ErrTimeout", err)
		}
		if d := time.Since(start); d < 25*time.Millisecond {
			return fmt.Errorf("receive with timeout 30ms returned after %v", d)
		}
		if _, err := guest.ReceiveTimeout(0, make([]int64, guest.MaxReceiveTags+1)...); !errors.Is(err, guest.ErrInvalid) {
			return fmt.Errorf("receive on 65 tags: got %v, want ErrInvalid", err)
		}
		if err := want("send with a negative tag", guest.Send(self, -3, nil), guest.ErrInvalid); err != nil {
			return err
		}
		if err := want("send to no process", guest.Send(1<<60, 1, []byte("x")), guest.ErrNotFound); err != nil {
			return err
		}
		if err := want("send past MaxMessageSize", guest.Send(self, 1, make([]byte, guest.MaxMessageSize+1)), guest.ErrLimit); err != nil {
			return err
		}
		a, b := guest.UniqueTag(), guest.UniqueTag()
		if a == b || a < 0 || b < 0 {
			return fmt.Errorf("UniqueTag gave %d then %d", a, b)
		}
		// A message from the host, sent from outside any process.
		if err := guest.Send(guest.ProcessID(to), 3, []byte("send me one")); err != nil {
			return err
		}
		m, err = guest.ReceiveTimeout(10*time.Second, 4)
		if err != nil || m.Sender != 0 || string(m.Data) != "from outside" {
			return fmt.Errorf("message from the host: sender %d, data %q, err %v", m.Sender, m.Data, err)
		}
		return nil
	}())
}

//go:wasmexport check_request
func checkRequest(to int64) {
	report(to, func() error {
		srv, err := guest.Spawn("echo_server")
		if err != nil {
			return err
		}
		for _, s := range []string{"abc", "", "ward"} {
			m, err := guest.Request(srv, []byte(s), 10*time.Second)
			if err != nil {
				return fmt.Errorf("request %q: %w", s, err)
			}
			if m.Sender != srv || m.Tag < 0 {
				return fmt.Errorf("reply from %d tag %d", m.Sender, m.Tag)
			}
			r := []byte(s)
			for i, j := 0, len(r)-1; i < j; i, j = i+1, j-1 {
				r[i], r[j] = r[j], r[i]
			}
			if !bytes.Equal(m.Data, r) {
				return fmt.Errorf("request %q: reply %q", s, m.Data)
			}
		}
		guest.Send(srv, 0, nil) // stop it

		ts, err := guest.Spawn("typed_server")
		if err != nil {
			return err
		}
		var sum Sum
		if err := guest.RequestValue(ts, []int{1, 2, 3, 4}, &sum, 10*time.Second); err != nil {
			return fmt.Errorf("typed request: %w", err)
		}
		if sum != (Sum{N: 4, Total: 10}) {
			return fmt.Errorf("typed reply %+v", sum)
		}

		// The waiter takes the request and ends without replying: the
		// request watches it, and fails at once, long before its timeout.
		w, err := guest.Spawn("waiter")
		if err != nil {
			return err
		}
		if _, err := guest.Request(w, []byte("?"), time.Hour); !errors.Is(err, guest.ErrNotFound) {
			return fmt.Errorf("request to a process that ends without replying: got %v, want ErrNotFound", err)
		}
		h, err := guest.Spawn("hoarder")
		if err != nil {
			return err
		}
		if _, err := guest.Request(h, []byte("?"), 30*time.Millisecond); !errors.Is(err, guest.ErrTimeout) {
			return fmt.Errorf("request to a process that does not reply: got %v, want ErrTimeout", err)
		}
		if err := guest.Kill(h); err != nil {
			return fmt.Errorf("kill the hoarder: %w", err)
		}
		if _, err := guest.Request(1<<60, nil, time.Second); !errors.Is(err, guest.ErrNotFound) {
			return fmt.Errorf("request to no process: got %v, want ErrNotFound", err)
		}
		return nil
	}())
}

//go:wasmexport check_links
func checkLinks(to int64) {
	report(to, func() error {
		guest.TrapExit(true)
		c, err := guest.SpawnLink("exit_with", guest.I32(3))
		if err != nil {
			return err
		}
		m, err := guest.ReceiveTimeout(10*time.Second, guest.TagExit)
		if err != nil {
			return fmt.Errorf("receive TagExit: %w", err)
		}
		e, ok := guest.ParseExit(m)
		if !ok || e.From != c || e.Kind != guest.ReasonExitCode || m.Sender != c {
			return fmt.Errorf("exit signal %+v (ok %v, sender %d), want from %d with ReasonExitCode", e, ok, m.Sender, c)
		}

		// Linked, then unlinked: its end stays its own.
		w, err := guest.Spawn("waiter")
		if err != nil {
			return err
		}
		if err := guest.Link(w); err != nil {
			return fmt.Errorf("link: %w", err)
		}
		guest.Unlink(w)
		// Watched, so that its end is known, not waited for: a kill is
		// asynchronous, and a process ends before its monitors hear (and
		// after its links would have).
		ref := guest.Monitor(w)
		if err := guest.Kill(w); err != nil {
			return fmt.Errorf("kill: %w", err)
		}
		m, err = guest.ReceiveTimeout(10*time.Second, guest.TagDown)
		if d, ok := guest.ParseDown(m); err != nil || !ok || d.Ref != ref || d.Kind != guest.ReasonKilled {
			return fmt.Errorf("down of the killed process: %+v (ok %v), err %v", d, ok, err)
		}
		if m, err := guest.ReceiveTimeout(0, guest.TagExit); err == nil {
			return fmt.Errorf("TagExit after unlink: %+v", m)
		}
		if err := want("kill of an ended process", guest.Kill(w), guest.ErrNotFound); err != nil {
			return err
		}
		if err := want("link to no process", guest.Link(1<<60), guest.ErrNotFound); err != nil {
			return err
		}

		// A killed linked process: the kill is trapped as an exit message.
		w, err = guest.SpawnLink("waiter")
		if err != nil {
			return err
		}
		guest.Kill(w)
		m, err = guest.ReceiveTimeout(10*time.Second, guest.TagExit)
		if e, ok := guest.ParseExit(m); err != nil || !ok || e.Kind != guest.ReasonKilled {
			return fmt.Errorf("exit of a killed linked process: %+v, err %v", e, err)
		}
		return nil
	}())
}

//go:wasmexport check_monitors
func checkMonitors(to int64) {
	report(to, func() error {
		ref := guest.Monitor(1 << 60)
		m, err := guest.ReceiveTimeout(time.Second, guest.TagDown)
		d, ok := guest.ParseDown(m)
		if err != nil || !ok || d.Ref != ref || d.Kind != guest.ReasonNoProc || d.Process != 1<<60 {
			return fmt.Errorf("down of no process: %+v (ok %v), err %v", d, ok, err)
		}

		p, err := guest.Spawn("panics")
		if err != nil {
			return err
		}
		ref = guest.Monitor(p)
		m, err = guest.ReceiveTimeout(10*time.Second, guest.TagDown)
		d, ok = guest.ParseDown(m)
		if err != nil || !ok || d.Ref != ref || d.Process != p || d.Kind != guest.ReasonTrap || d.Text == "" {
			return fmt.Errorf("down of a panicking process: %+v (ok %v), err %v", d, ok, err)
		}

		w, err := guest.Spawn("waiter")
		if err != nil {
			return err
		}
		ref = guest.Monitor(w)
		ref2 := guest.Monitor(w)
		guest.Demonitor(ref)
		guest.Send(w, 1, nil) // let it end normally
		m, err = guest.ReceiveTimeout(10*time.Second, guest.TagDown)
		d, ok = guest.ParseDown(m)
		if err != nil || !ok || d.Ref != ref2 || d.Kind != guest.ReasonNormal {
			return fmt.Errorf("down of a normal end: %+v (ok %v), err %v; want ref %d", d, ok, err, ref2)
		}
		if m, err := guest.ReceiveTimeout(50*time.Millisecond, guest.TagDown); err == nil {
			return fmt.Errorf("down after demonitor: %+v", m)
		}
		return nil
	}())
}

//go:wasmexport check_registry
func checkRegistry(to int64) {
	report(to, func() error {
		self := guest.Self()
		if err := guest.Register("svc", "1.2.3"); err != nil {
			return fmt.Errorf("register: %w", err)
		}
		if err := want("register a bad version", guest.Register("svc", "one"), guest.ErrInvalid); err != nil {
			return err
		}
		if _, err := guest.Spawn("register_as", guest.I64(int64(self))); err != nil {
			return err
		}
		m, err := guest.ReceiveTimeout(10*time.Second, 8)
		if err != nil || !bytes.Contains(m.Data, []byte(guest.ErrTaken.Error())) {
			return fmt.Errorf("another process registering the same name and version: %q, err %v", m.Data, err)
		}
		if id, err := guest.Lookup("svc", "^1"); err != nil || id != self {
			return fmt.Errorf("lookup ^1: %d, %v; want %d", id, err, self)
		}
		if id, err := guest.Lookup("svc", ""); err != nil || id != self {
			return fmt.Errorf("lookup any version: %d, %v; want %d", id, err, self)
		}
		if _, err := guest.Lookup("svc", "^2"); !errors.Is(err, guest.ErrNotFound) {
			return fmt.Errorf("lookup ^2: got %v, want ErrNotFound", err)
		}
		if _, err := guest.Lookup("svc", "^^"); !errors.Is(err, guest.ErrInvalid) {
			return fmt.Errorf("lookup with a bad constraint: got %v, want ErrInvalid", err)
		}
		if err := guest.Unregister("svc", "1.2.3"); err != nil {
			return fmt.Errorf("unregister: %w", err)
		}
		if err := want("unregister again", guest.Unregister("svc", "1.2.3"), guest.ErrNotFound); err != nil {
			return err
		}
		a, err := guest.GetOrSpawn("waiters", "1.0.0", "waiter")
		if err != nil {
			return fmt.Errorf("get_or_spawn: %w", err)
		}
		b, err := guest.GetOrSpawn("waiters", "1.0.0", "waiter")
		if err != nil || a != b || a == self {
			return fmt.Errorf("get_or_spawn twice: %d then %d, %v", a, b, err)
		}
		if id, err := guest.Lookup("waiters", "1.0.0"); err != nil || id != a {
			return fmt.Errorf("lookup of a get_or_spawn process: %d, %v", id, err)
		}
		guest.Kill(a)
		return nil
	}())
}

//go:wasmexport check_timers
func checkTimers(to int64) {
	report(to, func() error {
		self := guest.Self()
		start := time.Now()
		if _, err := guest.SendAfter(self, 9, []byte("tick"), 20*time.Millisecond); err != nil {
			return fmt.Errorf("send_after: %w", err)
		}
		t, err := guest.SendAfter(self, 9, []byte("never"), time.Hour)
		if err != nil || t <= 0 {
			return fmt.Errorf("send_after: timer %d, %v", t, err)
		}
		if err := guest.CancelTimer(t); err != nil {
			return fmt.Errorf("cancel_timer: %w", err)
		}
		if err := want("cancel_timer again", guest.CancelTimer(t), guest.ErrNotFound); err != nil {
			return err
		}
		m, err := guest.ReceiveTimeout(10*time.Second, 9)
		if err != nil || string(m.Data) != "tick" || m.Sender != self {
			return fmt.Errorf("timer message: %q from %d, %v", m.Data, m.Sender, err)
		}
		if d := time.Since(start); d < 19*time.Millisecond {
			return fmt.Errorf("a 20ms timer fired after %v", d)
		}
		if m, err := guest.ReceiveTimeout(30*time.Millisecond, 9); err == nil {
			return fmt.Errorf("cancelled timer fired: %q", m.Data)
		}
		if err := want("send_after with a negative tag", func() error { _, err := guest.SendAfter(self, -1, nil, 0); return err }(), guest.ErrInvalid); err != nil {
			return err
		}
		start = time.Now()
		guest.Sleep(30 * time.Millisecond)
		if d := time.Since(start); d < 29*time.Millisecond {
			return fmt.Errorf("Sleep(30ms) returned after %v", d)
		}
		return nil
	}())
}

// check_spawn_denied runs where spawning is not permitted.
//
//go:wasmexport check_spawn_denied
func checkSpawnDenied(to int64) {
	report(to, func() error {
		_, err := guest.Spawn("noop")
		if err := want("spawn", err, guest.ErrPermission); err != nil {
			return err
		}
		_, err = guest.GetOrSpawn("x", "1.0.0", "noop")
		return want("get_or_spawn", err, guest.ErrPermission)
	}())
}

// check_spawn_limit runs where it is the only process allowed.
//
//go:wasmexport check_spawn_limit
func checkSpawnLimit(to int64) {
	report(to, func() error {
		_, err := guest.Spawn("noop")
		return want("spawn", err, guest.ErrLimit)
	}())
}

// check_goroutines sends from several goroutines at once while the main
// one waits, then receives everything: the SDK's message state is the
// process's, shared by its goroutines.
//
//go:wasmexport check_goroutines
func checkGoroutines(to int64) {
	report(to, func() error {
		const workers, each = 8, 100
		self := guest.Self()
		var wg sync.WaitGroup
		errs := make(chan error, workers)
		for w := range workers {
			wg.Go(func() {
				for i := range each {
					if err := guest.Send(self, int64(10+w), fmt.Appendf(nil, "%d/%d", w, i)); err != nil {
						errs <- err
						return
					}
					if i%10 == 0 {
						runtime.Gosched()
					}
				}
			})
		}
		wg.Wait()
		close(errs)
		if err := <-errs; err != nil {
			return err
		}
		for w := range workers {
			for i := range each {
				m, err := guest.ReceiveTimeout(time.Second, int64(10+w))
				if err != nil {
					return fmt.Errorf("message %d of worker %d: %w", i, w, err)
				}
				if want := fmt.Sprintf("%d/%d", w, i); string(m.Data) != want {
					return fmt.Errorf("worker %d's message %d is %q, want %q", w, i, m.Data, want)
				}
			}
		}
		if m, err := guest.ReceiveTimeout(0); err == nil {
			return fmt.Errorf("a message too many: %+v", m)
		}
		return nil
	}())
}

// echo_loop replies to every request with its data, for the host's
// round-trip benchmark.
//
//go:wasmexport echo_loop
func echoLoop() {
	for {
		m, err := guest.Receive()
		if err != nil {
			return
		}
		guest.Reply(m, m.Data)
	}
}

// job_upper is a job (guest.ServeJob): its result is its input in upper
// case; an empty input fails it.
//
//go:wasmexport job_upper
func jobUpper() {
	guest.ServeJob(func(in []byte) ([]byte, error) {
		if len(in) == 0 {
			return nil, errors.New("empty input")
		}
		return bytes.ToUpper(in), nil
	})
}

// check_run_job starts jobs through the job server registered in its
// environment (the host's test serves it), and checks a result and a
// failure.
//
//go:wasmexport check_run_job
func checkRunJob(to int64) {
	report(to, func() error {
		out, err := guest.RunJob(guest.JobOn(3), "abc", "job_upper", []byte("hi"), 10*time.Second)
		if err != nil {
			return fmt.Errorf("RunJob: %w", err)
		}
		if string(out) != "3 abc job_upper hi" {
			return fmt.Errorf("RunJob result %q", out)
		}
		_, err = guest.RunJob(guest.JobAny, "abc", "job_upper", nil, 10*time.Second)
		var je *guest.JobError
		if !errors.As(err, &je) || je.Text != "failed" {
			return fmt.Errorf("failing job: %v, want a JobError \"failed\"", err)
		}
		return nil
	}())
}
