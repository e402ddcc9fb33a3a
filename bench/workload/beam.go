package workload

import (
	"bufio"
	"bytes"
	"context"
	_ "embed"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

//go:embed bench.escript
var beamScript []byte

// ErrNoErlang is returned when escript is not on PATH.
var ErrNoErlang = errors.New("Erlang/OTP not installed (no escript on PATH; run bench/install-erlang.sh)")

// Beam runs bench.escript on the Erlang/OTP installed on this machine.
type Beam struct {
	escript string
	script  string // path of the script, written to a temporary directory
	dir     string
	// OTP is the OTP release, known after the first run.
	OTP string
}

// NewBeam finds escript and writes the script out. It returns ErrNoErlang
// when Erlang is not installed.
func NewBeam() (*Beam, error) {
	escript, err := exec.LookPath("escript")
	if err != nil {
		return nil, ErrNoErlang
	}
	dir, err := os.MkdirTemp("", "wardbench-beam-")
	if err != nil {
		return nil, err
	}
	script := filepath.Join(dir, "bench.escript")
	if err := os.WriteFile(script, beamScript, 0o644); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	return &Beam{escript: escript, script: script, dir: dir}, nil
}

// Close removes the script.
func (b *Beam) Close() error { return os.RemoveAll(b.dir) }

// run runs the script with args and returns every "key value" line it
// printed, values in order.
func (b *Beam) run(timeout time.Duration, args ...string) (map[string][]float64, error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, b.escript, append([]string{b.script}, args...)...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("escript %s: %v: %s", strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	vals := map[string][]float64{}
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		k, v, ok := strings.Cut(strings.TrimSpace(sc.Text()), " ")
		if !ok {
			continue
		}
		if k == "otp" {
			b.OTP = v
			continue
		}
		f, err := strconv.ParseFloat(v, 64)
		if err != nil {
			continue
		}
		vals[k] = append(vals[k], f)
	}
	return vals, nil
}

// Suite runs spawn latency and throughput (spawnN processes), ping-pong
// (pingN round trips) and one-to-one (msgN messages), reps times each,
// interleaved. Keys: spawn_us, spawn_per_s, pingpong_us,
// throughput_msgs_per_s.
func (b *Beam) Suite(spawnN, pingN, msgN, reps int) (map[string][]float64, error) {
	return b.run(10*time.Minute, "suite", strconv.Itoa(spawnN), strconv.Itoa(pingN), strconv.Itoa(msgN), strconv.Itoa(reps))
}

// Parked starts a fresh VM, parks n processes in receive and returns the
// VM's RSS over its baseline per process (KiB) and its OS threads.
func (b *Beam) Parked(n int) (Parked, error) {
	v, err := b.run(10*time.Minute, "parked", strconv.Itoa(n))
	if err != nil {
		return Parked{}, err
	}
	kib, threads, secs := v["parked_kib_per_proc"], v["parked_threads"], v["parked_seconds"]
	if len(kib) != 1 || len(threads) != 1 || len(secs) != 1 {
		return Parked{}, fmt.Errorf("escript parked %d printed no figures", n)
	}
	return Parked{KiBPerProc: kib[0], Threads: int(threads[0]), Seconds: secs[0], N: n}, nil
}
