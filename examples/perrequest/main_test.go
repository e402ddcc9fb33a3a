package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

func newTestServer(t testing.TB) (*Server, *httptest.Server) {
	t.Helper()
	s, err := NewServer(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(s)
	t.Cleanup(func() {
		ts.Close()
		s.Close(context.Background())
	})
	return s, ts
}

func do(t testing.TB, c *http.Client, method, url, body string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(b)
}

func TestPerRequest(t *testing.T) {
	s, ts := newTestServer(t)
	c := ts.Client()

	code, got := do(t, c, "POST", ts.URL+"/greet", "some body")
	if want := "hello, /greet\ninstance request #1\nSOME BODY"; code != 200 || got != want {
		t.Fatalf("POST /greet = %d %q, want 200 %q", code, got, want)
	}

	// Failures stay with their request.
	for path, want := range map[string]string{
		"/crash": "request failed: trapped (unreachable)\n",
		"/loop":  "request failed: out of fuel\n",
	} {
		if code, got := do(t, c, "GET", ts.URL+path, ""); code != 500 || got != want {
			t.Errorf("GET %s = %d %q, want 500 %q", path, code, got, want)
		}
	}
	if n := s.Failed(); n != 2 {
		t.Errorf("Failed() = %d, want 2", n)
	}
	if code, _ := do(t, c, "POST", ts.URL+"/big", strings.Repeat("x", maxBody+1)); code != http.StatusRequestEntityTooLarge {
		t.Errorf("a body over %d bytes: %d, want 413", maxBody, code)
	}

	// Many requests at once, each with its own data, crashes among them:
	// every answer is its own request's, from an instance that has served
	// nothing else.
	var wg sync.WaitGroup
	errs := make(chan string, 400)
	for i := range 200 {
		wg.Go(func() {
			if i%10 == 0 {
				if code, _ := do(t, c, "GET", ts.URL+"/crash", ""); code != 500 {
					errs <- fmt.Sprintf("crash %d: %d", i, code)
				}
				return
			}
			path, body := fmt.Sprintf("/r%d", i), fmt.Sprintf("body of request %d", i)
			want := fmt.Sprintf("hello, %s\ninstance request #1\nBODY OF REQUEST %d", path, i)
			if code, got := do(t, c, "PUT", ts.URL+path, body); code != 200 || got != want {
				errs <- fmt.Sprintf("%s: %d %q, want %q", path, code, got, want)
			}
		})
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
	if n := s.rt.NumProcesses(); n != 0 {
		t.Errorf("%d processes alive after the requests", n)
	}
}

// The plain Go handler gives the same answers, so the benchmark compares
// like with like.
func TestPlainHandlerSameAnswers(t *testing.T) {
	_, ward := newTestServer(t)
	plain := httptest.NewServer(http.HandlerFunc(plainHandler))
	defer plain.Close()
	for _, r := range []struct{ method, path, body string }{
		{"GET", "/", ""},
		{"POST", "/x/y", "Mixed Case, 123 {}"},
		{"GET", "/crash", ""},
		{"GET", "/loop", ""},
		{"POST", "/" + strings.Repeat("p", 1100), "long path"},
	} {
		wc, wb := do(t, ward.Client(), r.method, ward.URL+r.path, r.body)
		pc, pb := do(t, plain.Client(), r.method, plain.URL+r.path, r.body)
		if wc != pc || wb != pb {
			t.Errorf("%s %.20s: ward %d %q, plain %d %q", r.method, r.path, wc, wb, pc, pb)
		}
	}
}

// TestRun runs the command's own path: serve on a listener until the
// context ends.
func TestRun(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var out bytes.Buffer
	done := make(chan error, 1)
	go func() { done <- run(ctx, ln, &out) }()

	code, got := do(t, http.DefaultClient, "POST", "http://"+ln.Addr().String()+"/run", "abc")
	if want := "hello, /run\ninstance request #1\nABC"; code != 200 || got != want {
		t.Errorf("POST /run = %d %q, want %q", code, got, want)
	}
	do(t, http.DefaultClient, "GET", "http://"+ln.Addr().String()+"/crash", "")
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("run did not return after its context ended")
	}
	for _, want := range []string{"serving on http://" + ln.Addr().String(), "stopped; 1 requests failed in their process\n"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
}

// BenchmarkRequests measures requests per second through real HTTP over
// loopback (httptest servers, a keep-alive client, b.RunParallel with 8
// clients) for the ward server, a fresh process per request, and for
// plainHandler, the same logic in plain Go, one after the other in the
// same benchmark run. It reports ward-req/s, plain-req/s and their ratio;
// ns/op is a ward request's share of wall time. Clients, servers and
// guests share the machine's cores.
func BenchmarkRequests(b *testing.B) {
	_, ward := newTestServer(b)
	plain := httptest.NewServer(http.HandlerFunc(plainHandler))
	defer plain.Close()
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 256}}
	defer client.CloseIdleConnections()
	request := func(url string) func() error {
		return func() error {
			resp, err := client.Post(url+"/bench", "text/plain", strings.NewReader(benchBody))
			if err != nil {
				return err
			}
			got, err := io.ReadAll(resp.Body)
			resp.Body.Close()
			if err != nil || resp.StatusCode != 200 || string(got) != benchWant {
				return fmt.Errorf("%s: %d %q %v", url, resp.StatusCode, got, err)
			}
			return nil
		}
	}
	compare(b, request(ward.URL), request(plain.URL))
}

// BenchmarkHandler is BenchmarkRequests without HTTP: it calls each
// handler directly with an httptest.ResponseRecorder, which shows what
// the process per request costs on its own.
func BenchmarkHandler(b *testing.B) {
	s, _ := newTestServer(b)
	request := func(h http.Handler) func() error {
		return func() error {
			w := httptest.NewRecorder()
			h.ServeHTTP(w, httptest.NewRequest("POST", "/bench", strings.NewReader(benchBody)))
			if w.Code != 200 || w.Body.String() != benchWant {
				return fmt.Errorf("%d %q", w.Code, w.Body)
			}
			return nil
		}
	}
	compare(b, request(s), request(http.HandlerFunc(plainHandler)))
}

const (
	benchBody = "a small request body"
	benchWant = "hello, /bench\ninstance request #1\nA SMALL REQUEST BODY"
)

// compare runs b.N requests of plain, then of ward, each from parallel
// goroutines, and reports both rates and ward's as a fraction of plain's.
func compare(b *testing.B, ward, plain func() error) {
	b.SetParallelism(4)
	rate := func(do func() error) float64 {
		start := time.Now()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if err := do(); err != nil {
					b.Error(err)
					return
				}
			}
		})
		return float64(b.N) / time.Since(start).Seconds()
	}
	b.ResetTimer()
	plainRate := rate(plain)
	wardRate := rate(ward)
	b.StopTimer()
	b.ReportMetric(wardRate, "ward-req/s")
	b.ReportMetric(plainRate, "plain-req/s")
	b.ReportMetric(wardRate/plainRate, "ratio")
	b.ReportMetric(1e9/wardRate, "ns/op")
}
