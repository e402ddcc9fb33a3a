// Command httpserver runs an HTTP/1.1 server written as a Wasm guest on
// ward_net's TCP, and serves it real requests from net/http's client.
//
//	go run ./examples/httpserver
//
// The runtime registers ward_net (package hostapi/net); its root
// environment may listen on 127.0.0.1, on one port picked free at start,
// and do nothing else on the network. The server (httpd.wat) listens
// there and parses requests itself: GET and HEAD get "hello <target>",
// other methods 405, a request that does not parse 400. Connections are
// kept alive between requests unless the client says otherwise. It serves
// one connection at a time, as a process makes one host call at a time.
//
// The program asks it twice over one kept-alive connection, once with
// keep-alives off, sends it a malformed request over a raw connection,
// and kills the process: ward_net closes what a process held when it
// ends, so the listener goes with it and the port is free again.
package main

//go:generate go run ../../internal/tools/wat2wasm httpd.wat

import (
	"context"
	_ "embed"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptrace"
	"net/netip"
	"os"
	"strings"
	"time"

	"github.com/wardrt/ward/environment"
	wardnet "github.com/wardrt/ward/hostapi/net"
	"github.com/wardrt/ward/runtime"
)

//go:embed httpd.wasm
var httpdWasm []byte

func main() {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := run(ctx, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "httpserver:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, out io.Writer) error {
	port, err := freePort()
	if err != nil {
		return err
	}
	d, err := start(ctx, port)
	if err != nil {
		return err
	}
	defer d.rt.Close(ctx)
	if err := d.serve(ctx); err != nil {
		return err
	}
	fmt.Fprintf(out, "server: process %d listens on 127.0.0.1:%d\n", d.server.ID(), port)

	keepAlive := &http.Transport{}
	defer keepAlive.CloseIdleConnections()
	for _, path := range []string{"/hello", "/a/b?c=d"} {
		status, body, reused, err := d.get(ctx, keepAlive, path)
		if err != nil {
			return err
		}
		fmt.Fprintf(out, "GET %s: %s %q (connection reused: %v)\n", path, status, body, reused)
	}
	// The server serves one connection at a time: let the kept-alive one go.
	keepAlive.CloseIdleConnections()
	status, body, _, err := d.get(ctx, &http.Transport{DisableKeepAlives: true}, "/once")
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "GET /once without keep-alive: %s %q\n", status, body)

	line, err := d.raw(ctx, "HELLO?\r\n\r\n")
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "a malformed request: %s\n", line)

	d.server.Kill()
	reason, err := d.server.Wait(ctx)
	if err != nil {
		return err
	}
	l, err := net.Listen("tcp", d.addr)
	if err != nil {
		return fmt.Errorf("the listener outlived its process: %w", err)
	}
	l.Close()
	fmt.Fprintf(out, "server ended (%v); port %d is free again\n", reason, port)
	return d.rt.Close(ctx)
}

// demo is the example's runtime and its server process.
type demo struct {
	rt     *runtime.Runtime
	mod    *runtime.Module
	port   int
	addr   string
	server *runtime.Process
}

// start makes a runtime whose root environment may listen on
// 127.0.0.1:port and nothing else, and loads the server's module. On an
// error the runtime is closed.
func start(ctx context.Context, port int) (_ *demo, err error) {
	rt, err := runtime.New(
		runtime.WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil))),
		runtime.WithHostModule(wardnet.Module(wardnet.Options{})),
		runtime.WithRootEnvironment(environment.Config{Host: map[string]environment.HostConfig{
			wardnet.Namespace: wardnet.Config{
				ListenNets:  []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")},
				ListenPorts: []wardnet.PortRange{wardnet.Port(uint16(port))},
			},
		}}),
	)
	if err != nil {
		return nil, err
	}
	d := &demo{rt: rt, port: port, addr: fmt.Sprintf("127.0.0.1:%d", port)}
	if d.mod, err = rt.LoadModule(ctx, "httpd", httpdWasm); err != nil {
		rt.Close(ctx)
		return nil, err
	}
	return d, nil
}

// serve spawns the server and returns once it accepts connections.
func (d *demo) serve(ctx context.Context) error {
	p, err := d.rt.Environment().Spawn(ctx, d.mod, "serve", runtime.I32(int32(d.port)))
	if err != nil {
		return err
	}
	d.server = p
	// The guest tells nobody it listens: until it does, connections are
	// refused. One that gets through is closed at once; the server reads
	// EOF and takes the next.
	for {
		c, err := net.Dial("tcp", d.addr)
		if err == nil {
			return c.Close()
		}
		if r := p.Reason(); r != nil {
			return fmt.Errorf("the server ended before it listened: %v", r)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("the server never listened: %w", err)
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// get asks for path with a client on tr and returns the status, the body
// and whether the request went over a connection used before.
func (d *demo) get(ctx context.Context, tr *http.Transport, path string) (status, body string, reused bool, err error) {
	ctx = httptrace.WithClientTrace(ctx, &httptrace.ClientTrace{
		GotConn: func(info httptrace.GotConnInfo) { reused = info.Reused },
	})
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+d.addr+path, nil)
	if err != nil {
		return "", "", false, err
	}
	resp, err := (&http.Client{Transport: tr}).Do(req)
	if err != nil {
		return "", "", false, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.Status, string(b), reused, err
}

// raw sends req as it is on a new connection and returns the status line
// of the answer, once the server has closed the connection.
func (d *demo) raw(ctx context.Context, req string) (string, error) {
	var dialer net.Dialer
	c, err := dialer.DialContext(ctx, "tcp", d.addr)
	if err != nil {
		return "", err
	}
	defer c.Close()
	if deadline, ok := ctx.Deadline(); ok {
		c.SetDeadline(deadline)
	}
	if _, err := io.WriteString(c, req); err != nil {
		return "", err
	}
	resp, err := io.ReadAll(c)
	if err != nil {
		return "", err
	}
	line, _, ok := strings.Cut(string(resp), "\r\n")
	if !ok {
		return "", fmt.Errorf("no status line in %q", resp)
	}
	return line, nil
}

// freePort returns a loopback TCP port nothing listens on (just now).
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}
