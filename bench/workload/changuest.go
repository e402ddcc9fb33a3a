package workload

import (
	"errors"
	"time"
)

// The naive wasmtime-go and wazero peers run the same guest module, whose
// host functions block on the naiveProc's Go channels. Only how they call
// an entry differs, so the timed workloads live here once.

// guestRun runs one process of the guest module from start to end: entry
// called with args, with p (when not nil) as the process its host
// functions see.
type guestRun func(p *naiveProc, entry string, args ...int64) error

// timeHostLoop times n host calls, minus an empty run of the same loop.
func timeHostLoop(run guestRun, n int) (time.Duration, error) {
	t0 := time.Now()
	if err := run(nil, "host_loop", 0); err != nil {
		return 0, err
	}
	empty := time.Since(t0)
	t1 := time.Now()
	if err := run(nil, "host_loop", int64(n)); err != nil {
		return 0, err
	}
	return max(time.Since(t1)-empty, 0), nil
}

// timePingPong times n round trips between a ping and a pong process.
func timePingPong(run guestRun, n int) (time.Duration, error) {
	a, b := make(chan int64, 1), make(chan int64, 1)
	ping := &naiveProc{in: a, peer: b}
	pong := &naiveProc{in: b, peer: a}
	pongDone := make(chan error, 1)
	go func() { pongDone <- run(pong, "pong") }()
	start := time.Now()
	err := OnGoroutine(func() error { return run(ping, "ping", int64(n)) })
	d := time.Since(start)
	if err != nil {
		return 0, err // pong may wait for ever on a ping that failed
	}
	if err := <-pongDone; err != nil {
		return 0, err
	}
	return d, nil
}

// timeOneToOne times n messages from a sender to a receiver through a
// buffered channel (1024) that stands in for a mailbox.
func timeOneToOne(run guestRun, n int) (time.Duration, error) {
	ch := make(chan int64, 1024)
	start := time.Now()
	recvDone := make(chan error, 1)
	go func() { recvDone <- run(&naiveProc{in: ch}, "receiver", int64(n)) }()
	sendDone := make(chan error, 1)
	go func() { sendDone <- run(&naiveProc{peer: ch}, "sender", int64(n)) }()
	err := <-recvDone
	d := time.Since(start)
	if err := errors.Join(err, <-sendDone); err != nil {
		return 0, err
	}
	return d, nil
}
