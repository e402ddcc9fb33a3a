package net_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	gonet "net"
	"net/netip"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wardrt/ward/environment"
	wardnet "github.com/wardrt/ward/hostapi/net"
	"github.com/wardrt/ward/internal/abi"
	"github.com/wardrt/ward/runtime"
)

// hangGuard bounds every wait of these tests; it is never what a test
// asserts.
const hangGuard = 30 * time.Second

func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), hangGuard)
	t.Cleanup(cancel)
	return ctx
}

// names is the resolver of these tests: ok.example.com is on loopback,
// evil.example.com in a network no Config here allows, local.test on
// loopback but under no pattern.
func names(_ context.Context, host string) ([]netip.Addr, error) {
	switch host {
	case "ok.example.com", "local.test":
		return []netip.Addr{netip.MustParseAddr("127.0.0.1")}, nil
	case "evil.example.com":
		return []netip.Addr{netip.MustParseAddr("10.1.2.3")}, nil
	case "two.example.com":
		return []netip.Addr{netip.MustParseAddr("10.1.2.3"), netip.MustParseAddr("::ffff:127.0.0.1")}, nil
	}
	return nil, errors.New("no such host")
}

func newRuntime(t *testing.T, cfg environment.HostConfig) *runtime.Runtime {
	t.Helper()
	opts := []runtime.Option{
		runtime.WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil))),
		runtime.WithHostModule(wardnet.Module(wardnet.Options{Lookup: names})),
	}
	if cfg != nil {
		opts = append(opts, runtime.WithRootEnvironment(environment.Config{
			Host: map[string]environment.HostConfig{wardnet.Namespace: cfg},
		}))
	}
	rt, err := runtime.New(opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), hangGuard)
		defer cancel()
		rt.Close(ctx)
	})
	return rt
}

// guestWAT is a guest whose entries use ward_net on the string at 1024
// (a host, a name or an address) and exit with the status they got.
func guestWAT(s string) string {
	return fmt.Sprintf(`(module
  (import "ward_net" "resolve" (func $resolve (param i32 i32 i32 i32 i32) (result i32)))
  (import "ward_net" "tcp_connect" (func $connect (param i32 i32 i32 i32 i32) (result i32)))
  (import "ward_net" "tcp_listen" (func $listen (param i32 i32 i32 i32) (result i32)))
  (import "ward_net" "tcp_accept" (func $accept (param i32 i32 i32) (result i32)))
  (import "ward_net" "local_port" (func $lport (param i32 i32) (result i32)))
  (import "ward_net" "read" (func $read (param i32 i32 i32 i32 i32) (result i32)))
  (import "ward_net" "write" (func $write (param i32 i32 i32 i32 i32) (result i32)))
  (import "ward_net" "close" (func $close (param i32) (result i32)))
  (import "ward_net" "udp_bind" (func $ubind (param i32 i32 i32 i32) (result i32)))
  (import "ward_net" "udp_send_to" (func $usend (param i32 i32 i32 i32 i32 i32) (result i32)))
  (import "ward_net" "udp_recv_from" (func $urecv (param i32 i32 i32 i32 i32) (result i32)))
  (import "ward_process" "exit" (func $exit (param i32)))
  (memory (export "memory") 1)
  (data (i32.const 1024) %q)
  (func $check (param $st i32) (if (local.get $st) (then (call $exit (local.get $st)))))

  ;; connect to the string on port; mode 0 returns, 1 traps, 2 blocks in
  ;; a read until killed, 3 exits with 100+the local port's parity check.
  (func (export "connect") (param $port i32) (param $mode i32) (local $h i32)
    (call $check (call $connect (i32.const 1024) (i32.const %d) (local.get $port) (i32.const 10000) (i32.const 0)))
    (local.set $h (i32.load (i32.const 0)))
    (if (i32.eq (local.get $mode) (i32.const 1)) (then unreachable))
    (if (i32.eq (local.get $mode) (i32.const 2)) (then
      (drop (call $read (local.get $h) (i32.const 4096) (i32.const 16) (i32.const 0) (i32.const 8)))
      (call $exit (i32.const 99)))))

  ;; connect n times, holding every connection: exit with the first
  ;; status that is not OK
  (func (export "connect_n") (param $port i32) (param $n i32)
    (loop $l
      (call $check (call $connect (i32.const 1024) (i32.const %d) (local.get $port) (i32.const 10000) (i32.const 0)))
      (local.set $n (i32.sub (local.get $n) (i32.const 1)))
      (br_if $l (local.get $n))))

  ;; resolve the string: exit 100+count
  (func (export "resolve") (local $st i32)
    (call $check (call $resolve (i32.const 1024) (i32.const %d) (i32.const 2048) (i32.const 4) (i32.const 8)))
    (call $exit (i32.add (i32.const 100) (i32.load (i32.const 8)))))

  ;; listen on the string and port, then return
  (func (export "listen") (param $port i32)
    (call $check (call $listen (i32.const 1024) (i32.const %d) (local.get $port) (i32.const 0))))

  ;; close a handle number this process never got
  (func (export "close") (param $h i32)
    (call $exit (call $close (local.get $h))))

  ;; read from a handle number this process never got
  (func (export "read") (param $h i32)
    (call $exit (call $read (local.get $h) (i32.const 4096) (i32.const 16) (i32.const 0) (i32.const 8))))

  ;; an echo server on the string and port: each connection's bytes
  ;; back until it ends, then the next connection
  (func (export "echo") (param $port i32) (local $l i32) (local $c i32) (local $n i32)
    (call $check (call $listen (i32.const 1024) (i32.const %d) (local.get $port) (i32.const 0)))
    (local.set $l (i32.load (i32.const 0)))
    (loop $conns
      (call $check (call $accept (local.get $l) (i32.const 0) (i32.const 4)))
      (local.set $c (i32.load (i32.const 4)))
      (block $done (loop $bytes
        (call $check (call $read (local.get $c) (i32.const 4096) (i32.const 4096) (i32.const 0) (i32.const 8)))
        (local.set $n (i32.load (i32.const 8)))
        (br_if $done (i32.eqz (local.get $n)))
        (call $check (call $write (local.get $c) (i32.const 4096) (local.get $n) (i32.const 0) (i32.const 12)))
        (br $bytes)))
      (drop (call $close (local.get $c)))
      (br $conns)))

  ;; bind UDP on the string and port, receive one datagram and send it
  ;; back to its sender's port on the string's address; exit with the
  ;; send's status
  (func (export "udp_echo") (param $port i32) (local $h i32)
    (call $check (call $ubind (i32.const 1024) (i32.const %d) (local.get $port) (i32.const 0)))
    (local.set $h (i32.load (i32.const 0)))
    (call $check (call $urecv (local.get $h) (i32.const 4096) (i32.const 4096) (i32.const 0) (i32.const 64)))
    (call $exit (call $usend (local.get $h) (i32.const 1024) (i32.const %d) (i32.load (i32.const 80))
      (i32.const 4096) (i32.load (i32.const 84)))))

  ;; hostile calls: a host outside memory, a huge resolve buffer, a
  ;; negative timeout
  (func (export "bad_host") (drop (call $connect (i32.const 65530) (i32.const 100) (i32.const 80) (i32.const 0) (i32.const 0))))
  (func (export "bad_buf") (drop (call $resolve (i32.const 1024) (i32.const %d) (i32.const 0) (i32.const 0x10000000) (i32.const 8))))
  (func (export "bad_timeout") (param $port i32)
    (call $exit (call $connect (i32.const 1024) (i32.const %d) (local.get $port) (i32.const -1) (i32.const 0)))))`,
		s, len(s), len(s), len(s), len(s), len(s), len(s), len(s), len(s), len(s))
}

// run runs entry of a guest for s in env and returns its exit status: 0
// for a normal end, the code it exited with, or -1 for anything else.
func run(t *testing.T, env *runtime.Environment, s, entry string, params ...runtime.Value) int {
	t.Helper()
	m, err := env.Runtime().LoadModule(testCtx(t), "guest", []byte(guestWAT(s)))
	if err != nil {
		t.Fatal(err)
	}
	reason, err := env.Run(testCtx(t), m, entry, params...)
	if err != nil {
		t.Fatal(err)
	}
	return code(reason)
}

func code(r runtime.Reason) int {
	var ee *runtime.ExitError
	switch {
	case r.Normal():
		return 0
	case errors.As(r, &ee):
		return ee.Code
	}
	return -1
}

// server is a Go TCP listener on loopback that accepts and holds every
// connection until the test ends.
func server(t *testing.T) uint16 {
	t.Helper()
	p, _ := countingServer(t)
	return p
}

// freePort returns a loopback port nothing listens on (just now).
func freePort(t *testing.T) uint16 {
	l, err := gonet.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return uint16(l.Addr().(*gonet.TCPAddr).Port)
}

func loopbackConfig(connectPort, listenPort uint16) wardnet.Config {
	return wardnet.Config{
		ConnectHosts: []string{"*.example.com"},
		ConnectNets:  []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")},
		ConnectPorts: []wardnet.PortRange{wardnet.Port(connectPort)},
		ListenNets:   []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")},
		ListenPorts:  []wardnet.PortRange{wardnet.Port(listenPort)},
		ResolveHosts: []string{"*.example.com"},
	}
}

func i32(v int) runtime.Value { return runtime.I32(int32(v)) }

// Every allow-list check, each refusal with ErrPermission: host pattern,
// network (for an address and for a permitted name that resolves into
// another network), port, listen address and port, resolve.
func TestAllowLists(t *testing.T) {
	p, lp := server(t), freePort(t)
	env := newRuntime(t, loopbackConfig(p, lp)).Environment()
	for _, tc := range []struct {
		s, entry string
		params   []runtime.Value
		want     int
	}{
		{"127.0.0.1", "connect", []runtime.Value{i32(int(p)), i32(0)}, abi.OK},
		{"ok.example.com", "connect", []runtime.Value{i32(int(p)), i32(0)}, abi.OK},
		{"OK.Example.com.", "connect", []runtime.Value{i32(int(p)), i32(0)}, abi.OK},
		{"two.example.com", "connect", []runtime.Value{i32(int(p)), i32(0)}, abi.OK}, // the allowed one of its addresses
		{"local.test", "connect", []runtime.Value{i32(int(p)), i32(0)}, abi.ErrPermission},
		{"example.com", "connect", []runtime.Value{i32(int(p)), i32(0)}, abi.ErrPermission},
		{"evil.example.com", "connect", []runtime.Value{i32(int(p)), i32(0)}, abi.ErrPermission},
		{"10.1.2.3", "connect", []runtime.Value{i32(int(p)), i32(0)}, abi.ErrPermission},
		{"::ffff:10.1.2.3", "connect", []runtime.Value{i32(int(p)), i32(0)}, abi.ErrPermission},
		{"127.0.0.1", "connect", []runtime.Value{i32(int(p) ^ 1), i32(0)}, abi.ErrPermission},
		{"nx.example.com", "connect", []runtime.Value{i32(int(p)), i32(0)}, abi.ErrNotFound},
		{"bad host!", "connect", []runtime.Value{i32(int(p)), i32(0)}, abi.ErrInvalid},
		{"127.0.0.1", "connect", []runtime.Value{i32(70000), i32(0)}, abi.ErrInvalid},
		{"ok.example.com", "resolve", nil, 101},
		{"local.test", "resolve", nil, abi.ErrPermission},
		{"nx.example.com", "resolve", nil, abi.ErrNotFound},
		{"127.0.0.1", "resolve", nil, abi.ErrInvalid},
		{"127.0.0.1", "listen", []runtime.Value{i32(int(lp))}, abi.OK},
		{"127.0.0.2", "listen", []runtime.Value{i32(int(lp))}, abi.ErrPermission},
		{"127.0.0.1", "listen", []runtime.Value{i32(int(lp) ^ 1)}, abi.ErrPermission},
		{"127.0.0.1", "listen", []runtime.Value{i32(0)}, abi.ErrPermission},
		{"localhost", "listen", []runtime.Value{i32(int(lp))}, abi.ErrInvalid},
	} {
		if got := run(t, env, tc.s, tc.entry, tc.params...); got != tc.want {
			t.Errorf("%s %q %v: status %d, want %d", tc.entry, tc.s, tc.params, got, tc.want)
		}
	}
}

// With no Config for ward_net the root allows nothing: every connect,
// listen and resolve is refused before its handler runs.
func TestNothingAllowedByDefault(t *testing.T) {
	p := server(t)
	env := newRuntime(t, nil).Environment()
	for _, entry := range []string{"connect", "listen", "resolve"} {
		params := map[string][]runtime.Value{"connect": {i32(int(p)), i32(0)}, "listen": {i32(int(p))}}[entry]
		if got := run(t, env, "127.0.0.1", entry, params...); got != abi.ErrPermission {
			t.Errorf("%s by default: status %d, want ErrPermission", entry, got)
		}
	}
}

// A child environment narrows: what it drops is refused there, what it
// keeps still works, and asking for more than the parent is ErrWiden.
func TestChildNarrows(t *testing.T) {
	p, lp := server(t), freePort(t)
	rt := newRuntime(t, loopbackConfig(p, lp))
	child, err := rt.NewEnvironment(environment.Config{Host: map[string]environment.HostConfig{wardnet.Namespace: wardnet.Config{
		ConnectHosts: []string{"ok.example.com"},
		ConnectNets:  []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")},
		ConnectPorts: []wardnet.PortRange{wardnet.Port(p)},
	}}})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		s, entry string
		params   []runtime.Value
		want     int
	}{
		{"ok.example.com", "connect", []runtime.Value{i32(int(p)), i32(0)}, abi.OK},
		{"127.0.0.1", "connect", []runtime.Value{i32(int(p)), i32(0)}, abi.OK},
		{"two.example.com", "connect", []runtime.Value{i32(int(p)), i32(0)}, abi.ErrPermission},
		{"127.0.0.2", "connect", []runtime.Value{i32(int(p)), i32(0)}, abi.ErrPermission},
		{"ok.example.com", "resolve", nil, abi.ErrPermission},
		{"127.0.0.1", "listen", []runtime.Value{i32(int(lp))}, abi.ErrPermission},
	} {
		if got := run(t, child, tc.s, tc.entry, tc.params...); got != tc.want {
			t.Errorf("child: %s %q: status %d, want %d", tc.entry, tc.s, got, tc.want)
		}
	}
	for i, wider := range []wardnet.Config{
		{ConnectHosts: []string{"*.example.com"}},
		{ConnectHosts: []string{"*"}},
		{ConnectNets: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}},
		{ConnectPorts: []wardnet.PortRange{{p, p + 1}}},
		{ResolveHosts: []string{"ok.example.com"}},
		{ListenNets: []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}},
		{MaxHandles: wardnet.DefaultMaxHandles + 1},
		{TLSServer: true},
	} {
		_, err := child.NewChild(environment.Config{Host: map[string]environment.HostConfig{wardnet.Namespace: wider}})
		if !errors.Is(err, environment.ErrWiden) {
			t.Errorf("wider child %d: %v, want ErrWiden", i, err)
		}
	}
}

func openFDs(t *testing.T) int {
	t.Helper()
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Skip("no /proc/self/fd:", err)
	}
	return len(ents)
}

// Whatever way a process ends (returned, trapped, killed while blocked in
// a read), the connection it opened is closed by then: no descriptor is
// left.
func TestHandlesClosedWhenProcessEnds(t *testing.T) {
	l, err := gonet.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	p := uint16(l.Addr().(*gonet.TCPAddr).Port)
	rt := newRuntime(t, loopbackConfig(p, 0))
	m, err := rt.LoadModule(testCtx(t), "guest", []byte(guestWAT("127.0.0.1")))
	if err != nil {
		t.Fatal(err)
	}
	for mode, name := range []string{"return", "trap", "kill"} {
		before := openFDs(t)
		proc, err := rt.Environment().Spawn(testCtx(t), m, "connect", i32(int(p)), i32(mode))
		if err != nil {
			t.Fatal(err)
		}
		c, err := l.Accept()
		if err != nil {
			t.Fatal(err)
		}
		if name == "kill" {
			proc.Kill()
		}
		reason, err := proc.Wait(testCtx(t))
		if err != nil {
			t.Fatal(err)
		}
		// The guest's end of the connection is closed: the peer reads EOF.
		c.SetReadDeadline(time.Now().Add(hangGuard))
		if _, err := c.Read(make([]byte, 1)); err != io.EOF {
			t.Errorf("%s (%v): the peer read %v, want EOF", name, reason, err)
		}
		c.Close()
		if after := openFDs(t); after != before {
			t.Errorf("%s (%v): %d descriptors open, %d before", name, reason, after, before)
		}
	}
}

// A handle is the process's own: another process's number finds nothing,
// and does not touch the owner's connection.
func TestOtherProcessHandleRefused(t *testing.T) {
	l, err := gonet.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	p := uint16(l.Addr().(*gonet.TCPAddr).Port)
	rt := newRuntime(t, loopbackConfig(p, 0))
	m, err := rt.LoadModule(testCtx(t), "guest", []byte(guestWAT("127.0.0.1")))
	if err != nil {
		t.Fatal(err)
	}
	owner, err := rt.Environment().Spawn(testCtx(t), m, "connect", i32(int(p)), i32(2))
	if err != nil {
		t.Fatal(err)
	}
	c, err := l.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	for _, entry := range []string{"read", "close"} {
		if got := run(t, rt.Environment(), "", entry, i32(1)); got != abi.ErrNotFound {
			t.Errorf("%s of another process's handle 1: status %d, want ErrNotFound", entry, got)
		}
	}
	// The owner's connection still works: it reads what the peer sends.
	if _, err := c.Write([]byte("x")); err != nil {
		t.Fatal(err)
	}
	reason, err := owner.Wait(testCtx(t))
	if err != nil || code(reason) != 99 {
		t.Fatalf("owner ended %v %v, want exit 99 after its read", reason, err)
	}
}

// A guest's bad pointers trap it; a negative timeout is ErrInvalid.
func TestHostileGuest(t *testing.T) {
	p := server(t)
	env := newRuntime(t, loopbackConfig(p, 0)).Environment()
	for _, entry := range []string{"bad_host", "bad_buf"} {
		m, err := env.Runtime().LoadModule(testCtx(t), "guest", []byte(guestWAT("ok.example.com")))
		if err != nil {
			t.Fatal(err)
		}
		reason, err := env.Run(testCtx(t), m, entry)
		var te *runtime.TrapError
		if err != nil || !errors.As(reason, &te) {
			t.Errorf("%s: %v %v, want a trap", entry, reason, err)
		}
	}
	if got := run(t, env, "127.0.0.1", "bad_timeout", i32(int(p))); got != abi.ErrInvalid {
		t.Errorf("negative timeout: status %d, want ErrInvalid", got)
	}
}

// A WAT echo server serves a Go client over loopback; killing it closes
// its listener and connections.
func TestEchoServer(t *testing.T) {
	lp := freePort(t)
	rt := newRuntime(t, loopbackConfig(1, lp))
	m, err := rt.LoadModule(testCtx(t), "guest", []byte(guestWAT("127.0.0.1")))
	if err != nil {
		t.Fatal(err)
	}
	before := openFDs(t)
	proc, err := rt.Environment().Spawn(testCtx(t), m, "echo", i32(int(lp)))
	if err != nil {
		t.Fatal(err)
	}
	addr := fmt.Sprintf("127.0.0.1:%d", lp)
	var c gonet.Conn
	for deadline := time.Now().Add(hangGuard); ; {
		if c, err = gonet.Dial("tcp", addr); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal(err)
		}
		time.Sleep(10 * time.Millisecond)
	}
	for i := range 3 {
		msg := strings.Repeat(fmt.Sprint(i), 1000*(i+1))
		if _, err := c.Write([]byte(msg)); err != nil {
			t.Fatal(err)
		}
		got := make([]byte, len(msg))
		c.SetReadDeadline(time.Now().Add(hangGuard))
		if _, err := io.ReadFull(c, got); err != nil || string(got) != msg {
			t.Fatalf("echo %d: %v", i, err)
		}
	}
	c.Close()
	// A second client after the first one left.
	c, err = gonet.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	c.Write([]byte("again"))
	got := make([]byte, 5)
	c.SetReadDeadline(time.Now().Add(hangGuard))
	if _, err := io.ReadFull(c, got); err != nil || string(got) != "again" {
		t.Fatalf("second client: %q %v", got, err)
	}
	proc.Kill()
	if _, err := proc.Wait(testCtx(t)); err != nil {
		t.Fatal(err)
	}
	c.SetReadDeadline(time.Now().Add(hangGuard))
	if _, err := c.Read(got); err != io.EOF {
		t.Errorf("after the kill the client read %v, want EOF", err)
	}
	c.Close()
	if after := openFDs(t); after != before {
		t.Errorf("%d descriptors open, %d before", after, before)
	}
}

// A WAT guest echoes a datagram back to a Go UDP socket; where the
// environment does not allow the Go socket's port as a destination, the
// send is refused and nothing comes back.
func TestUDP(t *testing.T) {
	for _, allowed := range []bool{true, false} {
		g, err := gonet.ListenUDP("udp", gonet.UDPAddrFromAddrPort(netip.MustParseAddrPort("127.0.0.1:0")))
		if err != nil {
			t.Fatal(err)
		}
		defer g.Close()
		gp := uint16(g.LocalAddr().(*gonet.UDPAddr).Port)
		lp := freePort(t)
		cfg := loopbackConfig(gp, lp)
		if !allowed {
			cfg.ConnectPorts = []wardnet.PortRange{wardnet.Port(gp + 1)}
		}
		rt := newRuntime(t, cfg)
		m, err := rt.LoadModule(testCtx(t), "guest", []byte(guestWAT("127.0.0.1")))
		if err != nil {
			t.Fatal(err)
		}
		proc, err := rt.Environment().Spawn(testCtx(t), m, "udp_echo", i32(int(lp)))
		if err != nil {
			t.Fatal(err)
		}
		// Send until the guest has bound and answered or ended: a
		// datagram sent before its bind is lost.
		to := gonet.UDPAddrFromAddrPort(netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), lp))
		ctx := testCtx(t)
		ended := make(chan struct{})
		go func() { proc.Wait(ctx); close(ended) }()
		var reply []byte
	send:
		for {
			g.WriteTo([]byte("ping"), to)
			buf := make([]byte, 16)
			g.SetReadDeadline(time.Now().Add(20 * time.Millisecond))
			if n, _, err := g.ReadFrom(buf); err == nil {
				reply = buf[:n]
				break
			}
			select {
			case <-ended:
				break send
			case <-ctx.Done():
				t.Fatal("no answer and no end")
			default:
			}
		}
		reason, _ := proc.Wait(ctx)
		want := abi.OK
		if !allowed {
			want = abi.ErrPermission
		}
		if got := code(reason); got != want || allowed != (string(reply) == "ping") {
			t.Errorf("allowed %v: status %d (%v), reply %q; want status %d", allowed, got, reason, reply, want)
		}
	}
}

// A process holds at most MaxHandles sockets: past it, ErrLimit, and the
// connection it would have had is closed, not kept.
func TestHandleLimit(t *testing.T) {
	p, accepted := countingServer(t)
	cfg := loopbackConfig(p, 0)
	cfg.MaxHandles = 3
	env := newRuntime(t, cfg).Environment()
	if got := run(t, env, "127.0.0.1", "connect_n", i32(int(p)), i32(3)); got != abi.OK {
		t.Fatalf("3 connections under a bound of 3: status %d", got)
	}
	waitAccepted(t, accepted, 3) // the server holds its ends: count them all before
	before := openFDs(t)
	if got := run(t, env, "127.0.0.1", "connect_n", i32(int(p)), i32(4)); got != abi.ErrLimit {
		t.Fatalf("4 connections under a bound of 3: status %d, want ErrLimit", got)
	}
	waitAccepted(t, accepted, 7)
	// The server holds its 4 new ends; ours are all closed.
	if after := openFDs(t); after > before+4 {
		t.Errorf("%d descriptors open, %d before and 4 server ends", after, before)
	}
}

// countingServer accepts connections on loopback and holds them until the
// test ends, counting them.
func countingServer(t *testing.T) (uint16, *atomic.Int64) {
	t.Helper()
	l, err := gonet.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var n atomic.Int64
	done := make(chan struct{})
	go func() {
		defer close(done)
		var held []gonet.Conn
		defer func() {
			for _, c := range held {
				c.Close()
			}
		}()
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			held = append(held, c)
			n.Add(1)
		}
	}()
	t.Cleanup(func() { l.Close(); <-done })
	return uint16(l.Addr().(*gonet.TCPAddr).Port), &n
}

func waitAccepted(t *testing.T, n *atomic.Int64, want int64) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for n.Load() < want {
		if time.Now().After(deadline) {
			t.Fatalf("the server accepted %d connections, want %d", n.Load(), want)
		}
		time.Sleep(time.Millisecond)
	}
}
