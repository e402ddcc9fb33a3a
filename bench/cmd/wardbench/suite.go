package main

import (
	"errors"
	"fmt"
	"os"
	goruntime "runtime"
	"strings"
	"time"

	"github.com/wardrt/ward/bench/workload"
)

// Implementation names, as the table shows them, and their metric keys.
const (
	implWard      = "ward (Spawn+Wait)"
	implWardRun   = "ward (Environment.Run)"
	implNaive     = "wasmtime-go naive"
	implWazero    = "wazero"
	implExtism    = "Extism Go SDK"
	implGoroutine = "goroutines + channels"
	implGo        = "plain Go handler"
	implBeam      = "BEAM"
)

// timedRow is a row measured in this process by timing n operations.
type timedRow struct {
	*row
	t workload.Timed
	n int
}

// peers are the implementations, created once per run.
type peers struct {
	ward   *workload.Ward
	naive  *workload.Naive
	wazero *workload.Wazero
	extism *workload.Extism
	beam   *workload.Beam
	// errors creating a peer: its rows fail with it
	naiveErr, wazeroErr, extismErr, beamErr error
}

func (c *config) want(workloadName string) bool {
	return c.only == nil || c.only.MatchString(workloadName)
}

func (c *config) logf(format string, args ...any) {
	if c.log != nil {
		el := time.Since(c.start).Seconds()
		fmt.Fprintf(c.log, "wardbench: %5.1fs "+format+"\n", append([]any{el}, args...)...)
	}
}

func run(cfg config) (*results, error) {
	cfg.start = time.Now()
	rs := &results{}
	load0 := loadavg()
	var p peers
	var err error
	if p.ward, err = workload.NewWard(); err != nil {
		return nil, fmt.Errorf("ward: %w", err)
	}
	defer p.ward.Close()
	if p.ward.MsgErr != nil {
		cfg.logf("%v", p.ward.MsgErr)
		rs.note("ward messaging not available in this build: the ward ping-pong and one-to-one rows were not run (%v)", oneLine(p.ward.MsgErr.Error()))
	}
	if p.naive, p.naiveErr = workload.NewNaive(); p.naiveErr != nil {
		cfg.logf("wasmtime-go naive: %v", p.naiveErr)
	}
	if p.wazero, p.wazeroErr = workload.NewWazero(); p.wazeroErr != nil {
		cfg.logf("wazero: %v", p.wazeroErr)
	} else {
		defer p.wazero.Close()
	}
	if p.extism, p.extismErr = workload.NewExtism(); p.extismErr != nil {
		cfg.logf("extism: %v", p.extismErr)
	} else {
		defer p.extism.Close()
	}
	if p.beam, p.beamErr = workload.NewBeam(); p.beamErr != nil {
		if errors.Is(p.beamErr, workload.ErrNoErlang) {
			cfg.logf("skipping BEAM: %v", p.beamErr)
			rs.note("BEAM skipped: %v", p.beamErr)
		}
	} else {
		defer p.beam.Close()
	}

	nproc := goruntime.GOMAXPROCS(0)
	cfg.logf("%s, GOMAXPROCS=%d, NumCPU=%d, %d runs per figure, load average %s",
		goruntime.Version(), nproc, goruntime.NumCPU(), cfg.runs, load0)

	// The in-process timed workloads, interleaved run by run.
	var beamRows []*row // filled from the escript's output, keyed by metric prefix
	beamRow := func(group, metric, unit string, lower bool) {
		r := rs.add(&row{group: group, impl: implBeam, key: metric + "_beam", unit: unit, lower: lower})
		beamRows = append(beamRows, r)
	}
	timedGroup := func(name, group, metric, unit string, lower bool, rows []timedRow, beam bool) {
		if !cfg.want(name) {
			return
		}
		var trs []*timedRow
		for i := range rows {
			tr := &rows[i]
			tr.group, tr.key, tr.unit, tr.lower = group, metric+"_"+tr.key, unit, lower
			rs.add(tr.row)
			if tr.skip == "" && tr.err == nil {
				trs = append(trs, tr)
			}
		}
		if beam {
			beamRow(group, metric, unit, lower)
		}
		cfg.logf("%s", group)
		runTimed(cfg, trs)
	}

	w, nv, wz, ex := p.ward, p.naive, p.wazero, p.extism
	spawnOp := func(f func() error) func(int) (time.Duration, error) {
		return func(n int) (time.Duration, error) { return workload.Seq(n, f) }
	}
	parOp := func(f func() error) func(int) (time.Duration, error) {
		return func(n int) (time.Duration, error) { return workload.Par(n, nproc, f) }
	}
	// peerRow makes the row of a peer; if the peer could not be created,
	// the row fails with its error and its operation is never called.
	peerRow := func(impl, key string, perr error, t workload.Timed) timedRow {
		r := timedRow{row: &row{impl: impl, key: key}, t: t}
		if perr != nil {
			r.err = perr
		}
		return r
	}
	msgRow := func(t workload.Timed) timedRow {
		r := timedRow{row: &row{impl: "ward", key: "ward", ref: true}, t: t}
		if w.MsgErr != nil {
			r.skip = "ward messaging not available in this build"
		}
		return r
	}
	us, ns, persec := workload.MicrosPerOp, workload.NanosPerOp, workload.OpsPerSec

	timedGroup("spawn", "spawn+run+exit, one at a time", "spawn_us", "µs/process", true, []timedRow{
		{row: &row{impl: implWard, key: "ward", ref: true}, t: workload.Timed{Run: spawnOp(w.SpawnWait), Unit: us, MinN: 10}},
		{row: &row{impl: implWardRun, key: "ward_run"}, t: workload.Timed{Run: spawnOp(w.Run), Unit: us, MinN: 10}},
		peerRow(implNaive, "wasmtime_naive", p.naiveErr, workload.Timed{Run: spawnOp(func() error { return nv.SpawnWait() }), Unit: us, MinN: 10}),
		peerRow(implWazero, "wazero", p.wazeroErr, workload.Timed{Run: spawnOp(func() error { return wz.SpawnWait() }), Unit: us, MinN: 10}),
		peerRow(implExtism, "extism", p.extismErr, workload.Timed{Run: spawnOp(func() error { return ex.SpawnWait() }), Unit: us, MinN: 5}),
		{row: &row{impl: implGoroutine, key: "goroutine"}, t: workload.Timed{Run: spawnOp(workload.GoSpawnWait), Unit: us, MinN: 100}},
	}, true)

	workers := fmt.Sprintf("%d workers", nproc)
	timedGroup("throughput", "spawn+run+exit, "+workers, "spawn_per_s", "processes/s", false, []timedRow{
		{row: &row{impl: implWard, key: "ward", ref: true}, t: workload.Timed{Run: parOp(w.SpawnWait), Unit: persec, MinN: 10 * nproc}},
		{row: &row{impl: implWardRun, key: "ward_run"}, t: workload.Timed{Run: parOp(w.Run), Unit: persec, MinN: 10 * nproc}},
		peerRow(implNaive, "wasmtime_naive", p.naiveErr, workload.Timed{Run: parOp(func() error { return nv.SpawnWait() }), Unit: persec, MinN: 10 * nproc}),
		peerRow(implWazero, "wazero", p.wazeroErr, workload.Timed{Run: parOp(func() error { return wz.SpawnWait() }), Unit: persec, MinN: 10 * nproc}),
		peerRow(implExtism, "extism", p.extismErr, workload.Timed{Run: parOp(func() error { return ex.SpawnWait() }), Unit: persec, MinN: 5 * nproc}),
		{row: &row{impl: implGoroutine, key: "goroutine"}, t: workload.Timed{Run: parOp(workload.GoSpawnWait), Unit: persec, MinN: 100 * nproc}},
	}, true)

	timedGroup("pingpong", "ping-pong round trip", "pingpong_us", "µs/round trip", true, []timedRow{
		msgRow(workload.Timed{Run: w.PingPong, Unit: us, MinN: 100}),
		peerRow(implNaive, "wasmtime_naive", p.naiveErr, workload.Timed{Run: func(n int) (time.Duration, error) { return nv.PingPong(n) }, Unit: us, MinN: 20}),
		peerRow(implWazero, "wazero", p.wazeroErr, workload.Timed{Run: func(n int) (time.Duration, error) { return wz.PingPong(n) }, Unit: us, MinN: 100}),
		{row: &row{impl: implGoroutine, key: "goroutine"}, t: workload.Timed{Run: workload.GoPingPong, Unit: us, MinN: 1000}},
	}, true)

	timedGroup("onetoone", "one-to-one messages", "throughput_msgs_per_s", "msgs/s", false, []timedRow{
		msgRow(workload.Timed{Run: w.OneToOne, Unit: persec, MinN: 1000}),
		peerRow(implNaive, "wasmtime_naive", p.naiveErr, workload.Timed{Run: func(n int) (time.Duration, error) { return nv.OneToOne(n) }, Unit: persec, MinN: 1000}),
		peerRow(implWazero, "wazero", p.wazeroErr, workload.Timed{Run: func(n int) (time.Duration, error) { return wz.OneToOne(n) }, Unit: persec, MinN: 1000}),
		{row: &row{impl: implGoroutine, key: "goroutine"}, t: workload.Timed{Run: workload.GoOneToOne, Unit: persec, MinN: 1000}},
	}, true)

	timedGroup("hostcall", "host call", "hostcall_ns", "ns/call", true, []timedRow{
		{row: &row{impl: "ward self() (C)", key: "ward", ref: true}, t: workload.Timed{Run: w.HostCallC, Unit: ns, MinN: 10_000}},
		{row: &row{impl: "ward sleep_ms(0) (Go)", key: "ward_go"}, t: workload.Timed{Run: w.HostCallGo, Unit: ns, MinN: 1000}},
		peerRow(implNaive+" FuncWrap", "wasmtime_naive", p.naiveErr, workload.Timed{Run: func(n int) (time.Duration, error) { return nv.HostCall(n) }, Unit: ns, MinN: 10_000}),
		peerRow(implWazero+" GoFunc", "wazero", p.wazeroErr, workload.Timed{Run: func(n int) (time.Duration, error) { return wz.HostCall(n) }, Unit: ns, MinN: 10_000}),
		peerRow(implExtism, "extism", p.extismErr, workload.Timed{Run: func(n int) (time.Duration, error) { return ex.HostCall(n) }, Unit: ns, MinN: 10_000}),
	}, false)

	wc, wcErr := w.NewCaller()
	ec, ecErr := workload.NewExtismCaller()
	if ecErr == nil {
		defer ec.Close()
	}
	timedGroup("call", "plugin call, 8 bytes in and out, fresh instance", "call_us", "µs/call", true, []timedRow{
		func() timedRow {
			r := peerRow("ward Environment.Call", "ward", wcErr, workload.Timed{Run: spawnOp(func() error { return wc.Call() }), Unit: us, MinN: 10})
			r.ref = true
			return r
		}(),
		peerRow(implExtism+" Plugin.Call", "extism", ecErr, workload.Timed{Run: spawnOp(func() error { return ec.Call() }), Unit: us, MinN: 5}),
	}, false)

	if cfg.want("verify") {
		// Built only when asked for: the warm-up compiles 4 MiB.
		vl, vlErr := workload.NewVerifyLoad()
		if vlErr == nil {
			defer vl.Close()
		}
		timedGroup("verify", "verify (ed25519, in a custom section) + compile from a warm cache, 4 MiB module, fresh runtime", "verify_compile_ms", "ms/load", true, []timedRow{
			func() timedRow {
				r := peerRow("ward Runtime.Load", "4mib_ward", vlErr, workload.Timed{Run: func(n int) (time.Duration, error) { return vl.Run(n) }, Unit: workload.MillisPerOp, MinN: 3})
				r.ref = true
				return r
			}(),
		}, false)
	}
	if cfg.want("gostart") {
		runGoStart(cfg, rs, w, timedGroup)
	}
	up, upErr := w.NewUpgrader()
	if upErr == nil {
		defer up.Close()
	}
	timedGroup("upgrade", "hot upgrade, the pause the process sees", "upgrade_pause_us", "µs/upgrade", true, []timedRow{
		func() timedRow {
			r := peerRow("ward ward_process.upgrade", "ward", upErr, workload.Timed{Run: func(n int) (time.Duration, error) { return up.Pauses(n) }, Unit: us, MinN: 20})
			r.ref = true
			return r
		}(),
	}, false)

	if cfg.want("request") {
		runRequests(cfg, rs, &p)
	}

	if cfg.want("tcpecho") {
		runTCPEcho(cfg, rs)
	}
	if cfg.want("sqlite") {
		runSQLite(cfg, rs)
	}

	if cfg.want("cluster") {
		runCluster(cfg, rs, timedGroup)
	}

	// BEAM's suite runs in its own VM after the Go rows, its repetitions
	// interleaved the same way.
	if len(beamRows) > 0 {
		switch {
		case p.beamErr != nil:
			for _, r := range beamRows {
				if errors.Is(p.beamErr, workload.ErrNoErlang) {
					r.skip = "skipped: erl not installed"
				} else {
					r.err = p.beamErr
				}
			}
		default:
			cfg.logf("BEAM (escript)")
			vals, err := p.beam.Suite(cfg.beamSpawnN, cfg.beamPingN, cfg.beamMsgN, cfg.runs)
			for _, r := range beamRows {
				metric := strings.TrimSuffix(r.key, "_beam")
				switch {
				case err != nil:
					r.err = err
				case len(vals[metric]) == 0:
					r.err = fmt.Errorf("escript printed no %s", metric)
				default:
					r.vals = vals[metric]
					r.impl = implBeam + " (OTP " + p.beam.OTP + ")"
				}
			}
			if err == nil {
				rs.note("BEAM rows come from one escript run after the Go rows (OTP %s; %d, %d and %d operations per figure), not interleaved with them.",
					p.beam.OTP, cfg.beamSpawnN, cfg.beamPingN, cfg.beamMsgN)
			}
		}
	}

	if cfg.want("parked") {
		runParked(cfg, rs, &p)
	}
	rs.note("machine: %s, GOMAXPROCS=%d, NumCPU=%d; load average %s at the start, %s at the end.",
		goruntime.Version(), nproc, goruntime.NumCPU(), load0, loadavg())
	return rs, nil
}

// runTimed calibrates every row, then measures them all once per run, in
// turn, so that drift in the machine's load spreads over all of them.
func runTimed(cfg config, trs []*timedRow) {
	live := trs[:0:0]
	for _, tr := range trs {
		maxN := tr.t.MaxN
		if maxN == 0 {
			maxN = 1 << 30
		}
		n, err := workload.Calibrate(tr.t.Run, cfg.target, tr.t.MinN, maxN)
		if err != nil {
			tr.fail(err)
			continue
		}
		tr.n = n
		live = append(live, tr)
	}
	for range cfg.runs {
		for _, tr := range live {
			if tr.err != nil {
				continue
			}
			workload.GC()
			d, err := tr.t.Run(tr.n)
			if err != nil {
				tr.fail(err)
				continue
			}
			tr.add(tr.t.Unit(d, tr.n))
		}
	}
}

// runRequests measures requests/s of an HTTP server whose handler runs a
// fresh isolated instance per request, against plain Go.
func runRequests(cfg config, rs *results, p *peers) {
	const group = "HTTP request, fresh instance each"
	cfg.logf("%s", group)
	type reqRow struct {
		*row
		handle func() error
	}
	mk := func(impl, key string, perr error, h func() error) reqRow {
		r := reqRow{row: &row{group: group, impl: impl, key: "request_rps_" + key, unit: "requests/s", err: perr}, handle: h}
		rs.add(r.row)
		return r
	}
	w, nv, wz, ex := p.ward, p.naive, p.wazero, p.extism
	ward := mk(implWardRun, "ward", nil, w.Handle)
	ward.ref = true
	rows := []reqRow{
		ward,
		mk(implNaive, "wasmtime_naive", p.naiveErr, func() error { return nv.Handle() }),
		mk(implWazero, "wazero", p.wazeroErr, func() error { return wz.Handle() }),
		mk(implExtism, "extism", p.extismErr, func() error { return ex.Handle() }),
		mk(implGo, "go", nil, workload.GoHandle),
	}
	byRow := map[*row]func() error{}
	all := make([]*row, len(rows))
	for i, r := range rows {
		byRow[r.row], all[i] = r.handle, r.row
	}
	measurePairs(cfg, rs, group, "request_ratio_ward_vs_go", all, ward.row, all[len(all)-1], func(r *row) (float64, error) {
		return workload.RequestsPerSecond(byRow[r], cfg.clients, cfg.reqDur)
	})
}

// runTCPEcho measures requests/s of a ward guest echo server on
// ward_net against the same echo in plain Go, over one loopback
// connection, in the same run.
func runTCPEcho(cfg config, rs *results) {
	const group = "TCP echo on loopback, one connection"
	cfg.logf("%s", group)
	mk := func(impl, key string, start func() (*workload.TCPEcho, error)) (*row, *workload.TCPEcho) {
		r := &row{group: group, impl: impl, key: "tcp_echo_rps_" + key, unit: "requests/s"}
		rs.add(r)
		e, err := start()
		if err != nil {
			r.err = err
		}
		return r, e
	}
	ward, we := mk("ward guest on ward_net", "ward", workload.NewWardTCPEcho)
	ward.ref = true
	goRow, ge := mk("plain Go echo server", "go", workload.NewGoTCPEcho)
	if we != nil {
		defer we.Close()
	}
	if ge != nil {
		defer ge.Close()
	}
	echo := map[*row]*workload.TCPEcho{ward: we, goRow: ge}
	measurePairs(cfg, rs, group, "tcp_echo_ratio_ward_vs_go", []*row{ward, goRow}, ward, goRow, func(r *row) (float64, error) {
		return echo[r].RequestsPerSecond(cfg.reqDur)
	})
}

// runSQLite measures SQLite rounds (workload.SQLite) from a guest through
// ward_sqlite against the same calls from Go, and the ratio of each run's
// pair.
func runSQLite(cfg config, rs *results) {
	group := fmt.Sprintf("SQLite: %d inserts in a transaction + select them", workload.SQLiteRows)
	cfg.logf("%s", group)
	ward := rs.add(&row{group: group, impl: "ward guest via ward_sqlite", key: "sqlite_rounds_per_s_ward", unit: "rounds/s", ref: true})
	goRow := rs.add(&row{group: group, impl: "plain Go, database/sql on the same driver", key: "sqlite_rounds_per_s_go", unit: "rounds/s"})
	s, err := workload.NewSQLite()
	if err != nil {
		ward.fail(err)
		goRow.fail(err)
		return
	}
	defer s.Close()
	rows := []struct {
		r   *row
		run func(int) (time.Duration, error)
		n   int
	}{{r: ward, run: s.Ward}, {r: goRow, run: s.Go}}
	for i := range rows {
		n, err := workload.Calibrate(rows[i].run, cfg.target, 1, 1<<20)
		if err != nil {
			rows[i].r.fail(err)
			return
		}
		rows[i].n = n
	}
	n := map[*row]int{}
	run := map[*row]func(int) (time.Duration, error){}
	for _, x := range rows {
		n[x.r], run[x.r] = x.n, x.run
	}
	measurePairs(cfg, rs, group, "sqlite_ratio_ward_vs_go", []*row{ward, goRow}, ward, goRow, func(r *row) (float64, error) {
		d, err := run[r](n[r])
		return float64(n[r]) / d.Seconds(), err
	})
}

// runParked parks N processes of each implementation, in a fresh OS
// process per run, for each N.
func runParked(cfg config, rs *results, p *peers) {
	type parkRow struct {
		impl              string
		n                 int
		kib, threads, per *row
	}
	timeout := 10 * time.Minute
	var prevN int
	var prevWard []float64 // seconds each ward run took at prevN
	for _, n := range cfg.parkedNs {
		k := kLabel(n)
		gk := "parked N=" + k + ": RSS per process"
		gt := "parked N=" + k + ": OS threads"
		gp := "parked N=" + k + ": spawn to parked"
		var prs []*parkRow
		var kibRows, threadRows, perRows []*row
		add := func(impl, display string, nn int, ref bool, skip string) {
			noRatio := nn != n
			suffix := "_" + kLabel(nn)
			pr := &parkRow{
				impl: impl, n: nn,
				kib:     &row{group: gk, impl: display, key: "parked_kib_per_proc_" + impl + suffix, unit: "KiB/process", lower: true, ref: ref, noRatio: noRatio, skip: skip},
				threads: &row{group: gt, impl: display, key: "parked_threads_" + impl + suffix, unit: "threads", lower: true, ref: ref, noRatio: noRatio, skip: skip},
				per:     &row{group: gp, impl: display, key: "parked_spawn_us_" + impl + suffix, unit: "µs/process", lower: true, ref: ref, noRatio: noRatio, skip: skip},
			}
			kibRows, threadRows, perRows = append(kibRows, pr.kib), append(threadRows, pr.threads), append(perRows, pr.per)
			if skip == "" {
				prs = append(prs, pr)
			}
		}
		add("ward", "ward (sleep_ms)", n, true, "")
		if cfg.parkedAll[n] {
			add("goroutine", "goroutines (chan receive)", n, false, "")
			add("wazero", "wazero (host func blocks on chan)", n, false, "")
			if nn := min(n, cfg.naiveParkN); nn == n {
				add("wasmtime_naive", implNaive+" (FuncWrap blocks)", n, false, "")
			} else {
				add("wasmtime_naive", fmt.Sprintf("%s (FuncWrap blocks), N=%s cap", implNaive, kLabel(nn)), nn, false, "")
				rs.note("wasmtime-go naive holds an OS thread per parked process (a Go host function blocking inside the cgo callback), so it is capped at N=%s. "+
					"Uncapped, it failed while this harness was written at about 9.3k parked (instantiation: `Cannot allocate memory`; vm.max_map_count is %s here), short of Go's default limit of 10,000 threads.",
					kLabel(nn), sysctl("vm/max_map_count"))
			}
			if p.beam != nil {
				add("beam", "BEAM (receive)", n, false, "")
			} else {
				add("beam", implBeam, n, false, "skipped: erl not installed")
			}
		} else {
			rs.note("parked N=%s runs on ward only in this mode; the full run parks every implementation.", k)
		}
		rs.rows = append(append(append(rs.rows, kibRows...), threadRows...), perRows...)

		runs := cfg.parkedRuns
		if cfg.budget > 0 && len(prevWard) > 0 {
			// Parking is worse than linear in N here: allow twice the
			// proportional time.
			est := workload.Summarize(prevWard).Median * float64(n) / float64(prevN) * 2
			left := (cfg.budget - time.Since(cfg.start)).Seconds()
			runs = min(runs, int(left/est))
			if runs < 1 {
				why := fmt.Sprintf("skipped: about %.0fs a run would overrun the -quick budget", est)
				for _, pr := range prs {
					pr.kib.skip, pr.threads.skip, pr.per.skip = why, why, why
				}
				rs.note("parked N=%s %s (%.0fs left; ward took %.1fs to park N=%s here). The full run measures it.",
					k, strings.TrimPrefix(why, "skipped: "), max(left, 0), workload.Summarize(prevWard).Median, kLabel(prevN))
				cfg.logf("parked N=%s: %s", k, why)
				continue
			}
		}
		cfg.logf("parked N=%s, runs: %d", k, runs)
		var wardTook []float64
		for range runs {
			for _, pr := range prs {
				if pr.kib.err != nil {
					continue
				}
				var res workload.Parked
				var err error
				t0 := time.Now()
				if pr.impl == "beam" {
					res, err = p.beam.Parked(pr.n)
				} else {
					res, err = workload.MeasureParked(pr.impl, pr.n, timeout)
				}
				if err != nil {
					pr.kib.fail(err)
					pr.threads.fail(err)
					pr.per.fail(err)
					continue
				}
				if pr.impl == "ward" {
					wardTook = append(wardTook, time.Since(t0).Seconds())
				}
				pr.kib.add(res.KiBPerProc)
				pr.threads.add(float64(res.Threads))
				pr.per.add(res.Seconds * 1e6 / float64(res.N))
			}
		}
		prevN, prevWard = n, wardTook
	}
	rs.note("parked rows: each figure comes from a fresh OS process. RSS per process is (VmRSS with all N parked − VmRSS before the first spawn) / N, both after a GC; threads are the OS threads of that whole OS process; spawn to parked is the time from the first spawn until all N are parked, divided by N.")
}

// kLabel prints 10000 as 10k.
func kLabel(n int) string {
	switch {
	case n >= 1_000_000 && n%1_000_000 == 0:
		return fmt.Sprintf("%dM", n/1_000_000)
	case n >= 1000 && n%1000 == 0:
		return fmt.Sprintf("%dk", n/1000)
	}
	return fmt.Sprint(n)
}

// sysctl reads /proc/sys/name.
func sysctl(name string) string {
	b, err := os.ReadFile("/proc/sys/" + name)
	if err != nil {
		return "unknown"
	}
	return strings.TrimSpace(string(b))
}

// loadavg returns the first three fields of /proc/loadavg.
func loadavg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "unknown"
	}
	return strings.Join(f[:3], " ")
}

// measurePairs measures every row once per run, in order, and adds the
// ratio of ward's figure to Go's from each run as key: a ratio of the same
// run, so that drift between runs cancels.
func measurePairs(cfg config, rs *results, group, key string, rows []*row, ward, goRow *row, measure func(*row) (float64, error)) {
	var ratios []float64
	for range cfg.runs {
		for _, r := range rows {
			if r.err != nil {
				continue
			}
			workload.GC()
			v, err := measure(r)
			if err != nil {
				r.fail(err)
				continue
			}
			r.add(v)
		}
		if ward.measured() && goRow.measured() && len(ward.vals) == len(goRow.vals) {
			ratios = append(ratios, ward.vals[len(ward.vals)-1]/goRow.vals[len(goRow.vals)-1])
		}
	}
	if len(ratios) > 0 {
		rs.derived = append(rs.derived, derived{
			group: group, impl: "ward ÷ plain Go, per run", key: key, unit: "ratio",
			s: workload.Summarize(ratios),
		})
	}
}

// runGoStart times a Go guest (the guest SDK's hello) from Spawn to its
// first message, started from its pre-initialised image and normally,
// with the trivial WAT Spawn+Wait interleaved in the same runs, and
// derives the image start's ratio to that spawn, run by run.
func runGoStart(cfg config, rs *results, w *workload.Ward, timedGroup func(name, group, metric, unit string, lower bool, rows []timedRow, beam bool)) {
	const group = "Go guest (hello): spawn to first message"
	var cleanups []func()
	defer func() {
		for _, f := range cleanups {
			f()
		}
	}()
	mk := func(impl, key string, images bool) timedRow {
		r := timedRow{row: &row{impl: impl, key: key}}
		g, err := workload.NewGoStart(images)
		if err != nil {
			r.err = err
			return r
		}
		cleanups = append(cleanups, func() { g.Close() })
		r.t = workload.Timed{Run: func(n int) (time.Duration, error) { return workload.Seq(n, g.Start) }, Unit: workload.MicrosPerOp, MinN: 5}
		return r
	}
	image := mk("ward, pre-initialised image", "ward", true)
	image.ref = true
	normal := mk("ward, Go start-up in each process", "ward_normal", false)
	wat := timedRow{row: &row{impl: "ward trivial WAT Spawn+Wait", key: "ward_wat_spawn"},
		t: workload.Timed{Run: func(n int) (time.Duration, error) { return workload.Seq(n, w.SpawnWait) }, Unit: workload.MicrosPerOp, MinN: 10}}
	rows := []timedRow{image, normal, wat}
	timedGroup("gostart", group, "gostart_us", "µs/process", true, rows, false)
	a, b := rows[0].row, rows[2].row
	if a.measured() && b.measured() && len(a.vals) == len(b.vals) {
		ratios := make([]float64, len(a.vals))
		for i := range ratios {
			ratios[i] = a.vals[i] / b.vals[i]
		}
		rs.derived = append(rs.derived, derived{
			group: group, impl: "image start ÷ WAT Spawn+Wait, per run", key: "gostart_ratio_ward_vs_wat_spawn", unit: "ratio",
			s: workload.Summarize(ratios),
		})
	}
}
