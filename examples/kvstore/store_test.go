package main

import (
	"errors"
	"io"
	"log/slog"
	"math"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/wardrt/ward/hostapi"
	"github.com/wardrt/ward/runtime"
)

func TestTableExpiry(t *testing.T) {
	t0 := time.Now()
	tab := table{}
	tab.put("forever", []byte("f"), 0, t0)
	tab.put("short", []byte("s"), time.Second, t0)
	if v, ok := tab.lookup("short", t0.Add(time.Second-1)); !ok || string(v) != "s" {
		t.Fatalf("before its deadline: %q, %v", v, ok)
	}
	if _, ok := tab.lookup("short", t0.Add(time.Second)); ok {
		t.Fatal("an entry is visible at its deadline")
	}
	if len(tab) != 1 {
		t.Fatalf("a lookup of an expired entry left %d entries, want 1", len(tab))
	}
	tab.put("a", nil, time.Millisecond, t0)
	tab.put("b", nil, time.Millisecond, t0)
	if n := tab.sweep(t0.Add(time.Hour)); n != 2 || len(tab) != 1 {
		t.Fatalf("sweep removed %d, left %d; want 2 and 1", n, len(tab))
	}
	if st := tab.del("a", t0); st != StatusNotFound {
		t.Fatalf("del of a swept entry: %d", st)
	}
	if _, ok := tab.lookup("forever", t0.Add(1000*time.Hour)); !ok {
		t.Fatal("ttl 0 expired")
	}
}

func TestTableFull(t *testing.T) {
	t0 := time.Now()
	tab := table{}
	for i := range MaxEntries {
		if st := tab.put(strconv.Itoa(i), nil, time.Second, t0); st != StatusOK {
			t.Fatalf("put %d: %d", i, st)
		}
	}
	if st := tab.put("one more", nil, 0, t0); st != StatusFull {
		t.Fatalf("put into a full table: %d", st)
	}
	if st := tab.put("7", []byte("replaced"), 0, t0); st != StatusOK {
		t.Fatalf("replacing in a full table: %d", st)
	}
	// Once they have expired, they make room.
	if st := tab.put("one more", nil, 0, t0.Add(time.Second)); st != StatusOK || len(tab) != 2 {
		t.Fatalf("put after expiry: %d, %d entries", st, len(tab))
	}
}

func TestStoreSweeps(t *testing.T) {
	s := NewStore(time.Millisecond)
	defer s.Close()
	s.Put("gone", []byte("soon"), time.Millisecond)
	s.Put("kept", []byte("v"), 0)
	deadline := time.Now().Add(5 * time.Second)
	for s.Len() != 1 { // nobody touches "gone": the sweeper removes it
		if time.Now().After(deadline) {
			t.Fatalf("%d entries after the sweeps, want 1", s.Len())
		}
		time.Sleep(time.Millisecond)
	}
	s.Close()
	s.Close() // twice is fine
	if v, ok := s.Get("kept"); !ok || string(v) != "v" {
		t.Fatalf("after Close: %q, %v", v, ok)
	}
}

// answer is what one operation gave, the same shape for both ways.
type answer struct {
	Status int
	Value  string
}

// way is one of the two ways to the store.
type way func(op, key string, val []byte, ttlMs int64) answer

// viaHostModule calls the kv module's handlers as the runtime does, on a
// fake guest memory: key at 0, value at 1 KiB, the get buffer after it.
func viaHostModule(t *testing.T, s *Store) way {
	handlers := map[string]hostapi.Handler{}
	for _, f := range HostModule(s).Funcs {
		handlers[f.Name] = f.Handler
	}
	const keyAt, valAt, bufAt, bufCap = 0, 1 << 10, 100 << 10, 100 << 10
	return func(op, key string, val []byte, ttlMs int64) answer {
		mem := make([]byte, bufAt+bufCap)
		copy(mem[keyAt:], key)
		copy(mem[valAt:], val)
		args := map[string][]int64{
			"put": {keyAt, int64(len(key)), valAt, int64(len(val)), ttlMs},
			"get": {keyAt, int64(len(key)), bufAt, bufCap},
			"del": {keyAt, int64(len(key))},
		}[op]
		c := hostapi.NewCall(args, mem, nil)
		if err := handlers[op](testCtx(t), c); err != nil {
			t.Fatalf("kv.%s(%q): %v", op, key, err)
		}
		res := c.Results()[0]
		switch {
		case op != "get":
			return answer{Status: int(res)}
		case res < 0:
			return answer{Status: StatusNotFound}
		default:
			return answer{Status: StatusOK, Value: string(mem[bufAt : bufAt+res])}
		}
	}
}

// viaProcess sends requests to a kvstore process as a guest would.
func viaProcess(t *testing.T, rt *runtime.Runtime, p *runtime.Process) way {
	return func(op, key string, val []byte, ttlMs int64) answer {
		if val == nil {
			val = []byte{}
		}
		req, err := runtime.EncodeMessage(0, request{Op: op, Key: key, Value: val, TTL: ttlMs})
		if err != nil {
			t.Fatal(err)
		}
		m, err := rt.Request(testCtx(t), p.ID(), req)
		if err != nil {
			t.Fatalf("%s %q: %v", op, key, err)
		}
		var r reply
		if err := runtime.DecodeMessage(m, &r); err != nil {
			t.Fatal(err)
		}
		return answer{r.Status, string(r.Value)}
	}
}

func newRuntime(t *testing.T, opts ...runtime.Option) *runtime.Runtime {
	opts = append(opts, runtime.WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil))))
	rt, err := runtime.New(opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { rt.Close(testCtx(t)) })
	return rt
}

func TestBothWaysGiveTheSameAnswers(t *testing.T) {
	store := NewStore(time.Millisecond)
	defer store.Close()
	rt := newRuntime(t, runtime.WithHostModule(HostModule(store)))
	p, err := rt.Environment().SpawnGo(testCtx(t), "kvstore", Serve(time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	ok := func(v string) answer { return answer{StatusOK, v} }
	missing, invalid := answer{Status: StatusNotFound}, answer{Status: StatusInvalid}
	script := []struct {
		op, key string
		val     string
		ttlMs   int64
		sleep   time.Duration // before the step
		want    answer
	}{
		{op: "get", key: "k", want: missing},
		{op: "put", key: "k", val: "v1", want: ok("")},
		{op: "get", key: "k", want: ok("v1")},
		{op: "put", key: "k", val: "v2", ttlMs: 60_000, want: ok("")},
		{op: "get", key: "k", want: ok("v2")},
		{op: "put", key: "empty", want: ok("")},
		{op: "get", key: "empty", want: ok("")},
		{op: "put", key: "brief", val: "x", ttlMs: 1, want: ok("")},
		{op: "get", key: "brief", sleep: 20 * time.Millisecond, want: missing},
		{op: "del", key: "brief", want: missing},
		{op: "del", key: "k", want: ok("")},
		{op: "get", key: "k", want: missing},
		{op: "del", key: "k", want: missing},
		{op: "put", key: "", val: "v", want: invalid},
		{op: "put", key: "k", val: "v", ttlMs: -1, want: invalid},
		{op: "put", key: "k", val: "v", ttlMs: math.MaxInt64, want: invalid},
		{op: "put", key: strings.Repeat("k", MaxKeyLen+1), want: invalid},
		{op: "put", key: "k", val: strings.Repeat("v", MaxValueLen+1), want: invalid},
		{op: "put", key: "k", val: strings.Repeat("v", MaxValueLen), want: ok("")},
		{op: "get", key: "k", want: ok(strings.Repeat("v", MaxValueLen))},
	}
	ways := map[string]way{"host module": viaHostModule(t, store), "process": viaProcess(t, rt, p)}
	for name, do := range ways {
		for i, s := range script {
			time.Sleep(s.sleep)
			if got := do(s.op, s.key, []byte(s.val), s.ttlMs); got != s.want {
				t.Errorf("%s, step %d, %s %.20q: got %d %.20q, want %d %.20q", name, i, s.op, s.key, got.Status, got.Value, s.want.Status, s.want.Value)
			}
		}
	}
}

func TestGetWithASmallBuffer(t *testing.T) {
	store := NewStore(time.Hour)
	defer store.Close()
	store.Put("k", []byte("0123456789"), 0)
	var get hostapi.Handler
	for _, f := range HostModule(store).Funcs {
		if f.Name == "get" {
			get = f.Handler
		}
	}
	mem := []byte("k_________________")
	c := hostapi.NewCall([]int64{0, 1, 2, 4}, mem, nil)
	if err := get(testCtx(t), c); err != nil {
		t.Fatal(err)
	}
	if n := c.Results()[0]; n != 10 || string(mem) != "k_________________" {
		t.Fatalf("get into 4 bytes returned %d and left %q; want 10 and nothing written", n, mem)
	}
}

func TestProcessSurvivesGarbage(t *testing.T) {
	rt := newRuntime(t)
	p, err := rt.Environment().SpawnGo(testCtx(t), "kvstore", Serve(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	for _, data := range [][]byte{nil, []byte("not cbor"), {0x84, 0x63, 'z', 'a', 'p', 0x60, 0x40, 0x00}} {
		m, err := rt.Request(testCtx(t), p.ID(), runtime.Message{Data: data})
		if err != nil {
			t.Fatal(err)
		}
		var r reply
		if err := runtime.DecodeMessage(m, &r); err != nil || r.Status != StatusInvalid || r.Value == nil {
			t.Fatalf("reply to %q: %+v, %v", data, r, err)
		}
	}
	if p.Reason() != nil {
		t.Fatalf("the process ended: %v", p.Reason())
	}
}

func TestBadPointerTrapsOnlyThatGuest(t *testing.T) {
	store := NewStore(time.Hour)
	defer store.Close()
	rt := newRuntime(t, runtime.WithHostModule(HostModule(store)))
	env := rt.Environment()
	kv, err := env.SpawnGo(testCtx(t), "kvstore", Serve(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if err := env.Register("kvstore", "1.0.0", kv); err != nil {
		t.Fatal(err)
	}
	mod, err := rt.LoadModule(testCtx(t), "kvguest", kvguestWasm)
	if err != nil {
		t.Fatal(err)
	}
	// Two guests mid-script (they sleep 150 ms in it) when the third traps.
	var bystanders []*runtime.Process
	for _, entry := range []string{"host", "process"} {
		p, err := env.Spawn(testCtx(t), mod, entry)
		if err != nil {
			t.Fatal(err)
		}
		bystanders = append(bystanders, p)
	}
	reason, err := env.Run(testCtx(t), mod, "bad_pointer")
	var te *runtime.TrapError
	if err != nil || !errors.As(reason, &te) || !strings.Contains(te.Message, "kv.get: "+hostapi.ErrBadPointer.Error()) {
		t.Fatalf("bad_pointer: %v, %v", reason, err)
	}
	for _, p := range bystanders {
		if reason, err := p.Wait(testCtx(t)); err != nil || reason != runtime.Normal {
			t.Fatalf("%v: %v, %v", p, reason, err)
		}
	}
	if kv.Reason() != nil {
		t.Fatalf("the kvstore process ended: %v", kv.Reason())
	}
	if v, ok := store.Get("color"); !ok || string(v) != "teal" {
		t.Fatalf("store: color = %q, %v", v, ok)
	}

	// Each accessor of each handler checks its range before anything else.
	for _, f := range HostModule(store).Funcs {
		mem := make([]byte, 64)
		for ptr := 0; ptr+1 < len(f.Params); ptr += 2 { // the (ptr, len) pairs
			args := []int64{0, 1, 0, 1, 0}[:len(f.Params)]
			args[ptr], args[ptr+1] = 60, 8 // [60, 68) in 64 bytes
			err := f.Handler(testCtx(t), hostapi.NewCall(args, mem, nil))
			if !errors.Is(err, hostapi.ErrBadPointer) {
				t.Errorf("kv.%s%v: %v, want ErrBadPointer", f.Name, args, err)
			}
		}
	}
}
