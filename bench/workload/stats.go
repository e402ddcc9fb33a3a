// Package workload holds the workloads wardbench runs on ward and on its
// peers, and the small measurement helpers they share. Every workload
// function runs its operation n times and returns one figure in the unit
// of its row; the command repeats it and reports the median.
package workload

import (
	"fmt"
	"math"
	"os"
	goruntime "runtime"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Summary is the median, min and max of repeated measurements.
type Summary struct {
	Median, Min, Max float64
	Runs             int
}

// Summarize sorts a copy of xs and returns its median, min and max. The
// median of an even count is the mean of the two middle values.
func Summarize(xs []float64) Summary {
	if len(xs) == 0 {
		return Summary{Median: math.NaN(), Min: math.NaN(), Max: math.NaN()}
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	m := s[len(s)/2]
	if len(s)%2 == 0 {
		m = (s[len(s)/2-1] + s[len(s)/2]) / 2
	}
	return Summary{Median: m, Min: s[0], Max: s[len(s)-1], Runs: len(s)}
}

// Calibrate returns how many operations make one measurement last about
// target, by timing f with growing n. f(n) runs n operations and returns
// how long they took. The calibration runs double as warm-up.
func Calibrate(f func(n int) (time.Duration, error), target time.Duration, minN, maxN int) (int, error) {
	n := max(minN, 1)
	for {
		d, err := f(n)
		if err != nil {
			return 0, err
		}
		if d >= target/4 || n >= maxN {
			per := float64(d) / float64(n)
			if per <= 0 {
				return maxN, nil
			}
			want := int(float64(target) / per)
			return min(max(want, minN), maxN), nil
		}
		if d <= 0 {
			n *= 10
		} else {
			n = int(float64(n) * min(10, float64(target/4)/float64(d)*1.2+1))
		}
		n = min(n, maxN)
	}
}

// Settle collects garbage and returns freed memory to the OS, so that RSS
// reflects what is live. Before a timed measurement, use GC instead:
// memory returned to the OS would be faulted in again and charged to
// whoever allocates next.
func Settle() {
	goruntime.GC()
	debug.FreeOSMemory()
}

// GC collects garbage, so that one timed measurement does not pay for the
// garbage of the previous one.
func GC() { goruntime.GC() }

// ProcStatus is what /proc/self/status says about memory and threads.
type ProcStatus struct {
	RSSKiB  int
	Threads int
}

// ReadProcStatus reads VmRSS and Threads of the process pid ("self" for
// this one).
func ReadProcStatus(pid string) (ProcStatus, error) {
	b, err := os.ReadFile("/proc/" + pid + "/status")
	if err != nil {
		return ProcStatus{}, err
	}
	var s ProcStatus
	for line := range strings.SplitSeq(string(b), "\n") {
		k, v, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		f := strings.Fields(v)
		if len(f) == 0 {
			continue
		}
		switch k {
		case "VmRSS":
			s.RSSKiB, _ = strconv.Atoi(f[0])
		case "Threads":
			s.Threads, _ = strconv.Atoi(f[0])
		}
	}
	if s.RSSKiB == 0 || s.Threads == 0 {
		return s, fmt.Errorf("no VmRSS or Threads in /proc/%s/status", pid)
	}
	return s, nil
}

// perOp converts d for n operations to the unit's scale.
func msPer(d time.Duration, n int) float64 { return float64(d.Nanoseconds()) / 1e6 / float64(n) }
func usPer(d time.Duration, n int) float64 { return float64(d.Nanoseconds()) / 1e3 / float64(n) }
func nsPer(d time.Duration, n int) float64 { return float64(d.Nanoseconds()) / float64(n) }
func perSec(d time.Duration, n int) float64 {
	return float64(n) / d.Seconds()
}
