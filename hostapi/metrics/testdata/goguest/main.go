//go:build wasip1

// Command goguest uses the Go guest SDK's metrics, for
// TestGoGuestSDK: its export run records on one instrument of each kind
// and exits with 10 + the step that failed.
package main

import (
	"errors"
	"math"

	"github.com/wardrt/ward/guest"
)

func main() {}

func check(step int32, err error) {
	if err != nil {
		guest.Exit(10 + step)
	}
}

//go:wasmexport run
func run() {
	jobs, err := guest.NewCounter("sdk.jobs")
	check(1, err)
	fast, err := guest.NewLabels("queue", "fast")
	check(2, err)
	check(3, jobs.Add(2, fast))
	check(4, jobs.Add(1))
	queue, err := guest.NewUpDownCounter("sdk.queue")
	check(5, err)
	check(6, queue.Add(-3))
	temp, err := guest.NewGauge("sdk.temp")
	check(7, err)
	check(8, temp.Set(21, fast))
	lat, err := guest.NewHistogram("sdk.latency")
	check(9, err)
	check(10, lat.Record(5))
	if err := jobs.Add(-1); !errors.Is(err, guest.ErrInvalid) {
		guest.Exit(30)
	}
	if _, err := guest.NewCounter("other.jobs"); !errors.Is(err, guest.ErrPermission) {
		guest.Exit(31)
	}
	if _, err := guest.NewLabels("odd"); !errors.Is(err, guest.ErrInvalid) {
		guest.Exit(32)
	}

	if _, err := guest.NewFloatCounter("sdk.jobs"); !errors.Is(err, guest.ErrInvalid) { // an int64 counter
		guest.Exit(35)
	}
	work, err := guest.NewFloatCounter("sdk.work_seconds")
	check(11, err)
	check(12, work.Add(1.5, fast))
	check(13, work.Add(0.25))
	level, err := guest.NewFloatUpDownCounter("sdk.level")
	check(14, err)
	check(15, level.Add(-0.5))
	ratio, err := guest.NewFloatGauge("sdk.ratio")
	check(16, err)
	check(17, ratio.Set(0.75, fast))
	size, err := guest.NewFloatHistogram("sdk.size")
	check(18, err)
	check(19, size.Record(2.5))
	if err := ratio.Set(math.NaN()); !errors.Is(err, guest.ErrInvalid) {
		guest.Exit(33)
	}
	if err := size.Record(math.Inf(1)); !errors.Is(err, guest.ErrInvalid) {
		guest.Exit(34)
	}
	// Eight instruments held, the environment's bound: a ninth fits
	// only once one is dropped.
	if _, err := guest.NewCounter("sdk.more"); !errors.Is(err, guest.ErrLimit) {
		guest.Exit(36)
	}
	check(20, jobs.Drop())
	if err := jobs.Add(1); !errors.Is(err, guest.ErrNotFound) {
		guest.Exit(37)
	}
	more, err := guest.NewCounter("sdk.more")
	check(21, err)
	check(22, more.Add(4, fast))
	check(23, fast.Drop())
	if err := more.Add(1, fast); !errors.Is(err, guest.ErrNotFound) {
		guest.Exit(38)
	}
}
