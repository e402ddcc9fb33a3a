package cluster

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/fxamacker/cbor/v2"

	"github.com/wardrt/ward/environment"
	"github.com/wardrt/ward/guest"
	"github.com/wardrt/ward/runtime"
)

// jobWAT is a job: echo replies to its input with the input, unless the
// input starts with 'x', when it traps instead; hang never replies.
const jobWAT = `(module
  (import "ward_message" "receive" (func $receive (param i32 i32 i64) (result i32)))
  (import "ward_message" "read_data" (func $read (param i32 i32) (result i32)))
  (import "ward_message" "create_data" (func $create (param i64)))
  (import "ward_message" "write_data" (func $write (param i32 i32) (result i32)))
  (import "ward_message" "get_tag" (func $tag (result i64)))
  (import "ward_message" "sender" (func $sender (result i64)))
  (import "ward_message" "send" (func $send (param i64) (result i32)))
  (memory (export "memory") 1)
  (func (export "echo") (local $n i32)
    (drop (call $receive (i32.const 0) (i32.const 0) (i64.const -1)))
    (local.set $n (call $read (i32.const 0) (i32.const 65536)))
    (if (i32.eq (i32.load8_u (i32.const 0)) (i32.const 120)) (then unreachable))
    (call $create (call $tag))
    (drop (call $write (i32.const 0) (local.get $n)))
    (drop (call $send (call $sender))))
  (func (export "hang")
    (drop (call $receive (i32.const 0) (i32.const 0) (i64.const -1)))
    (drop (call $receive (i32.const 0) (i32.const 0) (i64.const -1)))))`

// Run, from Go, here, on a chosen node and on any: the job's reply is the
// result, and a job that fails before replying fails Run with its reason.
func TestRunJobs(t *testing.T) {
	ctx := testContext(t)
	sc := startSpawnCluster(t, 3)
	a := sc.nodes[0]
	m, err := a.Publish(ctx, "job", []byte(jobWAT))
	if err != nil {
		t.Fatal(err)
	}
	for _, where := range []Placement{Local, OnNode(sc.nodes[2].ID()), Any, Any, Any} {
		out, err := a.Run(ctx, where, m.Hash(), "echo", []byte("hello"))
		if err != nil {
			t.Fatalf("Run on %d: %v", where, err)
		}
		if string(out) != "hello" {
			t.Errorf("Run on %d: %q, want hello", where, out)
		}
	}
	for _, where := range []Placement{Local, OnNode(sc.nodes[1].ID())} {
		_, err := a.Run(ctx, where, m.Hash(), "echo", []byte("xx"))
		if !errors.Is(err, runtime.ErrNoProcess) || !strings.Contains(err.Error(), "unreachable") {
			t.Errorf("failing job on %d: %v, want its trap", where, err)
		}
		var reason runtime.Reason
		if !errors.As(err, &reason) || reason.Normal() {
			t.Errorf("failing job on %d: no abnormal reason in %v", where, err)
		}
	}
	if _, err := a.Run(ctx, Any+1, m.Hash(), "echo", nil); !errors.Is(err, ErrPlacement) {
		t.Errorf("bad placement: %v, want ErrPlacement", err)
	}
	// Go's handle gives the same result.
	j := a.Go(ctx, OnNode(sc.nodes[1].ID()), m.Hash(), "echo", []byte("async"))
	if out, err := j.Wait(ctx); err != nil || string(out) != "async" {
		t.Errorf("Go: %q, %v", out, err)
	}
	// A Run whose ctx ends kills its job.
	settle := func(what string) {
		for sc.nodes[1].cfg.Grants[JobGrant].NumProcesses() != 0 {
			select {
			case <-ctx.Done():
				t.Fatal(what)
			case <-time.After(time.Millisecond):
			}
		}
	}
	settle("the jobs that ended live on")
	short, cancel := context.WithCancel(ctx)
	j = a.Go(short, OnNode(sc.nodes[1].ID()), m.Hash(), "hang", nil)
	for sc.nodes[1].cfg.Grants[JobGrant].NumProcesses() == 0 {
		select {
		case <-j.Done():
			_, err := j.Wait(ctx)
			t.Fatalf("the job ended before it was cancelled: %v", err)
		case <-time.After(time.Millisecond):
		}
	}
	cancel()
	if _, err := j.Wait(ctx); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled job: %v, want context.Canceled", err)
	}
	settle("the cancelled job lives on")
}

// FanOut spreads jobs over the nodes in turn and returns each job's own
// outcome in the order of the inputs, failures included.
func TestFanOut(t *testing.T) {
	ctx := testContext(t)
	sc := startSpawnCluster(t, 3)
	a := sc.nodes[0]
	m, err := a.Publish(ctx, "job", []byte(jobWAT))
	if err != nil {
		t.Fatal(err)
	}
	var inputs [][]byte
	for i := range 9 {
		in := fmt.Appendf(nil, "in%d", i)
		if i == 4 {
			in = []byte("x4")
		}
		inputs = append(inputs, in)
	}
	res := a.FanOut(ctx, m.Hash(), "echo", inputs, FanOutOptions{MaxConcurrent: 4})
	if len(res) != len(inputs) {
		t.Fatalf("%d results for %d inputs", len(res), len(inputs))
	}
	on := map[uint16]int{}
	for i, r := range res {
		on[r.Node]++
		if i == 4 {
			if r.Err == nil || !errors.Is(r.Err, runtime.ErrNoProcess) {
				t.Errorf("job 4: %q, %v, want its failure", r.Out, r.Err)
			}
			continue
		}
		if r.Err != nil || !bytes.Equal(r.Out, inputs[i]) {
			t.Errorf("job %d on node %d: %q, %v, want %q", i, r.Node, r.Out, r.Err, inputs[i])
		}
	}
	for _, nd := range sc.nodes {
		if on[nd.ID()] != 3 {
			t.Errorf("node %d ran %d jobs, want 3: %v", nd.ID(), on[nd.ID()], on)
		}
	}
}

// The job server runs jobs for the local processes that ask it, on
// behalf of their environment: a result or a failure comes back in the
// reply, and an environment that may not spawn is refused.
func TestJobServer(t *testing.T) {
	ctx := testContext(t)
	sc := startSpawnCluster(t, 2)
	a := sc.nodes[0]
	m, err := a.Publish(ctx, "job", []byte(jobWAT))
	if err != nil {
		t.Fatal(err)
	}
	env := child(t, sc.rts[0].Environment())
	denied, err := sc.rts[0].Environment().NewChild(environment.Config{Permissions: environment.Permissions{Spawn: environment.Deny}})
	if err != nil {
		t.Fatal(err)
	}
	if err := a.ServeJobs(ctx, env, denied); err != nil {
		t.Fatal(err)
	}
	if err := a.ServeJobs(ctx, env); err != nil {
		t.Fatalf("serving again: %v", err)
	}
	ask := func(env *runtime.Environment, req jobRequest) jobReply {
		t.Helper()
		srv, _, err := env.Lookup(JobServer, "^1")
		if err != nil {
			t.Fatal(err)
		}
		var rep jobReply
		p, err := env.SpawnGo(ctx, "asker", func(ctx context.Context, self *runtime.Self) error {
			b, err := cbor.Marshal(req)
			if err != nil {
				return err
			}
			reply, err := self.Request(ctx, srv.ID(), runtime.Message{Data: b})
			if err != nil {
				return err
			}
			return cbor.Unmarshal(reply.Data, &rep)
		})
		if err != nil {
			t.Fatal(err)
		}
		if r, err := p.Wait(ctx); err != nil || !r.Normal() {
			t.Fatalf("asker: %v %v", r, err)
		}
		return rep
	}
	rep := ask(env, jobRequest{Where: uint32(sc.nodes[1].ID()), Hash: m.Hash(), Entry: "echo", In: []byte("hi")})
	if rep.Err != "" || string(rep.Out) != "hi" {
		t.Errorf("job through the server: %+v", rep)
	}
	rep = ask(env, jobRequest{Where: uint32(Any), Hash: m.Hash(), Entry: "echo", In: []byte("xx")})
	if !strings.Contains(rep.Err, "unreachable") {
		t.Errorf("failing job through the server: %+v", rep)
	}
	rep = ask(denied, jobRequest{Hash: m.Hash(), Entry: "echo", In: []byte("hi")})
	if !strings.Contains(rep.Err, "may not spawn") {
		t.Errorf("from an environment that may not spawn: %+v", rep)
	}
}

// The guest SDK's side of jobs names the same server and placements as
// this package.
func TestGuestSDKAgreesOnJobs(t *testing.T) {
	if guest.JobServer != JobServer || guest.JobAny != uint32(Any) || guest.JobLocal != uint32(Local) || guest.JobOn(7) != uint32(OnNode(7)) {
		t.Errorf("guest: %q %d %d %d; cluster: %q %d %d %d", guest.JobServer, guest.JobAny, guest.JobLocal, guest.JobOn(7),
			JobServer, Any, Local, OnNode(7))
	}
}

// BenchmarkRun measures a job's round trip: spawn (module already
// there), input, reply, on this node and on another.
func BenchmarkRun(b *testing.B) {
	for _, remote := range []bool{false, true} {
		name := map[bool]string{false: "local", true: "remote"}[remote]
		b.Run(name, func(b *testing.B) {
			sc := startSpawnCluster(b, 2)
			ctx := testContext(b)
			a := sc.nodes[0]
			m, err := a.Publish(ctx, "job", []byte(jobWAT))
			if err != nil {
				b.Fatal(err)
			}
			where := Local
			if remote {
				where = OnNode(sc.nodes[1].ID())
			}
			if _, err := a.Run(ctx, where, m.Hash(), "echo", []byte("warm")); err != nil {
				b.Fatal(err)
			}
			b.ResetTimer()
			for range b.N {
				if _, err := a.Run(ctx, where, m.Hash(), "echo", []byte("hi")); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// Any and FanOut place jobs only on the nodes that are up: after a node
// leaves, every job still runs, on the others.
func TestJobsSkipNodesThatLeft(t *testing.T) {
	ctx := testContext(t)
	sc := startSpawnCluster(t, 3)
	a, gone := sc.nodes[0], sc.nodes[2]
	m, err := a.Publish(ctx, "job", []byte(jobWAT))
	if err != nil {
		t.Fatal(err)
	}
	if err := gone.Leave(ctx); err != nil {
		t.Fatal(err)
	}
	for isUp(a, gone.ID()) {
		select {
		case <-ctx.Done():
			t.Fatal("the node that left is still up")
		case <-time.After(time.Millisecond):
		}
	}
	inputs := [][]byte{[]byte("a"), []byte("b"), []byte("c"), []byte("d")}
	for i, r := range a.FanOut(ctx, m.Hash(), "echo", inputs, FanOutOptions{}) {
		if r.Err != nil || r.Node == gone.ID() || !bytes.Equal(r.Out, inputs[i]) {
			t.Errorf("job %d on node %d: %q, %v", i, r.Node, r.Out, r.Err)
		}
	}
	for range 4 {
		if _, err := a.Run(ctx, Any, m.Hash(), "echo", []byte("any")); err != nil {
			t.Errorf("Any after a node left: %v", err)
		}
	}
}
