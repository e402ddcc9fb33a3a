package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/wardrt/ward/bench/workload"
)

func TestMain(m *testing.M) {
	workload.MaybeChild() // the parked rows re-run this test binary
	os.Exit(m.Run())
}

// tinyConfig runs every row once with tiny sizes: the wiring is tested,
// not the speed.
func tinyConfig() config {
	return config{
		runs: 1, target: time.Millisecond, reqDur: 20 * time.Millisecond, clients: 2,
		parkedNs: []int{100, 200}, parkedRuns: 1, parkedAll: map[int]bool{100: true},
		naiveParkN: 50,
		beamSpawnN: 100, beamPingN: 100, beamMsgN: 100,
	}
}

func TestRunTiny(t *testing.T) {
	rs, err := run(tinyConfig())
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range rs.errors() {
		t.Error(e)
	}
	m := rs.metrics()
	// The stable names, with the tiny N in place of 100k.
	want := []string{
		"spawn_us_ward", "spawn_us_wasmtime_naive", "spawn_us_goroutine", "spawn_us_ward_run", "spawn_us_wazero", "spawn_us_extism",
		"spawn_per_s_ward", "parked_kib_per_proc_ward_200", "parked_threads_ward_200", "parked_kib_per_proc_ward_100",
		"parked_threads_wasmtime_naive_50", "parked_kib_per_proc_goroutine_100",
		"pingpong_us_goroutine", "hostcall_ns_ward", "hostcall_ns_wasmtime_naive", "hostcall_ns_ward_go",
		"request_ratio_ward_vs_go", "request_rps_ward", "request_rps_go",
		"tcp_echo_ratio_ward_vs_go", "tcp_echo_rps_ward", "tcp_echo_rps_go",
		"sqlite_ratio_ward_vs_go", "sqlite_rounds_per_s_ward", "sqlite_rounds_per_s_go",
		"verify_compile_ms_4mib_ward", "upgrade_pause_us_ward",
		"gostart_us_ward", "gostart_us_ward_normal", "gostart_ratio_ward_vs_wat_spawn",
	}
	w, err := workload.NewWard()
	if err != nil {
		t.Fatal(err)
	}
	if w.MsgErr == nil {
		want = append(want, "pingpong_us_ward", "throughput_msgs_per_s_ward")
	}
	w.Close()
	if _, err := workload.NewBeam(); !errors.Is(err, workload.ErrNoErlang) {
		want = append(want, "spawn_us_beam", "pingpong_us_beam", "parked_kib_per_proc_beam_100")
	}
	for _, k := range want {
		if v, ok := m[k]; !ok || v < 0 {
			t.Errorf("metric %s = %v, %v; want a figure >= 0", k, v, ok)
		}
	}
	for k := range m {
		if strings.ContainsAny(k, " -.") || strings.ToLower(k) != k {
			t.Errorf("metric name %q is not snake_case", k)
		}
	}

	var table bytes.Buffer
	rs.writeTable(&table)
	if !strings.Contains(table.String(), "| workload | implementation | median | min-max | unit | ratio to ward |") {
		t.Errorf("no table header in:\n%s", table.String())
	}
	var js bytes.Buffer
	if err := writeJSON(&js, m); err != nil {
		t.Fatal(err)
	}
	var back map[string]float64
	if err := json.Unmarshal(js.Bytes(), &back); err != nil || len(back) != len(m) {
		t.Errorf("JSON does not round-trip (%v): %s", err, js.String())
	}
}

func TestFormat(t *testing.T) {
	for v, want := range map[float64]string{1234567: "1,234,567", 123.4: "123", 12.34: "12.3", 1.234: "1.23", 0.1234: "0.123"} {
		if got := fmtNum(v); got != want {
			t.Errorf("fmtNum(%v) = %q, want %q", v, got, want)
		}
	}
	if got := kLabel(100_000); got != "100k" {
		t.Errorf("kLabel(100000) = %q", got)
	}
}
