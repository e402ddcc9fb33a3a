// Command wardbench measures ward side by side with its peers, in one run
// on one machine, and prints a markdown table (or, with -json, one JSON
// object of metric name to median).
//
//	go run ./cmd/wardbench          # full: 9 runs per figure, parked 10k and 100k
//	go run ./cmd/wardbench -quick   # 5 runs, shorter measurements, under 2 minutes
//	go run ./cmd/wardbench -json    # {"spawn_us_ward": 21.3, ...}
//
// See bench/README.md for what each row measures.
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"regexp"
	goruntime "runtime"
	"sort"
	"strings"
	"time"

	"github.com/wardrt/ward/bench/workload"
)

// config sizes a run.
type config struct {
	runs       int           // repetitions of every figure
	target     time.Duration // how long one timed measurement should take
	reqDur     time.Duration // how long one requests/s measurement lasts
	clients    int           // concurrent HTTP clients
	parkedNs   []int         // N of the parked rows
	parkedRuns int           // repetitions of a parked figure (a fresh OS process each)
	// parkedAll: the N for which every implementation is parked; at other
	// N only ward is.
	parkedAll  map[int]bool
	naiveParkN int // parked wasmtime-go naive processes (each holds an OS thread)
	beamSpawnN int // BEAM: processes per spawn figure
	beamPingN  int // BEAM: round trips per ping-pong figure
	beamMsgN   int // BEAM: messages per one-to-one figure
	// budget: when non-zero, rows that would end the run after it are
	// skipped, with a note (the parked rows at the largest N).
	budget time.Duration
	only   *regexp.Regexp
	log    io.Writer // progress
	start  time.Time
}

func fullConfig() config {
	return config{
		runs: 9, target: 250 * time.Millisecond, reqDur: time.Second, clients: 2 * goruntime.GOMAXPROCS(0),
		parkedNs: []int{10_000, 100_000}, parkedRuns: 5, parkedAll: map[int]bool{10_000: true, 100_000: true},
		naiveParkN: 2_000,
		beamSpawnN: 100_000, beamPingN: 500_000, beamMsgN: 2_000_000,
	}
}

func quickConfig() config {
	return config{
		runs: 5, target: 60 * time.Millisecond, reqDur: 250 * time.Millisecond, clients: 2 * goruntime.GOMAXPROCS(0),
		parkedNs: []int{10_000, 100_000}, parkedRuns: 3, parkedAll: map[int]bool{10_000: true},
		naiveParkN: 2_000, budget: 100 * time.Second,
		beamSpawnN: 20_000, beamPingN: 100_000, beamMsgN: 500_000,
	}
}

func main() {
	workload.MaybeChild()
	quick := flag.Bool("quick", false, "shorter measurements and fewer runs (under 2 minutes); parks 100k on ward only")
	asJSON := flag.Bool("json", false, "print one JSON object of metric name to median instead of the table")
	runs := flag.Int("runs", 0, "repetitions of every figure (default 9, or 5 with -quick)")
	only := flag.String("only", "", "run only the workloads whose name matches this regexp (spawn, throughput, pingpong, onetoone, hostcall, call, verify, gostart, upgrade, request, tcpecho, sqlite, cluster, parked)")
	flag.Parse()

	cfg := fullConfig()
	if *quick {
		cfg = quickConfig()
	}
	if *runs > 0 {
		cfg.runs = *runs
	}
	if *only != "" {
		re, err := regexp.Compile(*only)
		if err != nil {
			fmt.Fprintln(os.Stderr, "wardbench: -only:", err)
			os.Exit(2)
		}
		cfg.only = re
	}
	cfg.log = os.Stderr

	start := time.Now()
	rs, err := run(cfg)
	if err != nil {
		fmt.Fprintln(os.Stderr, "wardbench:", err)
		os.Exit(1)
	}
	fmt.Fprintf(os.Stderr, "wardbench: done in %v\n", time.Since(start).Round(100*time.Millisecond))
	if *asJSON {
		if err := writeJSON(os.Stdout, rs.metrics()); err != nil {
			fmt.Fprintln(os.Stderr, "wardbench:", err)
			os.Exit(1)
		}
		for _, n := range rs.notes {
			fmt.Fprintln(os.Stderr, "note: "+n)
		}
	} else {
		rs.writeTable(os.Stdout)
	}
	if errs := rs.errors(); len(errs) > 0 {
		fmt.Fprintln(os.Stderr, "wardbench: some rows failed:\n  "+strings.Join(errs, "\n  "))
		os.Exit(1)
	}
}

// writeJSON prints m as one JSON object, keys sorted.
func writeJSON(w io.Writer, m map[string]float64) error {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	b.WriteString("{\n")
	for i, k := range keys {
		v, err := json.Marshal(m[k])
		if err != nil {
			return fmt.Errorf("%s: %w", k, err)
		}
		fmt.Fprintf(&b, "  %q: %s", k, v)
		if i < len(keys)-1 {
			b.WriteString(",")
		}
		b.WriteString("\n")
	}
	b.WriteString("}\n")
	_, err := io.WriteString(w, b.String())
	return err
}
