package workload

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/netip"
	"time"

	"github.com/wardrt/ward/environment"
	wardnet "github.com/wardrt/ward/hostapi/net"
	"github.com/wardrt/ward/runtime"
)

// EchoMsgSize is the size of one TCP echo request and of its answer.
const EchoMsgSize = 64

// tcpEchoWAT is the guest echo server: listen on 127.0.0.1:port, and for
// each connection write back what it reads until it ends.
const tcpEchoWAT = `(module
  (import "ward_net" "tcp_listen" (func $listen (param i32 i32 i32 i32) (result i32)))
  (import "ward_net" "tcp_accept" (func $accept (param i32 i32 i32) (result i32)))
  (import "ward_net" "read" (func $read (param i32 i32 i32 i32 i32) (result i32)))
  (import "ward_net" "write" (func $write (param i32 i32 i32 i32 i32) (result i32)))
  (import "ward_net" "close" (func $close (param i32) (result i32)))
  (import "ward_process" "exit" (func $exit (param i32)))
  (memory (export "memory") 1)
  (data (i32.const 1024) "127.0.0.1")
  (func $check (param $st i32) (if (local.get $st) (then (call $exit (local.get $st)))))
  (func (export "echo") (param $port i32) (local $l i32) (local $c i32) (local $n i32)
    (call $check (call $listen (i32.const 1024) (i32.const 9) (local.get $port) (i32.const 0)))
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
)`

// TCPEcho is an echo server on loopback: a ward guest on ward_net, or
// the same loop in plain Go.
type TCPEcho struct {
	Addr  string
	close func()
}

// Close stops the server.
func (e *TCPEcho) Close() { e.close() }

// NewGoTCPEcho starts the plain Go echo server: a goroutine per
// connection copying what it reads back.
func NewGoTCPEcho() (*TCPEcho, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go func() {
				buf := make([]byte, 4096)
				for {
					n, err := c.Read(buf)
					if n > 0 {
						if _, werr := c.Write(buf[:n]); werr != nil {
							break
						}
					}
					if err != nil {
						break
					}
				}
				c.Close()
			}()
		}
	}()
	return &TCPEcho{Addr: l.Addr().String(), close: func() { l.Close() }}, nil
}

// NewWardTCPEcho starts the guest echo server in a ward runtime allowed
// to listen on one loopback port.
func NewWardTCPEcho() (*TCPEcho, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	rt, err := runtime.New(runtime.WithHostModule(wardnet.Module(wardnet.Options{})),
		runtime.WithRootEnvironment(environment.Config{Host: map[string]environment.HostConfig{
			wardnet.Namespace: wardnet.Config{
				ListenNets:  []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")},
				ListenPorts: []wardnet.PortRange{wardnet.Port(uint16(port))},
			},
		}}))
	if err != nil {
		return nil, err
	}
	ctx := context.Background()
	stop := func() {
		ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		rt.Close(ctx)
	}
	m, err := rt.LoadModule(ctx, "tcpecho", []byte(tcpEchoWAT))
	if err != nil {
		stop()
		return nil, err
	}
	p, err := rt.Environment().Spawn(ctx, m, "echo", runtime.I32(int32(port)))
	if err != nil {
		stop()
		return nil, err
	}
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	// Wait until it listens: a connection it echoes nothing to.
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		c, err := net.Dial("tcp", addr)
		if err == nil {
			c.Close()
			break
		}
		if time.Now().After(deadline) {
			stop()
			return nil, fmt.Errorf("ward echo guest never listened: %w", err)
		}
	}
	return &TCPEcho{Addr: addr, close: func() { p.Kill(); stop() }}, nil
}

// RequestsPerSecond sends EchoMsgSize-byte requests over one connection,
// each read back in full before the next, for d, and returns requests
// per second. One connection because the guest serves one at a time (its
// handles are its own, so it cannot hand a connection to a worker).
func (e *TCPEcho) RequestsPerSecond(d time.Duration) (float64, error) {
	c, err := net.Dial("tcp", e.Addr)
	if err != nil {
		return 0, err
	}
	defer c.Close()
	msg, got := make([]byte, EchoMsgSize), make([]byte, EchoMsgSize)
	one := func() error {
		if _, err := c.Write(msg); err != nil {
			return err
		}
		_, err := io.ReadFull(c, got)
		return err
	}
	for range 100 { // warm up
		if err := one(); err != nil {
			return 0, err
		}
	}
	done := 0
	start := time.Now()
	for time.Since(start) < d {
		if err := one(); err != nil {
			return 0, err
		}
		done++
	}
	return float64(done) / time.Since(start).Seconds(), nil
}
