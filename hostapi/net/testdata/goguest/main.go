//go:build wasip1

// Command goguest is a Go guest of hostapi/net's tests: package guest's
// Dial, Listen, Accept, Resolve and ListenUDP against the real module.
package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/netip"
	"strings"
	"time"

	"github.com/wardrt/ward/guest"
)

func main() {}

// echo serves an echo on 127.0.0.1:port, one connection after another,
// with io.Copy on the guest's Conn.
//
//go:wasmexport echo
func echo(port int32) {
	l, err := guest.Listen("127.0.0.1", int(port))
	if err != nil {
		panic(err)
	}
	for {
		c, err := l.Accept()
		if err != nil {
			panic(err)
		}
		if _, err := io.Copy(c, c); err != nil {
			panic(err)
		}
		c.Close()
	}
}

// client resolves ok.example.com, talks to the echo server on port
// through it, and checks the refusals and timeouts a guest sees.
//
//go:wasmexport client
func client(port int32) {
	addrs, err := guest.Resolve("ok.example.com")
	if err != nil || len(addrs) != 1 || addrs[0] != netip.MustParseAddr("127.0.0.1") {
		panic(fmt.Sprint("resolve: ", addrs, err))
	}
	if _, err := guest.Resolve("local.test"); !errors.Is(err, guest.ErrPermission) {
		panic(fmt.Sprint("resolve local.test: ", err))
	}
	if _, err := guest.Dial("evil.example.com", int(port)); !errors.Is(err, guest.ErrPermission) {
		panic(fmt.Sprint("dial evil.example.com: ", err))
	}
	c, err := guest.DialTimeout("ok.example.com", int(port), 10*time.Second)
	if err != nil {
		panic(err)
	}
	defer c.Close()
	if _, err := c.Write([]byte("ping")); err != nil {
		panic(err)
	}
	got := make([]byte, 4)
	if _, err := io.ReadFull(c, got); err != nil || string(got) != "ping" {
		panic(fmt.Sprintf("echo: %q %v", got, err))
	}
	// Nothing more comes: a deadline ends the read with ErrTimeout.
	c.SetReadDeadline(time.Now().Add(50 * time.Millisecond))
	if _, err := c.Read(got); !errors.Is(err, guest.ErrTimeout) {
		panic(fmt.Sprint("read past the deadline: ", err))
	}
	// UDP: a datagram to itself, on the same port number as the TCP
	// server (UDP ports are apart); and a refused destination.
	u, err := guest.ListenUDP("127.0.0.1", int(port))
	if err != nil {
		panic(err)
	}
	defer u.Close()
	if err := u.SendTo([]byte("hello"), "ok.example.com", int(port)); err != nil {
		panic(err)
	}
	buf := make([]byte, 16)
	n, from, err := u.RecvFrom(buf)
	if err != nil || string(buf[:n]) != "hello" || from != netip.AddrPortFrom(addrs[0], uint16(port)) {
		panic(fmt.Sprintf("recv_from: %q from %v: %v", buf[:n], from, err))
	}
	if err := u.SendTo([]byte("x"), "evil.example.com", int(port)); !errors.Is(err, guest.ErrPermission) {
		panic(fmt.Sprint("send to evil.example.com: ", err))
	}
}

// tlsping dials ok.example.com:port, speaks TLS verified against the
// embedder's roots, and sends "ping" to read it back.
//
//go:wasmexport tlsping
func tlsping(port int32) {
	c, err := guest.Dial("ok.example.com", int(port))
	if err != nil {
		panic(err)
	}
	defer c.Close()
	if err := c.ClientTLS(""); err != nil {
		panic(err)
	}
	if _, err := c.Write([]byte("ping")); err != nil {
		panic(err)
	}
	got := make([]byte, 4)
	if _, err := io.ReadFull(c, got); err != nil || string(got) != "ping" {
		panic(fmt.Sprintf("tls echo: %q %v", got, err))
	}
}

// httpserve is an HTTP/1.1 server on 127.0.0.1:port, one connection at a
// time (a host call blocks the whole guest, so net/http's server, which
// accepts while another goroutine serves, would stall), keep-alive
// included: it answers "hello <path>".
//
//go:wasmexport httpserve
func httpserve(port int32) {
	l, err := guest.Listen("127.0.0.1", int(port))
	if err != nil {
		panic(err)
	}
	for {
		c, err := l.Accept()
		if err != nil {
			panic(err)
		}
		serveHTTP(c)
		c.Close()
	}
}

func serveHTTP(c *guest.Conn) {
	br := bufio.NewReader(c)
	for {
		req, err := http.ReadRequest(br)
		if err != nil {
			return // the client closed, or sent garbage
		}
		io.Copy(io.Discard, req.Body)
		body := "hello " + req.URL.Path
		resp := &http.Response{
			StatusCode: http.StatusOK, ProtoMajor: 1, ProtoMinor: 1,
			Header:        http.Header{"Content-Type": {"text/plain"}},
			ContentLength: int64(len(body)),
			Body:          io.NopCloser(strings.NewReader(body)),
			Close:         req.Close,
		}
		if err := resp.Write(c); err != nil || req.Close {
			return
		}
	}
}

// resolver is the seed's permission-through-processes pattern: it
// registers as resolve 1.0.0 and answers each request (a host name) with
// the addresses ward_net gives it under its own environment's lists,
// comma-separated, or "error: ...". Processes of an environment without
// network rights get exactly what it chooses to resolve for them.
//
//go:wasmexport resolver
func resolver() {
	if err := guest.Register("resolve", "1.0.0"); err != nil {
		panic(err)
	}
	for {
		m, err := guest.Receive()
		if err != nil {
			panic(err)
		}
		var out string
		if addrs, err := guest.Resolve(string(m.Data)); err != nil {
			out = "error: " + err.Error()
		} else {
			for i, a := range addrs {
				if i > 0 {
					out += ","
				}
				out += a.String()
			}
		}
		guest.Reply(m, []byte(out))
	}
}

// asker runs where nothing on the network is allowed: its own resolve is
// refused, the resolver process answers for the names it allows.
//
//go:wasmexport asker
func asker(resolverPid int64) {
	if _, err := guest.Resolve("ok.example.com"); !errors.Is(err, guest.ErrPermission) {
		panic(fmt.Sprint("own resolve: ", err))
	}
	ask := func(name string) string {
		m, err := guest.Request(guest.ProcessID(resolverPid), []byte(name), 10*time.Second)
		if err != nil {
			panic(err)
		}
		return string(m.Data)
	}
	if got := ask("ok.example.com"); got != "127.0.0.1" {
		panic("ok.example.com through the resolver: " + got)
	}
	if got := ask("local.test"); !strings.Contains(got, "not permitted") {
		panic("local.test through the resolver: " + got)
	}
}
