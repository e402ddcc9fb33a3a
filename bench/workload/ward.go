package workload

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/wardrt/ward/runtime"
)

// ErrNoMessaging is returned by the messaging workloads of a ward build
// without the ward_message namespace.
var ErrNoMessaging = errors.New("ward messaging not available in this build")

// Ward runs the workloads on ward: one runtime, the root environment, the
// guests compiled once.
type Ward struct {
	rt      *runtime.Runtime
	env     *runtime.Environment
	trivial *runtime.Module
	guest   *runtime.Module
	handler *runtime.Module
	msg     *runtime.Module
	// MsgErr says why msg is nil: the build has no ward_message namespace.
	MsgErr error
}

// NewWard creates a runtime with its defaults and a silent logger, and
// loads the guests.
func NewWard(opts ...runtime.Option) (*Ward, error) {
	ctx := context.Background()
	opts = append([]runtime.Option{runtime.WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil)))}, opts...)
	rt, err := runtime.New(opts...)
	if err != nil {
		return nil, err
	}
	w := &Ward{rt: rt, env: rt.Environment()}
	for _, m := range []struct {
		dst  **runtime.Module
		name string
		wat  string
	}{
		{&w.trivial, "trivial", TrivialWAT},
		{&w.guest, "guest", WardWAT},
		{&w.handler, "handler", HandlerWAT},
	} {
		if *m.dst, err = rt.LoadModule(ctx, m.name, []byte(m.wat)); err != nil {
			rt.Close(ctx)
			return nil, err
		}
	}
	if w.msg, err = rt.LoadModule(ctx, "messaging", []byte(WardMsgWAT)); err != nil {
		w.msg, w.MsgErr = nil, fmt.Errorf("%w: %v", ErrNoMessaging, err)
	}
	return w, nil
}

// Close closes the runtime.
func (w *Ward) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	return w.rt.Close(ctx)
}

// Runtime returns the runtime.
func (w *Ward) Runtime() *runtime.Runtime { return w.rt }

func normal(r runtime.Reason, err error) error {
	if err != nil {
		return err
	}
	if r != runtime.Normal {
		return fmt.Errorf("process ended %v", r)
	}
	return nil
}

// SpawnWait spawns a trivial process and waits for its exit.
func (w *Ward) SpawnWait() error {
	ctx := context.Background()
	p, err := w.env.Spawn(ctx, w.trivial, "run")
	if err != nil {
		return err
	}
	return normal(p.Wait(ctx))
}

// Run runs a trivial process on the calling goroutine (Environment.Run).
func (w *Ward) Run() error {
	return normal(w.env.Run(context.Background(), w.trivial, "run"))
}

// Handle runs the per-request handler in a fresh process on the calling
// goroutine.
func (w *Ward) Handle() error {
	return normal(w.env.Run(context.Background(), w.handler, "handle", runtime.I64(HandlerN)))
}

// hostLoop times entry(n) minus entry(0), both through Environment.Run, so
// the spawn cost cancels out and what is left is n host calls.
func (w *Ward) hostLoop(entry string, n int) (time.Duration, error) {
	ctx := context.Background()
	t0 := time.Now()
	if err := normal(w.env.Run(ctx, w.guest, entry, runtime.I64(0))); err != nil {
		return 0, err
	}
	empty := time.Since(t0)
	t1 := time.Now()
	if err := normal(w.env.Run(ctx, w.guest, entry, runtime.I64(int64(n)))); err != nil {
		return 0, err
	}
	return max(time.Since(t1)-empty, 0), nil
}

// HostCallC times n calls of ward_process.self, a plain C host function.
func (w *Ward) HostCallC(n int) (time.Duration, error) { return w.hostLoop("self_loop", n) }

// HostCallGo times n calls of ward_process.sleep_ms(0), a Go host call:
// the guest suspends, the process goroutine serves the call, the guest
// resumes.
func (w *Ward) HostCallGo(n int) (time.Duration, error) { return w.hostLoop("sleep0_loop", n) }

// PingPong times n round trips between two processes: ping sends to pong
// and waits for its answer with send_receive.
func (w *Ward) PingPong(n int) (time.Duration, error) {
	if w.msg == nil {
		return 0, w.MsgErr
	}
	return pingPong(context.Background(), w.env, w.msg, w.env, w.msg, n)
}

// OneToOne times n messages from one process to another, until the
// receiver has taken them all.
func (w *Ward) OneToOne(n int) (time.Duration, error) {
	if w.msg == nil {
		return 0, w.MsgErr
	}
	return oneToOne(context.Background(), w.env, w.msg, w.env, w.msg, n)
}

// pingPong times n round trips of the messaging guest (WardMsgWAT) from a
// ping in pingEnv to a pong in pongEnv, each running the guest as loaded
// in its environment's runtime: one runtime, or two nodes of a cluster.
func pingPong(ctx context.Context, pingEnv *runtime.Environment, pingMod *runtime.Module, pongEnv *runtime.Environment, pongMod *runtime.Module, n int) (time.Duration, error) {
	pong, err := pongEnv.Spawn(ctx, pongMod, "pong")
	if err != nil {
		return 0, err
	}
	start := time.Now()
	ping, err := pingEnv.Spawn(ctx, pingMod, "ping", runtime.I64(int64(pong.ID())), runtime.I64(int64(n)))
	if err != nil {
		pong.Kill()
		return 0, err
	}
	err = normal(ping.Wait(ctx))
	d := time.Since(start)
	if err != nil {
		pong.Kill()
		return 0, fmt.Errorf("ping: %w", err)
	}
	if err := normal(pong.Wait(ctx)); err != nil {
		return 0, fmt.Errorf("pong: %w", err)
	}
	return d, nil
}

// oneToOne times n messages of the messaging guest from a sender in
// sendEnv to a receiver in recvEnv, until the receiver has taken them all.
func oneToOne(ctx context.Context, sendEnv *runtime.Environment, sendMod *runtime.Module, recvEnv *runtime.Environment, recvMod *runtime.Module, n int) (time.Duration, error) {
	start := time.Now()
	recv, err := recvEnv.Spawn(ctx, recvMod, "receiver", runtime.I64(int64(n)))
	if err != nil {
		return 0, err
	}
	send, err := sendEnv.Spawn(ctx, sendMod, "sender", runtime.I64(int64(recv.ID())), runtime.I64(int64(n)))
	if err != nil {
		recv.Kill()
		return 0, err
	}
	err = normal(recv.Wait(ctx))
	d := time.Since(start)
	if err != nil {
		recv.Kill()
		send.Kill()
		return 0, fmt.Errorf("receiver: %w", err)
	}
	if err := normal(send.Wait(ctx)); err != nil {
		return 0, fmt.Errorf("sender: %w", err)
	}
	return d, nil
}

// Park spawns n processes that park in sleep_ms and returns once all of
// them are parked (hold a fiber stack in a host call).
func (w *Ward) Park(n int) error {
	ctx := context.Background()
	procs := make([]*runtime.Process, 0, n)
	for range n {
		p, err := w.env.Spawn(ctx, w.guest, "sleep_forever")
		if err != nil {
			return err
		}
		procs = append(procs, p)
	}
	deadline := time.Now().Add(5 * time.Minute)
	for {
		st := w.rt.Stats()
		if st.StacksInUse >= n {
			return nil
		}
		if st.Processes < n {
			for _, p := range procs {
				if r := p.Reason(); r != nil {
					return fmt.Errorf("a parked process ended: %v", r)
				}
			}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("only %d of %d processes parked after 5 minutes", st.StacksInUse, n)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
