// Command perrequest shows per-request isolation: a net/http server that
// answers every request in a fresh ward process, a new instance of a small
// WAT guest (handler.wat) with its own memory, so no request can see what
// another left behind, and one that traps or loops fails alone.
//
//	go run ./examples/perrequest            # then: curl -d 'some body' localhost:8080/hello
//	go test -bench . ./examples/perrequest  # requests/s against the same handler in plain Go
//
// A process costs tens of microseconds, because the guest is WAT (no
// language runtime to start) and Environment.Run runs it on the handler's
// own goroutine. Most of that is the process's fresh linear memory: the
// first touch of each 4 KiB page faults, and the page is unmapped when the
// process ends; on the project's VM that is 35-80 µs of system time a
// page, so the guest keeps a small request within one page. The benchmark
// reports the rate against the same handler in plain Go. The guest does its I/O through a small host module,
// "http" (package hostapi): each request gets an unguessable token, passed
// as the entry function's parameter, and the host functions serve only the
// request with that token, to the first process that presents it. The
// environment allows the guest that namespace and nothing else.
package main

//go:generate go run ../../internal/tools/wat2wasm handler.wat

import (
	"context"
	_ "embed"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/signal"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/wardrt/ward/environment"
	"github.com/wardrt/ward/hostapi"
	"github.com/wardrt/ward/runtime"
)

//go:embed handler.wasm
var handlerWasm []byte

// maxBody bounds a request body: the guest has 64 KiB for it.
const maxBody = 64 << 10

// limits are every request process's: one request's worth of memory and
// fuel, and only the "http" host module.
var limits = environment.Config{
	MaxMemory:  1 << 20,
	MaxFuel:    10_000_000,
	Namespaces: []string{"http"},
}

// exchange is one request as its process sees it, and the response it
// builds. Only the process that claimed it (owner) may touch it.
type exchange struct {
	owner  atomic.Uint64 // process id; 0 until the first host call
	path   string
	body   []byte
	status int
	resp   []byte
}

// Server is an http.Handler that runs each request in a fresh process.
type Server struct {
	rt        *runtime.Runtime
	env       *runtime.Environment
	mod       *runtime.Module
	exchanges sync.Map // token (uint64) -> *exchange
	failed    atomic.Int64
}

// NewServer starts a runtime for the server. Close it when done.
func NewServer(ctx context.Context) (*Server, error) {
	s := &Server{}
	// Failed requests are answered with 500 and counted; the runtime's
	// failure log would only repeat them.
	rt, err := runtime.New(
		runtime.WithHostModule(s.hostModule()),
		runtime.WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil))),
	)
	if err != nil {
		return nil, err
	}
	s.rt = rt
	if s.env, err = rt.NewEnvironment(limits); err == nil {
		s.mod, err = rt.LoadModule(ctx, "handler", handlerWasm)
	}
	if err != nil {
		rt.Close(ctx)
		return nil, err
	}
	return s, nil
}

// Close kills any request still running and frees the runtime.
func (s *Server) Close(ctx context.Context) error { return s.rt.Close(ctx) }

// Failed reports how many requests ended in a failed process.
func (s *Server) Failed() int64 { return s.failed.Load() }

// ServeHTTP runs the request in a new process on this goroutine.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, ok := readBody(w, r)
	if !ok {
		return
	}
	x := &exchange{path: r.URL.Path, body: body, status: http.StatusOK}
	token := s.open(x)
	defer s.exchanges.Delete(token)

	reason, err := s.env.Run(r.Context(), s.mod, "handle", runtime.I64(int64(token)))
	switch {
	case err != nil: // the client went away, or the server is closing
		http.Error(w, "unavailable", http.StatusServiceUnavailable)
	case !reason.Normal():
		s.failed.Add(1)
		http.Error(w, "request failed: "+failure(reason), http.StatusInternalServerError)
	default:
		w.WriteHeader(x.status)
		w.Write(x.resp)
	}
}

// failure names what went wrong, without the details a client need not see.
func failure(reason runtime.Reason) string {
	var trap *runtime.TrapError
	switch {
	case errors.Is(reason, runtime.ErrOutOfFuel):
		return "out of fuel"
	case errors.Is(reason, runtime.ErrMemoryLimit):
		return "out of memory"
	case errors.As(reason, &trap):
		return "trapped (" + trap.Code.String() + ")"
	}
	return "ended abnormally"
}

// open files x under a fresh random token. The tokens are what keep
// requests apart: a guest could pass any number to the host functions,
// but it cannot guess another request's 64 random bits.
func (s *Server) open(x *exchange) uint64 {
	for {
		token := rand.Uint64() // ChaCha8, seeded from the OS: unpredictable
		if _, taken := s.exchanges.LoadOrStore(token, x); token != 0 && !taken {
			return token
		}
	}
}

// claim returns the exchange for a host call's token, making the calling
// process its owner on first use; any other process is refused, which
// traps it.
func (s *Server) claim(c *hostapi.Call) (*exchange, error) {
	v, ok := s.exchanges.Load(uint64(c.Arg(0)))
	if !ok {
		return nil, errors.New("no such request")
	}
	x := v.(*exchange)
	pid := c.Process().ID()
	if !x.owner.CompareAndSwap(0, pid) && x.owner.Load() != pid {
		return nil, errors.New("request belongs to another process")
	}
	return x, nil
}

// hostModule is the guest's request and response I/O:
//
//	read_path(token i64, ptr i32, cap i32) -> len i32
//	read_body(token i64, ptr i32, cap i32) -> len i32
//	write(token i64, ptr i32, len i32)
//	set_status(token i64, status i32)
//
// read_path and read_body copy at most cap bytes to ptr and return the
// full length.
func (s *Server) hostModule() hostapi.Module {
	read := func(field func(*exchange) []byte) hostapi.Handler {
		return func(_ context.Context, c *hostapi.Call) error {
			x, err := s.claim(c)
			if err != nil {
				return err
			}
			b := field(x)
			c.Return(int64(len(b)))
			return c.Write(c.Arg(1), b[:min(len(b), int(uint32(c.Arg(2))))])
		}
	}
	return hostapi.Module{
		Namespace: "http",
		Doc:       "One HTTP request and its response, named by the token the process was started with.",
		Funcs: []hostapi.Func{
			{
				Name: "read_path", Params: []hostapi.ValType{hostapi.I64, hostapi.I32, hostapi.I32}, Results: []hostapi.ValType{hostapi.I32},
				Doc:     "Copies up to cap bytes of the request's URL path to ptr; returns its length.",
				Handler: read(func(x *exchange) []byte { return []byte(x.path) }),
			},
			{
				Name: "read_body", Params: []hostapi.ValType{hostapi.I64, hostapi.I32, hostapi.I32}, Results: []hostapi.ValType{hostapi.I32},
				Doc:     "Copies up to cap bytes of the request body to ptr; returns its length.",
				Handler: read(func(x *exchange) []byte { return x.body }),
			},
			{
				Name: "write", Params: []hostapi.ValType{hostapi.I64, hostapi.I32, hostapi.I32},
				Doc: "Appends len bytes at ptr to the response body.",
				Handler: func(_ context.Context, c *hostapi.Call) error {
					x, err := s.claim(c)
					if err != nil {
						return err
					}
					b, err := c.Read(c.Arg(1), c.Arg(2))
					if err != nil {
						return err
					}
					if len(x.resp)+len(b) > maxBody+4096 {
						return errors.New("response too large")
					}
					x.resp = append(x.resp, b...)
					return nil
				},
			},
			{
				Name: "set_status", Params: []hostapi.ValType{hostapi.I64, hostapi.I32},
				Doc: "Sets the response status (100-599).",
				Handler: func(_ context.Context, c *hostapi.Call) error {
					x, err := s.claim(c)
					if err != nil {
						return err
					}
					if st := c.Arg(1); st < 100 || st > 599 {
						return fmt.Errorf("bad status %d", st)
					}
					x.status = int(c.Arg(1))
					return nil
				},
			},
		},
	}
}

// readBody reads a request body of at most maxBody bytes, answering 413
// for a larger one.
func readBody(w http.ResponseWriter, r *http.Request) ([]byte, bool) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBody))
	if err != nil {
		http.Error(w, err.Error(), http.StatusRequestEntityTooLarge)
		return nil, false
	}
	return body, true
}

// plainHandler is handler.wat's logic in plain Go, for the benchmark: the
// same answer, byte for byte, with no process around it.
func plainHandler(w http.ResponseWriter, r *http.Request) {
	body, ok := readBody(w, r)
	if !ok {
		return
	}
	path := r.URL.Path
	if len(path) > 1024 {
		path = path[:1024]
	}
	switch path {
	case "/crash":
		http.Error(w, "request failed: trapped (unreachable)", http.StatusInternalServerError)
		return
	case "/loop":
		http.Error(w, "request failed: out of fuel", http.StatusInternalServerError)
		return
	}
	resp := make([]byte, 0, 32+len(path)+len(body))
	resp = append(resp, "hello, "...)
	resp = append(resp, path...)
	resp = append(resp, "\ninstance request #1\n"...)
	for _, c := range body {
		if c-'a' < 26 {
			c -= 32
		}
		resp = append(resp, c)
	}
	w.WriteHeader(http.StatusOK)
	w.Write(resp)
}

func main() {
	addr := flag.String("addr", "127.0.0.1:8080", "address to serve on")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	ln, err := net.Listen("tcp", *addr)
	if err == nil {
		err = run(ctx, ln, os.Stdout)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "perrequest:", err)
		os.Exit(1)
	}
}

// run serves on ln until ctx ends, then shuts down gracefully.
func run(ctx context.Context, ln net.Listener, out io.Writer) error {
	s, err := NewServer(ctx)
	if err != nil {
		ln.Close()
		return err
	}
	defer s.Close(context.Background())
	hs := &http.Server{Handler: s, ReadHeaderTimeout: 10 * time.Second}
	fmt.Fprintf(out, "serving on http://%s, a fresh process per request; interrupt to stop\n", ln.Addr())
	served := make(chan error, 1)
	go func() { served <- hs.Serve(ln) }()
	select {
	case err := <-served:
		return err
	case <-ctx.Done():
	}
	shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := hs.Shutdown(shutdown); err != nil {
		return err
	}
	fmt.Fprintf(out, "stopped; %d requests failed in their process\n", s.Failed())
	return s.Close(shutdown)
}
