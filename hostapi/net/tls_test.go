package net_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"fmt"
	"io"
	"log/slog"
	"math/big"
	gonet "net"
	"testing"
	"time"

	"github.com/wardrt/ward/environment"
	wardnet "github.com/wardrt/ward/hostapi/net"
	"github.com/wardrt/ward/internal/abi"
	"github.com/wardrt/ward/runtime"
)

// testCert makes a self-signed certificate for ok.example.com and
// 127.0.0.1, and the pool that trusts it.
func testCert(t *testing.T) (tls.Certificate, *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "ok.example.com"},
		DNSNames:              []string{"ok.example.com"},
		IPAddresses:           []gonet.IP{gonet.IPv4(127, 0, 0, 1)},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(leaf)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}, pool
}

// tlsWAT: client dials the string at 1024 and speaks TLS verifying the
// name at 2048 (name_len 0: the dialled host), sends "hi" and exits with
// 100+the bytes it read back; server listens on the string, accepts one
// connection, serves TLS and echoes once.
func tlsWAT(host string) string {
	return fmt.Sprintf(`(module
  (import "ward_net" "tcp_connect" (func $connect (param i32 i32 i32 i32 i32) (result i32)))
  (import "ward_net" "tcp_listen" (func $listen (param i32 i32 i32 i32) (result i32)))
  (import "ward_net" "tcp_accept" (func $accept (param i32 i32 i32) (result i32)))
  (import "ward_net" "read" (func $read (param i32 i32 i32 i32 i32) (result i32)))
  (import "ward_net" "write" (func $write (param i32 i32 i32 i32 i32) (result i32)))
  (import "ward_net" "tls_client" (func $tlsc (param i32 i32 i32 i32) (result i32)))
  (import "ward_net" "tls_server" (func $tlss (param i32 i32) (result i32)))
  (import "ward_process" "exit" (func $exit (param i32)))
  (memory (export "memory") 1)
  (data (i32.const 1024) %q)
  (data (i32.const 2048) "wrong.example.com")
  (data (i32.const 3072) "hi")
  (func $check (param $st i32) (if (local.get $st) (then (call $exit (local.get $st)))))
  (func (export "client") (param $port i32) (param $name_len i32) (local $h i32)
    (call $check (call $connect (i32.const 1024) (i32.const %d) (local.get $port) (i32.const 10000) (i32.const 0)))
    (local.set $h (i32.load (i32.const 0)))
    (call $check (call $tlsc (local.get $h) (i32.const 2048) (local.get $name_len) (i32.const 10000)))
    (call $check (call $write (local.get $h) (i32.const 3072) (i32.const 2) (i32.const 10000) (i32.const 8)))
    (call $check (call $read (local.get $h) (i32.const 4096) (i32.const 16) (i32.const 10000) (i32.const 8)))
    (call $exit (i32.add (i32.const 100) (i32.load (i32.const 8)))))
  (func (export "server") (param $port i32) (local $c i32) (local $n i32)
    (call $check (call $listen (i32.const 1024) (i32.const %d) (local.get $port) (i32.const 0)))
    (call $check (call $accept (i32.load (i32.const 0)) (i32.const 0) (i32.const 4)))
    (local.set $c (i32.load (i32.const 4)))
    (call $check (call $tlss (local.get $c) (i32.const 10000)))
    (call $check (call $read (local.get $c) (i32.const 4096) (i32.const 16) (i32.const 10000) (i32.const 8)))
    (call $check (call $write (local.get $c) (i32.const 4096) (i32.load (i32.const 8)) (i32.const 10000) (i32.const 12)))))`,
		host, len(host), len(host))
}

func tlsRuntime(t *testing.T, cfg wardnet.Config, opts wardnet.Options) *runtime.Runtime {
	t.Helper()
	opts.Lookup = names
	rt, err := runtime.New(runtime.WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil))),
		runtime.WithHostModule(wardnet.Module(opts)),
		runtime.WithRootEnvironment(environment.Config{Host: map[string]environment.HostConfig{wardnet.Namespace: cfg}}))
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

// A guest's TLS client verifies the server against the embedder's roots,
// for the dialled name or the one it gives: the right name talks, a wrong
// name or unknown roots end the handshake with ErrClosed.
func TestTLSClient(t *testing.T) {
	cert, pool := testCert(t)
	l, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{cert}})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				buf := make([]byte, 2)
				if _, err := io.ReadFull(c, buf); err == nil {
					c.Write(buf)
				}
			}()
		}
	}()
	p := uint16(l.Addr().(*gonet.TCPAddr).Port)
	for _, tc := range []struct {
		roots   *x509.CertPool
		nameLen int
		want    int
	}{
		{pool, 0, 102},            // ok.example.com, the name dialled
		{pool, 17, abi.ErrClosed}, // wrong.example.com
		{nil, 0, abi.ErrClosed},   // the system's roots do not know the test's
	} {
		var opts wardnet.Options
		if tc.roots != nil {
			opts.TLSClient = &tls.Config{RootCAs: tc.roots}
		}
		rt := tlsRuntime(t, loopbackConfig(p, 0), opts)
		m, err := rt.LoadModule(testCtx(t), "guest", []byte(tlsWAT("ok.example.com")))
		if err != nil {
			t.Fatal(err)
		}
		reason, err := rt.Environment().Run(testCtx(t), m, "client", i32(int(p)), i32(tc.nameLen))
		if err != nil || code(reason) != tc.want {
			t.Errorf("roots %v, name_len %d: %v %v, want status %d", tc.roots != nil, tc.nameLen, reason, err, tc.want)
		}
	}
}

// A guest's TLS server presents the embedder's certificate to a Go
// client, where the environment grants TLSServer; elsewhere tls_server
// is refused with ErrPermission.
func TestTLSServer(t *testing.T) {
	cert, pool := testCert(t)
	for _, granted := range []bool{true, false} {
		lp := freePort(t)
		cfg := loopbackConfig(1, lp)
		cfg.TLSServer = granted
		rt := tlsRuntime(t, cfg, wardnet.Options{TLSServer: &tls.Config{Certificates: []tls.Certificate{cert}}})
		m, err := rt.LoadModule(testCtx(t), "guest", []byte(tlsWAT("127.0.0.1")))
		if err != nil {
			t.Fatal(err)
		}
		proc, err := rt.Environment().Spawn(testCtx(t), m, "server", i32(int(lp)))
		if err != nil {
			t.Fatal(err)
		}
		var c gonet.Conn
		for deadline := time.Now().Add(hangGuard); ; time.Sleep(10 * time.Millisecond) {
			if c, err = gonet.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", lp)); err == nil {
				break
			}
			if time.Now().After(deadline) {
				t.Fatal(err)
			}
		}
		tc := tls.Client(c, &tls.Config{RootCAs: pool, ServerName: "ok.example.com"})
		tc.SetDeadline(time.Now().Add(hangGuard))
		_, werr := tc.Write([]byte("hi"))
		got := make([]byte, 2)
		if werr == nil {
			_, werr = io.ReadFull(tc, got)
		}
		tc.Close()
		reason, err := proc.Wait(testCtx(t))
		if err != nil {
			t.Fatal(err)
		}
		if granted && (werr != nil || string(got) != "hi" || !reason.Normal()) {
			t.Errorf("granted: client %q %v; guest %v", got, werr, reason)
		}
		if !granted && (werr == nil || code(reason) != abi.ErrPermission) {
			t.Errorf("not granted: client %v; guest %v, want status ErrPermission", werr, reason)
		}
	}
}
