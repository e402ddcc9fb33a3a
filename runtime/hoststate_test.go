package runtime

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/wardrt/ward/environment"
	"github.com/wardrt/ward/hostapi"
)

// grants is a host module configuration granting a set of permissions;
// a child may keep some of its parent's and no others.
type grants []string

func (g grants) Permits(perm string) bool { return slices.Contains(g, perm) }

func (g grants) Narrow(child environment.HostConfig) (environment.HostConfig, error) {
	c, ok := child.(grants)
	if !ok {
		return nil, fmt.Errorf("%w: %T is not a grants", environment.ErrInvalid, child)
	}
	for _, perm := range c {
		if !g.Permits(perm) {
			return nil, fmt.Errorf("%w: %q is not granted to the parent", environment.ErrWiden, perm)
		}
	}
	return c, nil
}

// resLog is what the res module saw, by process id.
type resLog struct {
	mu       sync.Mutex
	made     map[uint64]int
	closed   map[uint64]int
	got      map[uint64][]int64 // get's results
	refused  map[uint64]int     // opens refused by the handle table's bound
	most     int                // the most handles one table held
	secrets  int                // calls of secret that reached the handler
	config   environment.HostConfig
	blocked  chan uint64 // a process is in wait
	panicky  bool        // Close panics
	stateErr error       // NewState fails
	pipes    bool        // open opens a pipe too, which Close closes
}

func newResLog() *resLog {
	return &resLog{made: map[uint64]int{}, closed: map[uint64]int{}, got: map[uint64][]int64{},
		refused: map[uint64]int{}, blocked: make(chan uint64, 16)}
}

func (l *resLog) count(m map[uint64]int, pid ProcessID) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return m[uint64(pid)]
}

const resMaxHandles = 8

type resState struct {
	l       *resLog
	pid     uint64
	handles *hostapi.Handles[int64]
	files   []*os.File
}

func (s *resState) Close(context.Context) {
	s.l.mu.Lock()
	s.l.closed[s.pid]++
	panicky := s.l.panicky
	s.l.mu.Unlock()
	s.handles.Close(nil)
	for _, f := range s.files {
		f.Close()
	}
	if panicky {
		panic("state close bug")
	}
}

// resModule is a host module with a per-process handle table: open() ->
// handle (or -StatusLimit), get(h) -> the pid that opened it (or -1),
// wait() blocking until the process is killed, and two functions that
// need the "secret" permission: secret() -> 1 (or StatusPermission) and
// strict(), which traps when refused.
func resModule(l *resLog) hostapi.Module {
	state := func(c *hostapi.Call) *resState { return c.State().(*resState) }
	return hostapi.Module{
		Namespace:     "res",
		DefaultConfig: grants{},
		NewState: func(ctx context.Context, c *hostapi.Call) (hostapi.State, error) {
			p := c.Process()
			l.mu.Lock()
			defer l.mu.Unlock()
			if l.stateErr != nil {
				return nil, l.stateErr
			}
			l.made[p.ID()]++
			return &resState{l: l, pid: p.ID(), handles: hostapi.NewHandles[int64](resMaxHandles)}, nil
		},
		Funcs: []hostapi.Func{
			{Name: "open", Results: []hostapi.ValType{hostapi.I32}, Handler: func(ctx context.Context, c *hostapi.Call) error {
				s := state(c)
				h, err := s.handles.Add(int64(s.pid))
				if errors.Is(err, hostapi.ErrHandleLimit) {
					l.mu.Lock()
					l.refused[s.pid]++
					l.mu.Unlock()
					c.Return(-hostapi.StatusLimit)
					return nil
				}
				l.mu.Lock()
				l.most = max(l.most, s.handles.Len())
				pipes := l.pipes
				l.mu.Unlock()
				if pipes && err == nil {
					r, w, err := os.Pipe()
					if err != nil {
						return err
					}
					s.files = append(s.files, r, w)
				}
				c.Return(int64(h))
				return err
			}},
			{Name: "get", Params: []hostapi.ValType{hostapi.I32}, Results: []hostapi.ValType{hostapi.I64}, Handler: func(ctx context.Context, c *hostapi.Call) error {
				s := state(c)
				v, ok := s.handles.Get(int32(c.Arg(0)))
				if !ok {
					v = -1
				}
				l.mu.Lock()
				l.got[s.pid] = append(l.got[s.pid], v)
				l.mu.Unlock()
				c.Return(v)
				return nil
			}},
			{Name: "wait", Handler: func(ctx context.Context, c *hostapi.Call) error {
				l.blocked <- c.Process().ID()
				<-ctx.Done()
				return nil
			}},
			{Name: "secret", Results: []hostapi.ValType{hostapi.I32}, Permission: "secret", Refused: []int64{hostapi.StatusPermission},
				Handler: func(ctx context.Context, c *hostapi.Call) error {
					l.mu.Lock()
					l.secrets++
					l.config = c.Config()
					l.mu.Unlock()
					c.Return(1)
					return nil
				}},
			{Name: "strict", Permission: "secret", Handler: func(ctx context.Context, c *hostapi.Call) error {
				l.mu.Lock()
				l.secrets++
				l.mu.Unlock()
				return nil
			}},
		},
	}
}

const resGuest = `(module
  (import "res" "open" (func $open (result i32)))
  (import "res" "get" (func $get (param i32) (result i64)))
  (import "res" "wait" (func $wait))
  (import "res" "secret" (func $secret (result i32)))
  (import "res" "strict" (func $strict))
  (memory (export "memory") 1)
  (func (export "nothing"))
  (func (export "three")
    (drop (call $open)) (drop (call $open)) (drop (call $open))
    (drop (call $get (i32.const 2))))
  (func (export "trap") (drop (call $open)) unreachable)
  (func (export "block") (drop (call $open)) (call $wait))
  (func (export "spin") (drop (call $open)) (loop $l (br $l)))
  (func (export "get") (param i32) (drop (call $get (local.get 0))))
  (func (export "open_get") (param i32) (drop (call $open)) (drop (call $get (local.get 0))))
  ;; flood opens until refused, then a thousand times more: a hostile
  ;; guest that ignores the refusal.
  (func (export "flood") (local $n i32)
    (block $full (loop $l
      (br_if $full (i32.lt_s (call $open) (i32.const 0)))
      (br $l)))
    (loop $l
      (drop (call $open))
      (local.set $n (i32.add (local.get $n) (i32.const 1)))
      (br_if $l (i32.lt_u (local.get $n) (i32.const 1000)))))
  (func (export "secret") (if (i32.ne (call $secret) (i32.const 2)) (then unreachable)))
  (func (export "secret_ok") (if (i32.ne (call $secret) (i32.const 1)) (then unreachable)))
  (func (export "strict") (call $strict)))`

func resRuntime(t *testing.T, l *resLog, opts ...Option) (*Runtime, *Module) {
	t.Helper()
	r := newRuntime(t, append([]Option{WithHostModule(resModule(l))}, opts...)...)
	return r, load(t, r, "res", []byte(resGuest))
}

func TestHostStateIsMadeOncePerProcessAndOnlyOnUse(t *testing.T) {
	l := newResLog()
	r, m := resRuntime(t, l)
	ctx := testCtx(t)

	p := spawn(t, r.Environment(), m, "three")
	if reason, _ := p.Wait(ctx); reason != Normal {
		t.Fatal(reason)
	}
	// Checked right after Wait: Close has run by then.
	if made, closed := l.count(l.made, p.ID()), l.count(l.closed, p.ID()); made != 1 || closed != 1 {
		t.Fatalf("three calls made %d states and closed %d, want 1 and 1", made, closed)
	}
	if got := l.got[uint64(p.ID())]; len(got) != 1 || got[0] != int64(p.ID()) {
		t.Fatalf("get(2) after three opens: %v, want the process's own value", got)
	}

	q := spawn(t, r.Environment(), m, "nothing")
	if reason, _ := q.Wait(ctx); reason != Normal {
		t.Fatal(reason)
	}
	if made, closed := l.count(l.made, q.ID()), l.count(l.closed, q.ID()); made != 0 || closed != 0 {
		t.Fatalf("a process that never called the module: %d states made, %d closed", made, closed)
	}
}

func TestHostStateIsClosedOnEveryEnd(t *testing.T) {
	for _, tc := range []struct {
		name  string
		entry string
		env   environment.Config
		end   func(t *testing.T, r *Runtime, env *Environment, p *Process)
		want  func(Reason) bool
	}{
		{name: "normal", entry: "three", want: func(r Reason) bool { return r == Normal }},
		{name: "trap", entry: "trap", want: func(r Reason) bool { var te *TrapError; return errors.As(r, &te) }},
		{name: "out of fuel", entry: "spin", env: environment.Config{MaxFuel: 100_000},
			want: func(r Reason) bool { return errors.Is(r, ErrOutOfFuel) }},
		{name: "kill while blocked", entry: "block",
			end:  func(t *testing.T, r *Runtime, env *Environment, p *Process) { p.Kill() },
			want: func(r Reason) bool { return r == Killed }},
		{name: "environment closed", entry: "block",
			end: func(t *testing.T, r *Runtime, env *Environment, p *Process) {
				if err := env.Close(testCtx(t)); err != nil {
					t.Error(err)
				}
			},
			want: func(r Reason) bool { return r == Killed }},
		{name: "runtime closed", entry: "block",
			end: func(t *testing.T, r *Runtime, env *Environment, p *Process) {
				if err := r.Close(testCtx(t)); err != nil {
					t.Error(err)
				}
			},
			want: func(r Reason) bool { return r == Killed }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l := newResLog()
			r, m := resRuntime(t, l)
			env, err := r.NewEnvironment(tc.env)
			if err != nil {
				t.Fatal(err)
			}
			p := spawn(t, env, m, tc.entry)
			if tc.end != nil {
				select {
				case <-l.blocked:
				case <-testCtx(t).Done():
					t.Fatal("the process never reached its blocking call")
				}
				tc.end(t, r, env, p)
			}
			reason, err := p.Wait(testCtx(t))
			if err != nil || !tc.want(reason) {
				t.Fatalf("ended with %v (%v)", reason, err)
			}
			if made, closed := l.count(l.made, p.ID()), l.count(l.closed, p.ID()); made != 1 || closed != 1 {
				t.Fatalf("%d states made, %d closed, want 1 and 1", made, closed)
			}
		})
	}
}

// What a process opened through a module is closed by the time its Wait
// returns, on each kind of end: no file descriptor is left.
func TestHostStateLeavesNoFileDescriptor(t *testing.T) {
	l := newResLog()
	l.pipes = true
	r, m := resRuntime(t, l)
	ctx := testCtx(t)
	spawn(t, r.Environment(), m, "nothing").Wait(ctx) // the runtime's own descriptors, made once
	before := openFDs(t)

	for _, entry := range []string{"three", "trap", "block"} {
		p := spawn(t, r.Environment(), m, entry)
		if entry == "block" {
			<-l.blocked
			if n := openFDs(t); n != before+2 {
				t.Fatalf("a process holding a pipe: %d descriptors, want %d", n, before+2)
			}
			p.Kill()
		}
		p.Wait(ctx)
		if n := openFDs(t); n != before {
			t.Fatalf("after %s ended: %d descriptors open, want %d", entry, n, before)
		}
	}
}

func TestHostHandlesArePerProcess(t *testing.T) {
	l := newResLog()
	r, m := resRuntime(t, l)
	ctx := testCtx(t)

	a := spawn(t, r.Environment(), m, "block") // holds its handle 1
	<-l.blocked

	b := spawn(t, r.Environment(), m, "get", I32(1))
	b.Wait(ctx)
	c := spawn(t, r.Environment(), m, "open_get", I32(1))
	c.Wait(ctx)
	a.Kill()
	a.Wait(ctx)

	l.mu.Lock()
	defer l.mu.Unlock()
	if got := l.got[uint64(b.ID())]; !slices.Equal(got, []int64{-1}) {
		t.Errorf("another process's handle 1 in a process with none: %v, want not found", got)
	}
	if got := l.got[uint64(c.ID())]; !slices.Equal(got, []int64{int64(c.ID())}) {
		t.Errorf("handle 1 in a process with its own: %v, want its own (%d), not %d's", got, c.ID(), a.ID())
	}
}

func TestHostHandleFloodIsBounded(t *testing.T) {
	l := newResLog()
	r, m := resRuntime(t, l)
	p := spawn(t, r.Environment(), m, "flood")
	if reason, _ := p.Wait(testCtx(t)); reason != Normal {
		t.Fatal(reason)
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.most != resMaxHandles || l.refused[uint64(p.ID())] != 1001 {
		t.Fatalf("a guest opening in a loop held %d handles (bound %d) and was refused %d times, want 1001",
			l.most, resMaxHandles, l.refused[uint64(p.ID())])
	}
}

func TestHostPermission(t *testing.T) {
	ctx := testCtx(t)
	run := func(t *testing.T, env *Environment, m *Module, entry string) Reason {
		t.Helper()
		reason, err := env.Run(ctx, m, entry)
		if err != nil {
			t.Fatal(err)
		}
		return reason
	}

	t.Run("refused by default", func(t *testing.T) {
		l := newResLog()
		r, m := resRuntime(t, l)
		if reason := run(t, r.Environment(), m, "secret"); reason != Normal {
			t.Fatalf("secret() refused should return StatusPermission: %v", reason)
		}
		reason := run(t, r.Environment(), m, "strict")
		var te *TrapError
		if !errors.As(reason, &te) || !strings.Contains(te.Message, "permission denied: res.strict needs secret") {
			t.Fatalf("strict() refused: %v", reason)
		}
		if l.secrets != 0 {
			t.Fatalf("a refused call reached its handler %d times", l.secrets)
		}
	})

	t.Run("granted and narrowed", func(t *testing.T) {
		l := newResLog()
		r, m := resRuntime(t, l, WithRootEnvironment(environment.Config{
			Host: map[string]environment.HostConfig{"res": grants{"secret", "other"}},
		}))
		if reason := run(t, r.Environment(), m, "secret_ok"); reason != Normal {
			t.Fatal(reason)
		}
		if reason := run(t, r.Environment(), m, "strict"); reason != Normal {
			t.Fatal(reason)
		}
		if l.secrets != 2 || !slices.Equal(l.config.(grants), grants{"secret", "other"}) {
			t.Fatalf("granted: %d calls reached the handler, config %v", l.secrets, l.config)
		}

		keeps, err := r.NewEnvironment(environment.Config{Host: map[string]environment.HostConfig{"res": grants{"secret"}}})
		if err != nil {
			t.Fatal(err)
		}
		if reason := run(t, keeps, m, "secret_ok"); reason != Normal {
			t.Fatal(reason)
		}
		if !slices.Equal(l.config.(grants), grants{"secret"}) {
			t.Fatalf("Call.Config in a narrowed child: %v", l.config)
		}
		inherits, err := keeps.NewChild(environment.Config{})
		if err != nil {
			t.Fatal(err)
		}
		if reason := run(t, inherits, m, "secret_ok"); reason != Normal {
			t.Fatal(reason)
		}

		drops, err := r.NewEnvironment(environment.Config{Host: map[string]environment.HostConfig{"res": grants{"other"}}})
		if err != nil {
			t.Fatal(err)
		}
		if reason := run(t, drops, m, "secret"); reason != Normal {
			t.Fatalf("a child that dropped the permission: %v", reason)
		}
		if l.secrets != 4 {
			t.Fatalf("%d calls reached the handler, want 4", l.secrets)
		}

		_, err = drops.NewChild(environment.Config{Host: map[string]environment.HostConfig{"res": grants{"secret"}}})
		if !errors.Is(err, environment.ErrWiden) || !strings.Contains(err.Error(), `Host["res"]`) {
			t.Fatalf("a grandchild taking back the permission: %v", err)
		}
	})
}

func TestHostStateCloseThatPanicsIsLogged(t *testing.T) {
	l := newResLog()
	l.panicky = true
	var buf bytes.Buffer
	var mu sync.Mutex
	r, m := resRuntime(t, l, WithLogger(slog.New(slog.NewTextHandler(lockedWriter{&mu, &buf}, nil))))
	for range 2 { // the runtime goes on
		p := spawn(t, r.Environment(), m, "three")
		if reason, _ := p.Wait(testCtx(t)); reason != Normal {
			t.Fatal(reason)
		}
		if l.count(l.closed, p.ID()) != 1 {
			t.Fatal("Close was not called")
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if n := strings.Count(buf.String(), "Close panicked"); n != 2 || !strings.Contains(buf.String(), "state close bug") {
		t.Fatalf("log: %q", buf.String())
	}
}

func TestHostNewStateErrorTraps(t *testing.T) {
	l := newResLog()
	l.stateErr = errors.New("ward: no room")
	r, m := resRuntime(t, l)
	p := spawn(t, r.Environment(), m, "three")
	reason, _ := p.Wait(testCtx(t))
	var te *TrapError
	if !errors.As(reason, &te) || !strings.Contains(te.Message, "res.open: no room") {
		t.Fatalf("reason %v", reason)
	}
	if l.count(l.closed, p.ID()) != 0 {
		t.Fatal("a state that was never made was closed")
	}
}

type lockedWriter struct {
	mu *sync.Mutex
	w  *bytes.Buffer
}

func (w lockedWriter) Write(b []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.w.Write(b)
}

type benchState struct{ calls int }

func (*benchState) Close(context.Context) {}

// BenchmarkHostCallStatePermission: BenchmarkHostCall's call with the
// module's per-process state and a permission check, what a real module
// (a socket's read) pays on top.
func BenchmarkHostCallStatePermission(b *testing.B) {
	benchHostCalls(b, hostapi.Module{
		Namespace:     "bench",
		DefaultConfig: grants{"ping"},
		NewState: func(context.Context, *hostapi.Call) (hostapi.State, error) {
			return &benchState{}, nil
		},
		Funcs: []hostapi.Func{{
			Name: "ping", Params: []hostapi.ValType{hostapi.I32}, Results: []hostapi.ValType{hostapi.I32},
			Permission: "ping", Refused: []int64{-1},
			Handler: func(ctx context.Context, c *hostapi.Call) error {
				c.State().(*benchState).calls++
				c.Return(c.Arg(0))
				return nil
			},
		}},
	})
}
