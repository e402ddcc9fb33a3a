package supervisor_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"

	"github.com/wardrt/ward/runtime"
	"github.com/wardrt/ward/supervisor"
	"github.com/wardrt/ward/testdata"
)

var discard = slog.New(slog.NewTextHandler(io.Discard, nil))

// A Go service that fails twice is restarted twice; cancelling the context
// stops it, and Serve returns.
func Example() {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	calls := 0
	flaky := supervisor.ServiceFunc(func(ctx context.Context) error {
		calls++
		if calls <= 2 {
			return fmt.Errorf("attempt %d failed", calls)
		}
		<-ctx.Done()
		return nil
	})

	sup := supervisor.New("app", supervisor.Options{
		Logger: discard,
		OnEvent: func(e supervisor.Event) {
			switch e.Kind {
			case supervisor.EventExited:
				fmt.Printf("%s %s: %v (stopped: %v)\n", e.Child, e.Kind, e.Reason, e.Stopped)
			default:
				fmt.Println(e.Child, e.Kind)
			}
			if e.Kind == supervisor.EventRestarted && e.Restarts == 2 {
				cancel() // enough
			}
		},
	})
	_ = sup.Add(supervisor.ChildSpec{Name: "flaky", Service: flaky})
	err := sup.Serve(ctx)
	fmt.Println("Serve:", err)
	// Output:
	// flaky started
	// flaky exited: service flaky failed: attempt 1 failed (stopped: false)
	// flaky restarted
	// flaky exited: service flaky failed: attempt 2 failed (stopped: false)
	// flaky restarted
	// flaky exited: normal (stopped: true)
	// Serve: context canceled
}

// A Wasm child that traps every time it starts: after Intensity restarts
// the supervisor gives up, and its error leads to the trap.
func Example_intensity() {
	ctx := context.Background()
	rt, _ := runtime.New(runtime.WithLogger(discard))
	defer rt.Close(ctx)
	traps, _ := rt.LoadModule(ctx, "traps", testdata.Traps)

	sup := supervisor.New("plugins", supervisor.Options{
		Intensity: 2,
		Backoff:   supervisor.NoBackoff,
		Logger:    discard,
	})
	_ = sup.Add(supervisor.ChildSpec{
		Name: "crasher",
		Wasm: &supervisor.Wasm{Env: rt.Environment(), Module: traps, Entry: "unreachable"},
	})
	err := sup.Serve(ctx)

	var ie *supervisor.IntensityError
	var trap *runtime.TrapError
	if errors.As(err, &ie) && errors.As(err, &trap) {
		fmt.Printf("%s gave up on %s after %d restarts: %v\n", ie.Supervisor, ie.Child, ie.Intensity, trap.Code)
	}
	fmt.Println(errors.Is(err, supervisor.ErrIntensity))
	// Output:
	// plugins gave up on crasher after 2 restarts: unreachable
	// true
}

// A supervisor run as a process answers requests from other processes.
// Here a Go-native process starts two dynamic children of a
// simple_one_for_one pool, each sleeping for the milliseconds it is given,
// and lists them.
func ExampleSupervisor_SpawnProcess() {
	ctx := context.Background()
	rt, _ := runtime.New(runtime.WithLogger(discard))
	defer rt.Close(ctx)
	procs, _ := rt.LoadModule(ctx, "procs", testdata.Procs)

	pool := supervisor.New("pool", supervisor.Options{Strategy: supervisor.SimpleOneForOne, Logger: discard})
	_ = pool.Add(supervisor.ChildSpec{
		Name:    "sleeper",
		Wasm:    &supervisor.Wasm{Env: rt.Environment(), Module: procs, Entry: "sleep"},
		Restart: supervisor.Transient,
	})
	sp, _ := pool.SpawnProcess(ctx, rt.Environment())

	client, _ := rt.Environment().SpawnGo(ctx, "client", func(ctx context.Context, self *runtime.Self) error {
		for range 2 {
			req := supervisor.Request{Op: "start_child", Args: []supervisor.Arg{supervisor.ArgI64(60_000)}}
			if _, err := supervisor.Call(ctx, self, sp.ID(), req); err != nil {
				return err
			}
		}
		resp, err := supervisor.Call(ctx, self, sp.ID(), supervisor.Request{Op: "which_children"})
		if err != nil {
			return err
		}
		for _, c := range resp.Children {
			fmt.Println(c.Name, c.State, c.Restart)
		}
		_, err = supervisor.Call(ctx, self, sp.ID(), supervisor.Request{Op: "terminate_child", Name: "nobody"})
		fmt.Println(errors.Is(err, supervisor.ErrNoChild))
		return nil
	})
	reason, _ := client.Wait(ctx)
	fmt.Println("client:", reason)
	// Output:
	// sleeper-1 running transient
	// sleeper-2 running transient
	// true
	// client: normal
}

// OnStart runs after every start and restart with the new process: the
// place to register a child's name again, since a restarted process has a
// new id. A map stands in for the registry here.
func ExampleChildSpec_onStart() {
	ctx := context.Background()
	rt, _ := runtime.New(runtime.WithLogger(discard))
	defer rt.Close(ctx)
	procs, _ := rt.LoadModule(ctx, "procs", testdata.Procs)

	var mu sync.Mutex
	names := map[string]runtime.ProcessID{}
	started, restarted := make(chan struct{}), make(chan struct{})
	sup := supervisor.New("app", supervisor.Options{
		Logger: discard,
		OnEvent: func(e supervisor.Event) {
			switch e.Kind {
			case supervisor.EventStarted:
				close(started)
			case supervisor.EventRestarted:
				close(restarted)
			}
		},
	})
	_ = sup.Add(supervisor.ChildSpec{
		Name: "db",
		Wasm: &supervisor.Wasm{Env: rt.Environment(), Module: procs, Entry: "sleep_forever"},
		OnStart: func(ctx context.Context, p *runtime.Process) error {
			mu.Lock()
			defer mu.Unlock()
			names["db"] = p.ID()
			return nil
		},
	})
	p, _ := sup.SpawnProcess(ctx, rt.Environment())
	defer p.Kill()

	<-started
	first := sup.WhichChildren()[0].Process
	first.Kill() // a crash, as far as the supervisor knows
	<-restarted

	mu.Lock()
	defer mu.Unlock()
	now := sup.WhichChildren()[0].Process
	fmt.Println(names["db"] == now.ID(), names["db"] != first.ID())
	// Output: true true
}
