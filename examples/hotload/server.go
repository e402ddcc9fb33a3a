package main

import (
	"net"
	"net/http"
	"strings"
	"sync"
)

// releaseServer stands in for a release server: GET /greeter/latest says
// the latest published version ("2.0.0"), 404 while there is none, and
// GET /greeter/<version>.wasm serves that version's signed module. The
// version label is not signed, only the module is: a server can lie about
// which release is latest, but not about what a release contains.
type releaseServer struct {
	URL string
	srv *http.Server

	mu       sync.Mutex
	latest   string
	releases map[string][]byte
}

// startReleaseServer listens on a free port of the loopback interface.
func startReleaseServer() (*releaseServer, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	s := &releaseServer{URL: "http://" + ln.Addr().String(), releases: map[string][]byte{}}
	s.srv = &http.Server{Handler: s}
	go s.srv.Serve(ln) // returns once close is called
	return s, nil
}

// publish makes wasm the latest release, as version.
func (s *releaseServer) publish(version string, wasm []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.latest, s.releases[version] = version, wasm
}

// close stops the server: every fetch fails from now on.
func (s *releaseServer) close() error { return s.srv.Close() }

func (s *releaseServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if r.URL.Path == "/greeter/latest" && s.latest != "" {
		w.Write([]byte(s.latest))
		return
	}
	version, ok := strings.CutSuffix(strings.TrimPrefix(r.URL.Path, "/greeter/"), ".wasm")
	if wasm, found := s.releases[version]; ok && found {
		w.Write(wasm)
		return
	}
	http.NotFound(w, r)
}
