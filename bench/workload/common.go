package workload

import (
	"fmt"
	goruntime "runtime"
	"sync"
	"time"
)

// Seq times n sequential calls of one.
func Seq(n int, one func() error) (time.Duration, error) {
	start := time.Now()
	for i := range n {
		if err := one(); err != nil {
			return 0, fmt.Errorf("op %d of %d: %w", i, n, err)
		}
	}
	return time.Since(start), nil
}

// Par times n calls of one spread over workers goroutines (GOMAXPROCS
// when workers <= 0), each making its share one after another.
func Par(n, workers int, one func() error) (time.Duration, error) {
	if workers <= 0 {
		workers = goruntime.GOMAXPROCS(0)
	}
	workers = min(workers, n)
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	start := time.Now()
	for w := range workers {
		share := n / workers
		if w < n%workers {
			share++
		}
		wg.Go(func() {
			for range share {
				if err := one(); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	d := time.Since(start)
	select {
	case err := <-errs:
		return 0, err
	default:
	}
	return d, nil
}

// OnGoroutine runs f on a new goroutine and waits for it: the "process"
// shape of peers that have no processes of their own.
func OnGoroutine(f func() error) error {
	done := make(chan error, 1)
	go func() { done <- f() }()
	return <-done
}

// Timed converts a duration of n operations into a row's unit.
type Timed struct {
	// Run runs n operations and returns how long they took.
	Run func(n int) (time.Duration, error)
	// Unit converts (d, n) to the figure reported.
	Unit func(d time.Duration, n int) float64
	// MinN and MaxN bound the calibrated n.
	MinN, MaxN int
}

// Units for Timed.
var (
	MillisPerOp = msPer
	MicrosPerOp = usPer
	NanosPerOp  = nsPer
	OpsPerSec   = perSec
)
