package main

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"slices"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

func testCtx(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// TestRun runs the example and checks what it prints, the port aside.
func TestRun(t *testing.T) {
	var out bytes.Buffer
	if err := run(testCtx(t), &out); err != nil {
		t.Fatalf("run: %v\n%s", err, out.String())
	}
	want := []string{
		"server: process 1 listens on 127.0.0.1:PORT",
		`GET /hello: 200 OK "hello /hello" (connection reused: false)`,
		`GET /a/b?c=d: 200 OK "hello /a/b?c=d" (connection reused: true)`,
		`GET /once without keep-alive: 200 OK "hello /once"`,
		"a malformed request: HTTP/1.1 400 Bad Request",
		"server ended (killed); port PORT is free again",
	}
	got := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
	if len(got) > 0 {
		if _, port, ok := strings.Cut(got[0], "127.0.0.1:"); ok {
			for i := range got {
				got[i] = strings.ReplaceAll(got[i], port, "PORT")
			}
		}
	}
	if !slices.Equal(got, want) {
		t.Errorf("printed:\n%s\nwant:\n%s", out.String(), strings.Join(want, "\n"))
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

// serving starts the example's runtime and server for a test.
func serving(t testing.TB) *demo {
	t.Helper()
	ctx := testCtx(t)
	port, err := freePort()
	if err != nil {
		t.Fatal(err)
	}
	d, err := start(ctx, port)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.rt.Close(context.Background()) })
	if err := d.serve(ctx); err != nil {
		t.Fatal(err)
	}
	return d
}

// exchange writes req on a new connection, closes the sending side (so
// the server, at the end of what it was sent, closes too) and returns
// all it answered.
func (d *demo) exchange(ctx context.Context, req string) (string, error) {
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
	c.(*net.TCPConn).CloseWrite()
	resp, err := io.ReadAll(c)
	return string(resp), err
}

// net/http's client against the guest: requests over one kept-alive
// connection (HEAD and a POST whose body the server must skip among
// them), requests without keep-alive, HTTP/1.0 and pipelined requests;
// malformed requests get 400 and the server serves on; killing the
// server process closes its listener.
func TestServer(t *testing.T) {
	ctx := testCtx(t)
	port, err := freePort()
	if err != nil {
		t.Fatal(err)
	}
	d, err := start(ctx, port)
	if err != nil {
		t.Fatal(err)
	}
	defer d.rt.Close(ctx)
	before := openFDs(t)
	if err := d.serve(ctx); err != nil {
		t.Fatal(err)
	}

	do := func(client *http.Client, method, path, body string) (*http.Response, string) {
		t.Helper()
		req, err := http.NewRequestWithContext(ctx, method, "http://"+d.addr+path, strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		resp, err := client.Do(req)
		if err != nil {
			t.Fatalf("%s %s: %v", method, path, err)
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatalf("%s %s: reading the body: %v", method, path, err)
		}
		return resp, string(b)
	}

	// Keep-alive: every request after the first on the same connection.
	var conns atomic.Int32
	tr := &http.Transport{}
	tr.DialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
		conns.Add(1)
		var dialer net.Dialer
		return dialer.DialContext(ctx, network, addr)
	}
	keepAlive := &http.Client{Transport: tr}
	for _, path := range []string{"/", "/a", "/b/c?d=e&f", "/" + strings.Repeat("x", 4000)} {
		if resp, body := do(keepAlive, "GET", path, ""); resp.StatusCode != 200 || body != "hello "+path ||
			resp.Header.Get("Content-Type") != "text/plain" || resp.Close {
			t.Errorf("GET %.20s: %s %q %v, close %v", path, resp.Status, body, resp.Header, resp.Close)
		}
	}
	if resp, body := do(keepAlive, "HEAD", "/head", ""); resp.StatusCode != 200 || body != "" || resp.ContentLength != int64(len("hello /head")) {
		t.Errorf("HEAD: %s %q, length %d", resp.Status, body, resp.ContentLength)
	}
	if resp, body := do(keepAlive, "POST", "/post", strings.Repeat("body", 10000)); resp.StatusCode != 405 ||
		body != "method not allowed\n" || resp.Header.Get("Allow") != "GET, HEAD" {
		t.Errorf("POST: %s %q %v", resp.Status, body, resp.Header)
	}
	if resp, body := do(keepAlive, "GET", "/after-post", ""); resp.StatusCode != 200 || body != "hello /after-post" {
		t.Errorf("GET after the POST: %s %q", resp.Status, body)
	}
	if n := conns.Load(); n != 1 {
		t.Errorf("%d connections for the kept-alive requests, want 1", n)
	}
	tr.CloseIdleConnections()

	// No keep-alive: the server says Connection: close and closes.
	once := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	for _, path := range []string{"/1", "/2", "/3"} {
		if resp, body := do(once, "GET", path, ""); resp.StatusCode != 200 || body != "hello "+path || !resp.Close {
			t.Errorf("GET %s without keep-alive: %s %q, close %v", path, resp.Status, body, resp.Close)
		}
	}

	// HTTP/1.0, one request per connection; two pipelined requests.
	for req, want := range map[string]string{
		"GET /old HTTP/1.0\r\n\r\n": "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 10\r\nConnection: close\r\n\r\nhello /old",
		"GET /p1 HTTP/1.1\r\nHost: x\r\n\r\nGET /p2 HTTP/1.1\r\nHost: x\r\n\r\n": "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 9\r\n\r\nhello /p1" +
			"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 9\r\n\r\nhello /p2",
	} {
		if got, err := d.exchange(ctx, req); err != nil || got != want {
			t.Errorf("%q: %q %v, want %q", req, got, err, want)
		}
	}

	// Malformed requests: 400, and the connection is closed.
	for _, req := range []string{
		"HELLO?\r\n\r\n",
		"get / HTTP/1.1\r\n\r\n",
		"GET noslash HTTP/1.1\r\n\r\n",
		"GET / HTTP/2.0\r\n\r\n",
		"GET / HTTP/1.1 extra\r\n\r\n",
		"GET /\r\n\r\n",
		"GET / HTTP/1.1\r\nno colon\r\n\r\n",
		"GET / HTTP/1.1\r\n: empty name\r\n\r\n",
		"GET / HTTP/1.1\r\nContent-Length: 12x\r\n\r\n",
		"GET / HTTP/1.1\r\nContent-Length: 1234567890\r\n\r\n",
		"GET / HTTP/1.1\r\nX: a\rb\r\n\r\n",
		// A head that fills the 8 KiB buffer without ending. (Exactly
		// that: a client that sends more than the server reads before it
		// closes gets a reset, as from any server that stops reading.)
		"GET / HTTP/1.1\r\nX: " + strings.Repeat("a", 8192-len("GET / HTTP/1.1\r\nX: ")),
	} {
		got, err := d.exchange(ctx, req)
		if err != nil || !strings.HasPrefix(got, "HTTP/1.1 400 Bad Request\r\n") || !strings.Contains(got, "Connection: close\r\n") {
			t.Errorf("%.40q: %.60q %v, want 400 and the connection closed", req, got, err)
		}
	}
	if got, err := d.exchange(ctx, "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"); err != nil || !strings.HasPrefix(got, "HTTP/1.1 501 ") {
		t.Errorf("a chunked body: %q %v, want 501", got, err)
	}
	if resp, body := do(keepAlive, "GET", "/still", ""); resp.StatusCode != 200 || body != "hello /still" {
		t.Errorf("GET after the malformed requests: %s %q", resp.Status, body)
	}
	tr.CloseIdleConnections()

	d.server.Kill()
	if _, err := d.server.Wait(ctx); err != nil {
		t.Fatal(err)
	}
	// The server's own sockets are closed by the time Wait returns; the
	// client's idle connections close on the transport's goroutines, after
	// CloseIdleConnections returns. So the count may take a moment to come
	// back down (it once read one more under the full suite's load); a
	// descriptor leaked stays, and fails this once the deadline passes.
	after := openFDs(t)
	for deadline := time.Now().Add(10 * time.Second); after != before && time.Now().Before(deadline); after = openFDs(t) {
		time.Sleep(5 * time.Millisecond)
	}
	if after != before {
		t.Errorf("%d descriptors open after the server ended, %d before it started", after, before)
	}
	if c, err := net.Dial("tcp", d.addr); err == nil {
		c.Close()
		t.Error("a connection was accepted after the server ended")
	}
}

// Whatever a client sends, the server answers with a status line or
// closes, and lives on.
func FuzzRequest(f *testing.F) {
	for _, seed := range []string{
		"GET / HTTP/1.1\r\nHost: x\r\n\r\n",
		"HEAD /x HTTP/1.0\r\nConnection: close\r\n\r\n",
		"POST /p HTTP/1.1\r\nContent-Length: 3\r\n\r\nabcGET / HTTP/1.1\r\n\r\n",
		"GET / HTTP/1.1\r\nContent-Length: 999\r\n\r\nshort",
		"\r\n\r\n",
		"GET / HTTP/1.1\r\n",
		"",
	} {
		f.Add(seed)
	}
	d := serving(f)
	f.Fuzz(func(t *testing.T, req string) {
		ctx := testCtx(t)
		got, err := d.exchange(ctx, req)
		if err != nil && !errors.Is(err, syscall.ECONNRESET) { // a reset: the server closed before reading it all
			t.Fatal(err)
		}
		if got != "" && (!strings.HasPrefix(got, "HTTP/1.1 ") || len(got) < 12) {
			t.Fatalf("%q: answered %q", req, got)
		}
		if r := d.server.Reason(); r != nil {
			t.Fatalf("%q: the server ended: %v", req, r)
		}
	})
}
