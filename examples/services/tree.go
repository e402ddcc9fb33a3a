package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"sync"

	"github.com/wardrt/ward/runtime"
	"github.com/wardrt/ward/supervisor"
)

// greeterVersions are the greeter children: one process per version, all
// of the same module, each registered as greeter@version.
var greeterVersions = []struct{ child, version, entry string }{
	{"greeter-1.2", "1.2.0", "greeter_v1_2"},
	{"greeter-1.4", "1.4.0", "greeter_v1_4"},
	{"greeter-2.0", "2.0.0", "greeter_v2_0"},
}

// tree is the example's supervision tree:
//
//	app       one_for_one
//	├─ audit     a Go-native process, registered as audit@1.0.0
//	└─ greeters  one_for_one, a nested supervisor
//	   ├─ greeter-1.2  Wasm, registered as greeter@1.2.0
//	   ├─ greeter-1.4  Wasm, registered as greeter@1.4.0
//	   └─ greeter-2.0  Wasm, registered as greeter@2.0.0
//
// Every child registers its name in its OnStart hook, which the supervisor
// calls after every start and restart: a restarted process has a new id,
// and the old one's names went with it.
type tree struct {
	app, greeters *supervisor.Supervisor

	out       io.Writer
	upOnce    sync.Once
	up        chan struct{}         // closed once the last greeter has started
	restarted chan supervisor.Event // the greeters' restarts
}

// newTree builds the tree; nothing runs until app is served. Children run
// in env and register their names there, where clients look them up. The
// story of starts, crashes, restarts and stops goes to out.
func newTree(env *runtime.Environment, greeter *runtime.Module, out io.Writer) (*tree, error) {
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil)) // out tells the story instead
	t := &tree{
		out:       out,
		up:        make(chan struct{}),
		restarted: make(chan supervisor.Event, 16),
	}
	t.app = supervisor.New("app", supervisor.Options{Strategy: supervisor.OneForOne, Logger: quiet, OnEvent: t.event})
	t.greeters = supervisor.New("greeters", supervisor.Options{Strategy: supervisor.OneForOne, Logger: quiet, OnEvent: t.event})

	register := func(name, version string) func(context.Context, *runtime.Process) error {
		return func(_ context.Context, p *runtime.Process) error {
			if err := env.Register(name, version, p); err != nil {
				return err
			}
			fmt.Fprintf(t.out, "  OnStart: registered %s@%s as pid %d\n", name, version, p.ID())
			return nil
		}
	}
	for _, v := range greeterVersions {
		err := t.greeters.Add(supervisor.ChildSpec{
			Name:    v.child,
			Wasm:    &supervisor.Wasm{Env: env, Module: greeter, Entry: v.entry},
			OnStart: register("greeter", v.version),
			// A greeter keeps no state worth a goodbye: kill it at once.
			Shutdown: supervisor.BrutalKill,
		})
		if err != nil {
			return nil, err
		}
	}
	err := t.app.Add(supervisor.ChildSpec{
		Name: "audit",
		Spawn: func(ctx context.Context, _ []runtime.Value) (*runtime.Process, error) {
			return env.SpawnGo(ctx, "audit", audit)
		},
		OnStart: register("audit", "1.0.0"),
	})
	if err != nil {
		return nil, err
	}
	if err := t.app.Add(supervisor.ChildSpec{Name: "greeters", Service: t.greeters}); err != nil {
		return nil, err
	}
	return t, nil
}

// event tells the story of both supervisors. It runs on the supervisor's
// goroutine, so it only prints and signals.
func (t *tree) event(e supervisor.Event) {
	switch e.Kind {
	case supervisor.EventStarted:
		if e.Supervisor == "greeters" && e.Child == greeterVersions[len(greeterVersions)-1].child {
			t.upOnce.Do(func() { close(t.up) })
		}
	case supervisor.EventExited:
		switch {
		case e.Stopped:
			fmt.Fprintf(t.out, "%s: %s stopped\n", e.Supervisor, e.Child)
		case e.Process != 0:
			fmt.Fprintf(t.out, "%s: %s (pid %d) crashed: %v\n", e.Supervisor, e.Child, e.Process, e.Reason)
		default:
			fmt.Fprintf(t.out, "%s: %s crashed: %v\n", e.Supervisor, e.Child, e.Reason)
		}
	case supervisor.EventRestarted:
		fmt.Fprintf(t.out, "%s: %s restarted as pid %d (restart %d)\n", e.Supervisor, e.Child, e.Process, e.Restarts)
		if e.Supervisor == "greeters" {
			select {
			case t.restarted <- e:
			default: // nobody is waiting for that many
			}
		}
	default: // none of these happen in the story
		fmt.Fprintf(t.out, "%s: %s %s: %v\n", e.Supervisor, e.Child, e.Kind, e.Err)
	}
}

// serving is a run of a supervisor's Serve on a goroutine of its own.
type serving struct {
	cancel context.CancelFunc
	done   chan struct{}
	err    error
}

func serve(ctx context.Context, s *supervisor.Supervisor) *serving {
	ctx, cancel := context.WithCancel(ctx)
	sv := &serving{cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(sv.done)
		sv.err = s.Serve(ctx)
	}()
	return sv
}

// stop cancels Serve's ctx and returns what Serve returned, once it has:
// by then every child of the tree has stopped.
func (sv *serving) stop() error {
	sv.cancel()
	<-sv.done
	return sv.err
}

// wait waits for ch to yield, and fails if Serve returns (the tree gave
// up) or ctx ends first.
func wait[T any](ctx context.Context, sv *serving, ch <-chan T, what string) (T, error) {
	var zero T
	select {
	case v := <-ch:
		return v, nil
	case <-sv.done:
		return zero, fmt.Errorf("waiting for %s: the tree ended: %w", what, sv.err)
	case <-ctx.Done():
		return zero, fmt.Errorf("waiting for %s: %w", what, ctx.Err())
	}
}
