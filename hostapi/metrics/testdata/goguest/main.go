//go:build wasip1

// Command goguest uses the Go guest SDK's metrics, for
// TestGoGuestSDK: its export run records on one instrument of each kind
// and exits with 10 + the step that failed.
package main

import (
	"errors"

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
}
