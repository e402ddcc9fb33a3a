package runtime

import (
	"context"
	"errors"
	goruntime "runtime"
	"testing"

	"github.com/wardrt/ward/mailbox"
)

func benchMessages(b *testing.B) (*Runtime, *Module) {
	r := newBenchRuntime(b)
	m, err := r.LoadModule(context.Background(), "messages", []byte(messagesWAT))
	if err != nil {
		b.Fatal(err)
	}
	return r, m
}

func benchSpawn(b *testing.B, env *Environment, m *Module, entry string, params ...Value) *Process {
	p, err := env.Spawn(context.Background(), m, entry, params...)
	if err != nil {
		b.Fatal(err)
	}
	return p
}

// BenchmarkPingPong: one op is a round trip between two Wasm processes
// (send_receive on one side, receive + send on the other, 8 bytes).
// wardbench's ping-pong row, against BEAM's in the same run, is the figure
// that counts (docs/benchmarks.md).
func BenchmarkPingPong(b *testing.B) {
	r, m := benchMessages(b)
	env := r.Environment()
	echo := benchSpawn(b, env, m, "echo")
	defer echo.Kill()
	b.ResetTimer()
	ping := benchSpawn(b, env, m, "ping", I64(int64(echo.ID())), I64(int64(b.N)))
	if reason, _ := ping.Wait(context.Background()); reason != Normal {
		b.Fatal(reason)
	}
	b.ReportMetric(float64(r.sentInC.Load())/float64(b.N), "sentInC/op")
}

// BenchmarkThroughputWasmToWasm: one op is one 8-byte message from one
// Wasm process to another, sender and receiver running concurrently.
func BenchmarkThroughputWasmToWasm(b *testing.B) {
	r, m := benchMessages(b)
	env := r.Environment()
	ctx := context.Background()
	b.ResetTimer()
	for left := b.N; left > 0; {
		// Batches below the mailbox limit, so the sender never meets a
		// full mailbox whatever the relative speeds.
		n := min(left, mailbox.DefaultMaxMessages/2)
		sink := benchSpawn(b, env, m, "sink", I64(0), I64(int64(n)))
		blast := benchSpawn(b, env, m, "blast", I64(int64(sink.ID())), I64(int64(n)))
		if reason, _ := blast.Wait(ctx); reason != Normal {
			b.Fatal("blast:", reason)
		}
		if reason, _ := sink.Wait(ctx); reason != Normal {
			b.Fatal("sink:", reason)
		}
		left -= n
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
	b.ReportMetric(float64(r.sentInC.Load())/float64(b.N), "sentInC/op")
}

// BenchmarkThroughputGoToWasm: one op is one 8-byte message sent with
// Process.Send and received by a Wasm process: the Go-to-guest delivery
// cost per message.
func BenchmarkThroughputGoToWasm(b *testing.B) {
	r, m := benchMessages(b)
	env := r.Environment()
	ctx := context.Background()
	sink := benchSpawn(b, env, m, "sink", I64(0), I64(int64(b.N)))
	msg := Message{Tag: 2, Data: make([]byte, 8)}
	b.ResetTimer()
	for range b.N {
		for {
			err := sink.Send(ctx, msg)
			if err == nil {
				break
			}
			if !errors.Is(err, mailbox.ErrFull) {
				b.Fatal(err)
			}
			goruntime.Gosched()
		}
	}
	if reason, _ := sink.Wait(ctx); reason != Normal {
		b.Fatal(reason)
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
}

// BenchmarkRequestFromGo: one op is Runtime.Request to a Wasm echo, the
// way Go code calls into a plugin process.
func BenchmarkRequestFromGo(b *testing.B) {
	r, m := benchMessages(b)
	echo := benchSpawn(b, r.Environment(), m, "echo")
	defer echo.Kill()
	ctx := context.Background()
	msg := Message{Data: make([]byte, 8)}
	b.ResetTimer()
	for range b.N {
		if _, err := r.Request(ctx, echo.ID(), msg); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkRequestFromGoProcess: one op is Self.Request from a Go-native
// process to a Wasm echo.
func BenchmarkRequestFromGoProcess(b *testing.B) {
	r, m := benchMessages(b)
	env := r.Environment()
	echo := benchSpawn(b, env, m, "echo")
	defer echo.Kill()
	benchGoRequests(b, env, echo.ID())
}

// BenchmarkRequestChain: one op is a request from a Go process through
// three Wasm relays (each a send_receive) to a Wasm echo and back.
func BenchmarkRequestChain(b *testing.B) {
	r, msgs := benchMessages(b)
	env := r.Environment()
	ctx := context.Background()
	m, err := r.LoadModule(ctx, "handoff", []byte(handoffWAT))
	if err != nil {
		b.Fatal(err)
	}
	next := benchSpawn(b, env, msgs, "echo")
	defer next.Kill()
	for range 3 {
		next = benchSpawn(b, env, m, "relay", I64(int64(next.ID())))
		defer next.Kill()
	}
	head := next.ID()
	benchGoRequests(b, env, head)
}

// benchGoRequests times b.N Self.Requests to the process to from one Go
// process.
func benchGoRequests(b *testing.B, env *Environment, to ProcessID) {
	ctx := context.Background()
	msg := Message{Data: make([]byte, 8)}
	b.ResetTimer()
	p, err := env.SpawnGo(ctx, "requester", func(ctx context.Context, self *Self) error {
		for range b.N {
			if _, err := self.Request(ctx, to, msg); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
	if reason, _ := p.Wait(ctx); reason != Normal {
		b.Fatal(reason)
	}
}
