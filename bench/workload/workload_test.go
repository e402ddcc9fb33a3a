package workload

import (
	"errors"
	"math"
	"os"
	"testing"
	"time"

	"github.com/bytecodealliance/wasmtime-go/v25"
)

// These tests run every workload once with a tiny n and check that it
// returns a sane figure, so that the harness cannot rot silently. They
// assert nothing about speed.

func TestMain(m *testing.M) {
	MaybeChild() // MeasureParked re-runs this test binary as its child
	os.Exit(m.Run())
}

func checkDuration(t *testing.T, name string, d time.Duration, err error) {
	t.Helper()
	if err != nil {
		t.Errorf("%s: %v", name, err)
		return
	}
	if d <= 0 {
		t.Errorf("%s: took %v, want > 0", name, d)
	}
}

func TestSummarize(t *testing.T) {
	s := Summarize([]float64{5, 1, 3, 2, 4})
	if s.Median != 3 || s.Min != 1 || s.Max != 5 || s.Runs != 5 {
		t.Errorf("Summarize odd = %+v", s)
	}
	if s := Summarize([]float64{4, 1, 3, 2}); s.Median != 2.5 {
		t.Errorf("Summarize even median = %v, want 2.5", s.Median)
	}
	if s := Summarize(nil); !math.IsNaN(s.Median) {
		t.Errorf("Summarize(nil) median = %v, want NaN", s.Median)
	}
}

func TestCalibrate(t *testing.T) {
	per := 10 * time.Microsecond
	n, err := Calibrate(func(n int) (time.Duration, error) { return time.Duration(n) * per, nil }, 10*time.Millisecond, 1, 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	if n != 1000 {
		t.Errorf("Calibrate = %d, want 1000", n)
	}
	if n, _ := Calibrate(func(n int) (time.Duration, error) { return time.Second, nil }, time.Millisecond, 7, 100); n != 7 {
		t.Errorf("Calibrate of a slow op = %d, want the minimum 7", n)
	}
}

func TestWard(t *testing.T) {
	w, err := NewWard()
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	d, err := Seq(3, w.SpawnWait)
	checkDuration(t, "SpawnWait", d, err)
	d, err = Seq(3, w.Run)
	checkDuration(t, "Run", d, err)
	d, err = Par(4, 2, w.SpawnWait)
	checkDuration(t, "Par SpawnWait", d, err)
	if err := w.Handle(); err != nil {
		t.Errorf("Handle: %v", err)
	}
	d, err = w.HostCallC(1000)
	if err != nil || d < 0 {
		t.Errorf("HostCallC: %v, %v", d, err)
	}
	d, err = w.HostCallGo(10)
	if err != nil || d < 0 {
		t.Errorf("HostCallGo: %v, %v", d, err)
	}
	if w.MsgErr != nil {
		if !errors.Is(w.MsgErr, ErrNoMessaging) {
			t.Errorf("MsgErr = %v, want ErrNoMessaging", w.MsgErr)
		}
		t.Logf("messaging rows skipped: %v", w.MsgErr)
		return
	}
	d, err = w.PingPong(10)
	checkDuration(t, "PingPong", d, err)
	d, err = w.OneToOne(100)
	checkDuration(t, "OneToOne", d, err)
}

// channelPeer is what the naive wasmtime-go and wazero workloads share.
type channelPeer interface {
	SpawnWait() error
	Handle() error
	HostCall(n int) (time.Duration, error)
	PingPong(n int) (time.Duration, error)
	OneToOne(n int) (time.Duration, error)
}

func checkChannelPeer(t *testing.T, w channelPeer) {
	t.Helper()
	d, err := Seq(3, w.SpawnWait)
	checkDuration(t, "SpawnWait", d, err)
	if err := w.Handle(); err != nil {
		t.Errorf("Handle: %v", err)
	}
	d, err = w.HostCall(100)
	if err != nil || d < 0 {
		t.Errorf("HostCall: %v, %v", d, err)
	}
	d, err = w.PingPong(10)
	checkDuration(t, "PingPong", d, err)
	d, err = w.OneToOne(100)
	checkDuration(t, "OneToOne", d, err)
}

func TestNaive(t *testing.T) {
	w, err := NewNaive()
	if err != nil {
		t.Fatal(err)
	}
	checkChannelPeer(t, w)
}

func TestWazero(t *testing.T) {
	w, err := NewWazero()
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	checkChannelPeer(t, w)
}

func TestExtism(t *testing.T) {
	w, err := NewExtism()
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	d, err := Seq(2, w.SpawnWait)
	checkDuration(t, "SpawnWait", d, err)
	if err := w.Handle(); err != nil {
		t.Errorf("Handle: %v", err)
	}
	d, err = w.HostCall(100)
	if err != nil || d < 0 {
		t.Errorf("HostCall: %v, %v", d, err)
	}
}

func TestGoFloor(t *testing.T) {
	d, err := Seq(3, GoSpawnWait)
	checkDuration(t, "GoSpawnWait", d, err)
	d, err = GoPingPong(10)
	checkDuration(t, "GoPingPong", d, err)
	d, err = GoOneToOne(100)
	checkDuration(t, "GoOneToOne", d, err)
	if HandlerWork(HandlerN) != HandlerN*(HandlerN-1)/2 {
		t.Errorf("HandlerWork(%d) = %d", HandlerN, HandlerWork(HandlerN))
	}
}

func TestRequestsPerSecond(t *testing.T) {
	w, err := NewWard()
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	for name, h := range map[string]func() error{"go": GoHandle, "ward": w.Handle} {
		rps, err := RequestsPerSecond(h, 2, 20*time.Millisecond)
		if err != nil || rps <= 0 {
			t.Errorf("%s: %v requests/s, %v", name, rps, err)
		}
	}
}

func TestParked(t *testing.T) {
	const n = 50
	for _, impl := range ParkedImpls {
		p, err := MeasureParked(impl, n, 2*time.Minute)
		if err != nil {
			t.Errorf("%s: %v", impl, err)
			continue
		}
		if p.N != n || p.Threads <= 0 || p.Seconds <= 0 || math.IsNaN(p.KiBPerProc) {
			t.Errorf("%s: %+v", impl, p)
		}
	}
	if _, err := MeasureParked("nonesuch", n, time.Minute); err == nil {
		t.Error("an unknown implementation did not fail")
	}
}

func TestBeam(t *testing.T) {
	b, err := NewBeam()
	if errors.Is(err, ErrNoErlang) {
		t.Skip(err)
	}
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	vals, err := b.Suite(100, 100, 100, 2)
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"spawn_us", "spawn_per_s", "pingpong_us", "throughput_msgs_per_s"} {
		if len(vals[k]) != 2 || vals[k][0] <= 0 {
			t.Errorf("%s = %v, want two positive figures", k, vals[k])
		}
	}
	if b.OTP == "" {
		t.Error("no OTP release printed")
	}
	p, err := b.Parked(100)
	if err != nil {
		t.Fatal(err)
	}
	if p.N != 100 || p.Threads <= 0 {
		t.Errorf("Parked = %+v", p)
	}
}

func TestCluster(t *testing.T) {
	c, err := NewCluster()
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	d, err := c.RemotePingPong(10)
	checkDuration(t, "RemotePingPong", d, err)
	d, err = c.RemoteOneWay(1000)
	checkDuration(t, "RemoteOneWay", d, err)
	d, err = c.NATSRequest(10)
	checkDuration(t, "NATSRequest", d, err)
	d, err = c.NATSPublish(1000)
	checkDuration(t, "NATSPublish", d, err)
	d, err = c.GlobalRegister(5)
	checkDuration(t, "GlobalRegister", d, err)
	d, err = c.GlobalLookup(100)
	checkDuration(t, "GlobalLookup", d, err)
	d, err = c.NoConnection(50 * time.Millisecond)
	checkDuration(t, "NoConnection", d, err)
}

func TestUpgrader(t *testing.T) {
	w, err := NewWard()
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	u, err := w.NewUpgrader()
	if err != nil {
		t.Fatal(err)
	}
	defer u.Close()
	d, err := u.Pauses(5) // more than three: each module is installed again
	checkDuration(t, "Upgrader", d, err)
}

func TestCallers(t *testing.T) {
	w, err := NewWard()
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	c, err := w.NewCaller()
	if err != nil {
		t.Fatal(err)
	}
	d, err := Seq(3, c.Call)
	checkDuration(t, "ward Call", d, err)
	e, err := NewExtismCaller()
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	d, err = Seq(3, e.Call)
	checkDuration(t, "Extism Call", d, err)
}

func TestBigModuleIsValid(t *testing.T) {
	b := bigModule(256 << 10)
	if len(b) < 230<<10 || len(b) > 280<<10 {
		t.Fatalf("bigModule(256 KiB) is %d bytes", len(b))
	}
	if err := wasmtime.ModuleValidate(wasmtime.NewEngine(), b); err != nil {
		t.Fatal(err)
	}
	if got := appendSLEB(nil, -1); len(got) != 1 || got[0] != 0x7f {
		t.Fatalf("appendSLEB(-1) = %x", got)
	}
	if got := appendSLEB(nil, 64); len(got) != 2 || got[0] != 0xc0 || got[1] != 0 {
		t.Fatalf("appendSLEB(64) = %x", got)
	}
}

func TestSQLite(t *testing.T) {
	s, err := NewSQLite()
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	d, err := s.Ward(3)
	checkDuration(t, "SQLite ward", d, err)
	d, err = s.Go(3)
	checkDuration(t, "SQLite go", d, err)
}
