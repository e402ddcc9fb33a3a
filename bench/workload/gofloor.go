package workload

import (
	"sync"
	"sync/atomic"
	"time"
)

// The floor: plain goroutines and channels, no isolation at all.

// GoSpawnWait starts a goroutine and waits for it to finish.
func GoSpawnWait() error {
	done := make(chan struct{})
	go func() { close(done) }()
	<-done
	return nil
}

// GoHandle is the per-request handler in plain Go.
func GoHandle() error {
	goSink.Store(HandlerWork(HandlerN))
	return nil
}

var goSink atomic.Int64

// GoPingPong times n round trips over two unbuffered channels.
func GoPingPong(n int) (time.Duration, error) {
	ping, pong := make(chan int64), make(chan int64)
	go func() {
		for v := range ping {
			pong <- v
		}
	}()
	start := time.Now()
	for i := range n {
		ping <- int64(i)
		<-pong
	}
	d := time.Since(start)
	close(ping)
	return d, nil
}

// GoOneToOne times n messages from one goroutine to another through a
// channel of capacity 1024 (the closest thing to a mailbox).
func GoOneToOne(n int) (time.Duration, error) {
	ch := make(chan int64, 1024)
	done := make(chan struct{})
	start := time.Now()
	go func() {
		for range n {
			<-ch
		}
		close(done)
	}()
	go func() {
		for i := range n {
			ch <- int64(i)
		}
	}()
	<-done
	return time.Since(start), nil
}

// goParked keeps the parked goroutines' channel reachable.
var goParked struct {
	mu   sync.Mutex
	stop []chan struct{}
}

// GoPark starts n goroutines blocked on a channel receive and returns
// once all of them have started.
func GoPark(n int) error {
	stop := make(chan struct{})
	goParked.mu.Lock()
	goParked.stop = append(goParked.stop, stop)
	goParked.mu.Unlock()
	var started sync.WaitGroup
	started.Add(n)
	for range n {
		go func() {
			started.Done()
			<-stop
		}()
	}
	started.Wait()
	return nil
}
