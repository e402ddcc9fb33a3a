package main

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	goruntime "runtime"
	"time"

	"github.com/wardrt/ward/runtime"
)

// This file is the reusable part of the example: Map (local fan-out) and
// Start/Await (async fan-out) over any job function.
//
// A job is an exported function of a Wasm module with the signature
// (input i64, reply_to i64): it computes its result from input, sends it to
// the process reply_to as one message tagged ResultTag whose data is the
// result as an 8-byte little-endian i64, and returns. The module must
// export its memory as "memory" for ward's message functions to reach it.
// Each job runs in its own process, so one that traps, runs out of fuel or
// hangs ends alone.

// ResultTag is the tag of a job's result message.
const ResultTag = 1

var (
	// ErrTimeout is a job's error when it ran longer than Options.Timeout;
	// its process was killed.
	ErrTimeout = errors.New("fanout: job timed out")
	// ErrNoResult is a job's error when it returned without sending a
	// result, or sent one that is not 8 bytes.
	ErrNoResult = errors.New("fanout: job ended without a result")
)

// Result is what became of one job.
type Result struct {
	Input int64
	Value int64 // the job's result; meaningful only when Err is nil
	// Err is nil when the job sent its result and ended normally. Otherwise
	// it is ErrTimeout (wrapped), ErrNoResult, the process's exit reason
	// (a runtime.Reason: *runtime.TrapError, *runtime.FuelError,
	// *runtime.MemoryLimitError, ...), the error that kept it from being
	// spawned, or, for jobs cut short by their batch's context, its error.
	Err error
}

// Options tune a batch of jobs.
type Options struct {
	// Timeout bounds each job, from its spawn; 0 means no bound. A job that
	// times out is killed and reported with ErrTimeout.
	Timeout time.Duration
	// Concurrency bounds the jobs alive at once; 0 means GOMAXPROCS, which
	// suits jobs that compute: ward runs at most that many at a time anyway,
	// and a timeout then measures a job's own run rather than its wait for a
	// turn. Jobs that mostly wait want more.
	Concurrency int
}

// Map runs entry of mod once per input, each in a new process of env, and
// returns the results in the order of inputs. It is the local fan-out:
// it blocks until every job has ended, and a job that fails, times out or
// cannot be spawned fails alone, with its Result's Err. If ctx ends first,
// the jobs still running are killed and report ctx's error.
func Map(ctx context.Context, env *runtime.Environment, mod *runtime.Module, entry string, inputs []int64, opts Options) []Result {
	results, _ := Start(ctx, env, mod, entry, inputs, opts).Await(context.Background())
	return results
}

// Batch is a set of jobs running in the background: the async fan-out.
type Batch struct {
	done    chan struct{}
	results []Result
}

// Start starts the jobs of Map and returns at once; Await gets the
// results. ctx bounds the whole batch: when it ends, the jobs still running
// are killed and report its error.
//
// A Go-native collector process runs the batch: it spawns the jobs (at most
// Options.Concurrency at a time), monitors each, receives the results, and
// kills a job when its timeout message (SendAfter to itself) arrives first.
// A mailbox keeps order, so a job's result always comes before its DOWN.
func Start(ctx context.Context, env *runtime.Environment, mod *runtime.Module, entry string, inputs []int64, opts Options) *Batch {
	b := &Batch{done: make(chan struct{}), results: make([]Result, len(inputs))}
	for i, in := range inputs {
		b.results[i].Input = in
	}
	c := &collector{batch: b, ctx: ctx, env: env, mod: mod, entry: entry, opts: opts}
	if c.opts.Concurrency <= 0 {
		c.opts.Concurrency = goruntime.GOMAXPROCS(0)
	}
	p, err := env.SpawnGo(ctx, "fanout."+entry, c.run)
	if err != nil {
		for i := range b.results {
			b.results[i].Err = err
		}
		close(b.done)
		return b
	}
	stop := context.AfterFunc(ctx, p.Kill)
	go func() {
		<-p.Done()
		stop()
		close(b.done)
	}()
	return b
}

// Done is closed when every job of the batch has ended.
func (b *Batch) Done() <-chan struct{} { return b.done }

// Await waits for every job to end and returns their results in the order
// of the inputs. If ctx ends first it returns ctx's error, and the batch
// runs on: Await may be called again.
func (b *Batch) Await(ctx context.Context) ([]Result, error) {
	select {
	case <-b.done:
		return b.results, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// collector is the state of a batch's collector process. Only that
// process touches it.
type collector struct {
	batch *Batch
	ctx   context.Context // the batch's, for the error of jobs it cuts short
	env   *runtime.Environment
	mod   *runtime.Module
	entry string
	opts  Options

	next    int                        // index of the next input to start
	running map[runtime.ProcessID]*job // by process id
}

// job is one running job.
type job struct {
	index    int
	p        *runtime.Process
	timer    runtime.TimerID
	timedOut bool
	got      bool // a well-formed result arrived
	value    int64
}

func (c *collector) run(ctx context.Context, self *runtime.Self) error {
	c.running = map[runtime.ProcessID]*job{}
	timeoutTag := runtime.UniqueTag()
	defer c.abandon()
	c.fill(ctx, self, timeoutTag)
	for len(c.running) > 0 {
		m, err := self.Receive(ctx, ResultTag, runtime.TagDown, timeoutTag)
		if err != nil {
			return nil // killed: the batch's ctx ended, or the runtime is closing
		}
		switch m.Tag {
		case ResultTag:
			if j := c.running[runtime.ProcessID(m.Sender)]; j != nil && !j.got && len(m.Data) == 8 {
				j.got, j.value = true, int64(binary.LittleEndian.Uint64(m.Data))
			}
		case timeoutTag:
			if j := c.running[runtime.ProcessID(binary.LittleEndian.Uint64(m.Data))]; j != nil {
				j.timedOut = true
				j.p.Kill() // its DOWN follows
			}
		case runtime.TagDown:
			d, ok := runtime.ParseDown(m)
			j := c.running[d.Process]
			if !ok || j == nil {
				continue
			}
			reason := d.Reason
			if reason == runtime.NoProc {
				// It ended before the monitor began; its own reason says how.
				<-j.p.Done()
				reason = j.p.Reason()
			}
			c.finish(self, j, reason)
			c.fill(ctx, self, timeoutTag)
		}
	}
	return nil
}

// fill starts jobs until Concurrency are running or none are left.
func (c *collector) fill(ctx context.Context, self *runtime.Self, timeoutTag int64) {
	for len(c.running) < c.opts.Concurrency && c.next < len(c.batch.results) {
		i := c.next
		c.next++
		r := &c.batch.results[i]
		p, err := c.env.Spawn(ctx, c.mod, c.entry, runtime.I64(r.Input), runtime.I64(int64(self.ID())))
		if err != nil {
			r.Err = err
			continue
		}
		if _, err := self.Monitor(p.ID()); err != nil {
			// Unwatched, its end would never be collected.
			r.Err = err
			p.Kill()
			continue
		}
		j := &job{index: i, p: p}
		c.running[p.ID()] = j
		if c.opts.Timeout > 0 {
			pid := binary.LittleEndian.AppendUint64(nil, uint64(p.ID()))
			if j.timer, err = self.SendAfter(c.opts.Timeout, self.ID(), runtime.Message{Tag: timeoutTag, Data: pid}); err != nil {
				r.Err = err
				p.Kill()
			}
		}
	}
}

// finish records how job j ended.
func (c *collector) finish(self *runtime.Self, j *job, reason runtime.Reason) {
	delete(c.running, j.p.ID())
	if j.timer != 0 {
		self.Runtime().CancelTimer(j.timer)
	}
	r := &c.batch.results[j.index]
	switch {
	case r.Err != nil: // set when the job was started
	case j.timedOut && reason == runtime.Killed:
		r.Err = fmt.Errorf("%w after %v", ErrTimeout, c.opts.Timeout)
	case !reason.Normal():
		r.Err = reason
	case !j.got:
		r.Err = ErrNoResult
	default:
		r.Value = j.value
	}
}

// abandon ends the batch early when the collector is killed: it kills the
// jobs still running, waits for them, and gives them and the jobs never
// started the batch context's error.
func (c *collector) abandon() {
	cause := c.ctx.Err()
	if cause == nil {
		cause = runtime.Killed // the runtime is closing
	}
	for _, j := range c.running {
		j.p.Kill()
	}
	for _, j := range c.running {
		<-j.p.Done()
		if r := &c.batch.results[j.index]; r.Err == nil {
			r.Err = cause
		}
	}
	for ; c.next < len(c.batch.results); c.next++ {
		c.batch.results[c.next].Err = cause
	}
}
