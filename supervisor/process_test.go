package supervisor_test

import (
	"context"
	"errors"
	"slices"
	"testing"

	"github.com/wardrt/ward/runtime"
	"github.com/wardrt/ward/supervisor"
)

// spawnClient runs fn as a Go-native process (so that it has a mailbox to
// receive replies in) and waits for it.
func spawnClient(t *testing.T, f *fixture, fn func(ctx context.Context, self *runtime.Self) error) {
	t.Helper()
	p, err := f.env.SpawnGo(testCtx(t), "client", fn)
	must(t, err)
	reason, err := p.Wait(testCtx(t))
	must(t, err)
	if !reason.Normal() {
		t.Fatalf("client: %v", reason)
	}
}

// A supervisor run as a process answers requests from other processes:
// which_children, start_child (simple_one_for_one), terminate_child, with
// errors coded so that Call maps them back to the package's errors.
func TestSupervisorProcessProtocol(t *testing.T) {
	f := newFixture(t)
	sup := supervisor.New("pool", supervisor.Options{Strategy: supervisor.SimpleOneForOne, Logger: quiet()})
	must(t, sup.Add(supervisor.ChildSpec{
		Name:    "sleeper",
		Wasm:    &supervisor.Wasm{Env: f.env, Module: f.procs, Entry: "sleep"},
		Restart: supervisor.Transient,
	}))
	sp, err := sup.SpawnProcess(testCtx(t), f.env)
	must(t, err)
	waitUntil(t, func() bool { return sup.Process() != nil }, "the supervisor to run")
	if sup.Process().ID() != sp.ID() {
		t.Errorf("Process() = %v, want %v", sup.Process(), sp)
	}

	spawnClient(t, f, func(ctx context.Context, self *runtime.Self) error {
		call := func(req supervisor.Request) (supervisor.Response, error) {
			return supervisor.Call(ctx, self, sp.ID(), req)
		}
		resp, err := call(supervisor.Request{Op: "which_children"})
		if err != nil || !resp.OK || len(resp.Children) != 0 {
			t.Errorf("which_children at first: %+v, %v", resp, err)
		}
		var pids []uint64
		for range 2 {
			resp, err := call(supervisor.Request{Op: "start_child", Args: []supervisor.Arg{supervisor.ArgI64(1 << 40)}})
			if err != nil || resp.PID == 0 {
				t.Fatalf("start_child: %+v, %v", resp, err)
			}
			pids = append(pids, resp.PID)
		}
		resp, err = call(supervisor.Request{Op: "which_children"})
		if err != nil || len(resp.Children) != 2 {
			t.Fatalf("which_children: %+v, %v", resp, err)
		}
		for i, c := range resp.Children {
			if c.PID != pids[i] || c.State != "running" || c.Restart != "transient" || !c.Dynamic {
				t.Errorf("child %d: %+v", i, c)
			}
		}
		if _, err := call(supervisor.Request{Op: "terminate_child", Name: resp.Children[0].Name}); err != nil {
			t.Errorf("terminate_child: %v", err)
		}
		if _, ok := f.rt.Process(runtime.ProcessID(pids[0])); ok {
			t.Errorf("terminated child %d is alive", pids[0])
		}

		// Errors, by code.
		for _, tc := range []struct {
			req  supervisor.Request
			code string
			is   error
		}{
			{supervisor.Request{Op: "terminate_child", Name: "nobody"}, "no_child", supervisor.ErrNoChild},
			{supervisor.Request{Op: "restart_child", Name: "sleeper-2"}, "strategy", supervisor.ErrStrategy},
			{supervisor.Request{Op: "start_child"}, "start_failed", nil}, // sleep needs its i64
			{supervisor.Request{Op: "start_child", Args: []supervisor.Arg{{}}}, "bad_request", nil},
			{supervisor.Request{Op: "reboot"}, "bad_request", nil},
		} {
			resp, err := call(tc.req)
			var re *supervisor.RemoteError
			if resp.OK || resp.Code != tc.code || !errors.As(err, &re) || re.Code != tc.code || (tc.is != nil && !errors.Is(err, tc.is)) {
				t.Errorf("%+v: %+v, %v; want code %s", tc.req, resp, err, tc.code)
			}
		}

		// The wire format needs no Go types: a plain map works, and the
		// reply comes under the request's tag.
		m, err := runtime.EncodeMessage(0, map[string]any{"op": "which_children"})
		if err != nil {
			return err
		}
		reply, err := self.Request(ctx, sp.ID(), m)
		if err != nil {
			return err
		}
		var raw map[string]any
		if err := runtime.DecodeMessage(reply, &raw); err != nil {
			return err
		}
		if raw["ok"] != true || len(raw["children"].([]any)) != 1 {
			t.Errorf("raw reply %v", raw)
		}
		return nil
	})
	if got := names(sup.WhichChildren()); !slices.Equal(got, []string{"sleeper-2"}) {
		t.Errorf("children %v", got)
	}

	// Killing the supervisor process stops its children.
	sp.Kill()
	if r, _ := sp.Wait(testCtx(t)); r != runtime.Killed {
		t.Errorf("supervisor process: %v", r)
	}
	if n := f.rt.NumProcesses(); n != 0 {
		t.Errorf("%d processes left", n)
	}
}

// Other processes can monitor and link to a supervisor process: when it
// gives up, its monitors get a DOWN with the IntensityError, and processes
// linked to it end with it.
func TestSupervisorProcessMonitorAndLink(t *testing.T) {
	f := newFixture(t)
	sup := supervisor.New("fragile", supervisor.Options{Strategy: supervisor.SimpleOneForOne, Intensity: -1, Logger: quiet()})
	must(t, sup.Add(supervisor.ChildSpec{Name: "crasher", Wasm: f.trap()}))
	sp, err := sup.SpawnProcess(testCtx(t), f.env)
	must(t, err)

	// A process linked to the supervisor goes down with it.
	linked, err := f.env.SpawnGo(testCtx(t), "linked", func(ctx context.Context, self *runtime.Self) error {
		if err := self.Link(sp.ID()); err != nil {
			return err
		}
		<-ctx.Done()
		return nil
	})
	must(t, err)

	spawnClient(t, f, func(ctx context.Context, self *runtime.Self) error {
		ref, err := self.Monitor(sp.ID())
		if err != nil {
			return err
		}
		if _, err := supervisor.Call(ctx, self, sp.ID(), supervisor.Request{Op: "start_child"}); err != nil {
			t.Errorf("start_child: %v", err) // it starts, then traps, and the supervisor gives up
		}
		m, err := self.Receive(ctx, runtime.TagDown)
		if err != nil {
			return err
		}
		down, ok := runtime.ParseDown(m)
		if !ok || down.Ref != ref || down.Process != sp.ID() {
			t.Errorf("DOWN %+v", down)
		}
		var ge *runtime.GoError
		if !errors.As(down.Reason, &ge) || !errors.Is(down.Reason, supervisor.ErrIntensity) {
			t.Errorf("DOWN reason %v, want a GoError wrapping ErrIntensity", down.Reason)
		}
		return nil
	})
	r, err := linked.Wait(testCtx(t))
	if err != nil || !errors.Is(r, supervisor.ErrIntensity) {
		t.Errorf("linked process ended with %v, %v; want the supervisor's reason", r, err)
	}
	if n := f.rt.NumProcesses(); n != 0 {
		t.Errorf("%d processes left", n)
	}
}
