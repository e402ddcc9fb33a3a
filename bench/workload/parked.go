package workload

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"runtime/pprof"
	"strconv"
	"strings"
	"time"

	"github.com/wardrt/ward/environment"
	"github.com/wardrt/ward/runtime"
)

// Parked is what n parked processes cost: the RSS they add over the
// baseline of a fresh OS process, per process, and the OS threads of that
// OS process while they are all parked.
type Parked struct {
	N          int
	KiBPerProc float64
	Threads    int
	Seconds    float64 // from the first spawn until all were parked
}

// ParkedImpls are the implementations MeasureParked knows.
var ParkedImpls = []string{"ward", "goroutine", "wasmtime_naive", "wazero"}

// childEnv makes this executable a parked-processes child: its value is
// "impl:n".
const childEnv = "WARDBENCH_PARKED_CHILD"

// childProfileEnv, when set in a parked child's environment, is the file
// it writes a CPU profile of parking to (for looking into where the time
// to park goes): WARDBENCH_PARKED_CHILD=ward:10000
// WARDBENCH_CPUPROFILE=park.prof ./wardbench.
const childProfileEnv = "WARDBENCH_CPUPROFILE"

// MaybeChild turns this program into a parked-processes child when the
// environment says so: it measures, prints one JSON object and exits.
// main and TestMain call it first.
func MaybeChild() {
	maybeNoconnChild()
	v := os.Getenv(childEnv)
	if v == "" {
		return
	}
	impl, ns, _ := strings.Cut(v, ":")
	n, err := strconv.Atoi(ns)
	if path := os.Getenv(childProfileEnv); path != "" && err == nil {
		err = startProfile(path)
	}
	if err == nil {
		var p Parked
		if p, err = parkedChild(impl, n); err == nil {
			err = json.NewEncoder(os.Stdout).Encode(p)
		}
	}
	if err != nil {
		stopProfile()
		fmt.Fprintf(os.Stderr, "parked child %s: %v\n", v, err)
		os.Exit(1)
	}
	stopProfile()
	// No teardown: the OS process ends, and with it everything parked.
	os.Exit(0)
}

func parkedChild(impl string, n int) (Parked, error) {
	if n <= 0 {
		return Parked{}, fmt.Errorf("n = %d", n)
	}
	var park func(int) error
	switch impl {
	case "ward":
		// Both limits lifted to n: the defaults (a 1<<20 stack pool, and
		// environment.DefaultMaxProcesses alive at once) are safe bounds
		// for a small machine, not what this row measures.
		w, err := NewWard(runtime.WithMaxStacks(max(n+1024, 1<<20)),
			runtime.WithRootEnvironment(environment.Config{MaxProcesses: max(n+1024, environment.DefaultMaxProcesses), MaxTotalMemory: 1 << 40}))
		if err != nil {
			return Parked{}, err
		}
		park = w.Park
	case "goroutine":
		park = GoPark
	case "wasmtime_naive":
		w, err := NewNaive()
		if err != nil {
			return Parked{}, err
		}
		park = w.Park
	case "wazero":
		w, err := NewWazero()
		if err != nil {
			return Parked{}, err
		}
		park = w.Park
	default:
		return Parked{}, fmt.Errorf("unknown implementation %q", impl)
	}
	Settle()
	base, err := ReadProcStatus("self")
	if err != nil {
		return Parked{}, err
	}
	start := time.Now()
	if err := park(n); err != nil {
		return Parked{}, err
	}
	secs := time.Since(start).Seconds()
	Settle()
	now, err := ReadProcStatus("self")
	if err != nil {
		return Parked{}, err
	}
	return Parked{
		N:          n,
		KiBPerProc: float64(now.RSSKiB-base.RSSKiB) / float64(n),
		Threads:    now.Threads,
		Seconds:    secs,
	}, nil
}

// MeasureParked parks n processes of impl (one of ParkedImpls) in a fresh
// copy of this executable, so that nothing measured before (threads Go
// never gives back, a heap grown by other workloads) is counted.
func MeasureParked(impl string, n int, timeout time.Duration) (Parked, error) {
	exe, err := os.Executable()
	if err != nil {
		return Parked{}, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, exe)
	cmd.Env = append(os.Environ(), fmt.Sprintf("%s=%s:%d", childEnv, impl, n))
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		if errors.Is(ctx.Err(), context.DeadlineExceeded) {
			err = fmt.Errorf("timed out after %v", timeout)
		}
		return Parked{}, fmt.Errorf("parking %d (%s): %v: %s", n, impl, err, strings.TrimSpace(stderr.String()))
	}
	var p Parked
	if err := json.Unmarshal(bytes.TrimSpace(out), &p); err != nil {
		return Parked{}, fmt.Errorf("parking %d (%s): %v in %q", n, impl, err, out)
	}
	return p, nil
}

var stopProfile = func() {}

func startProfile(path string) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return err
	}
	stopProfile = func() {
		pprof.StopCPUProfile()
		f.Close()
	}
	return nil
}
