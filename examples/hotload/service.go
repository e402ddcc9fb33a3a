package main

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/wardrt/ward/module"
	"github.com/wardrt/ward/runtime"
)

// service runs a job every tick on the current greeter, and a watcher
// that installs each newly published release it can trust. It keeps what
// happened in a few counters so that main can wait for the steps of the
// story (await) instead of sleeping and hoping.
type service struct {
	rt     *runtime.Runtime
	env    *runtime.Environment
	server string       // the release server's URL
	client *http.Client // for the release server; see newService
	trust  runtime.LoadOption
	say    func(format string, args ...any)

	mu           sync.Mutex
	changed      chan struct{} // closed and replaced on every change
	jobs         int
	failed       int
	last         string         // the last job's answer
	answered     map[string]int // jobs answered, by greeter version
	refused      map[string]bool
	fetchFailing bool // the last poll fetched nothing: server down, or nothing published
}

func newService(rt *runtime.Runtime, env *runtime.Environment, server string, trusted ed25519.PublicKey, out io.Writer) *service {
	var outMu sync.Mutex
	return &service{
		rt: rt, env: env, server: server,
		// No keep-alives: a fetch after the server is gone then fails the
		// same way every time (connection refused), not sometimes on a
		// stale pooled connection.
		client: &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}},
		trust:  runtime.Verify(module.Ed25519(trusted)),
		say: func(format string, args ...any) {
			outMu.Lock()
			defer outMu.Unlock()
			fmt.Fprintf(out, format+"\n", args...)
		},
		changed:  make(chan struct{}),
		answered: map[string]int{},
		refused:  map[string]bool{},
	}
}

// update changes the service's state under its lock and wakes await.
func (s *service) update(change func()) {
	s.mu.Lock()
	defer s.mu.Unlock()
	change()
	close(s.changed)
	s.changed = make(chan struct{})
}

// await returns once done, called under the service's lock, is true.
func (s *service) await(ctx context.Context, done func() bool) error {
	for {
		s.mu.Lock()
		ok, changed := done(), s.changed
		s.mu.Unlock()
		if ok {
			return nil
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return fmt.Errorf("waiting for the service: %w", ctx.Err())
		}
	}
}

// start installs a first version: the latest release if it can be fetched
// and trusted, else the embedded one, so the service starts either way.
func (s *service) start(ctx context.Context) error {
	err := s.poll(ctx)
	if _, _, ok := s.rt.Current("greeter"); ok {
		return nil
	}
	s.say("start: no release to run (%v); using the embedded greeter 1.0.0", err)
	m, err := s.rt.Load(ctx, module.Bytes("greeter-1.0.0 (embedded)", embeddedGreeter), runtime.Verify(module.SHA256(embeddedPin)))
	if err != nil {
		return err
	}
	defer m.Close() // Install keeps a handle of its own
	v, _ := m.Verified()
	s.say("start: greeter 1.0.0 matches its pinned sha256 %s…: installing it", v.ID[:12])
	return s.rt.Install(ctx, "greeter", "1.0.0", m)
}

// schedule runs a job every interval until stop is closed, each on the
// version current when it starts. A job in flight when a new version
// comes finishes on the one it started on: nothing is restarted, nothing
// is interrupted.
func (s *service) schedule(ctx context.Context, interval time.Duration, stop <-chan struct{}) {
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for n := 1; ; n++ {
		select {
		case <-stop:
			return
		case <-tick.C:
		}
		m, version, ok := s.rt.Current("greeter")
		var out []byte
		err := errors.New("no greeter installed")
		if ok {
			out, err = s.env.Call(ctx, m, "greet", fmt.Appendf(nil, "job %d", n))
		}
		s.update(func() {
			s.jobs++
			if err != nil {
				s.failed++
				s.say("job %d failed: %v", n, err)
				return
			}
			if s.answered[version] == 0 { // the first answer from a version
				s.say("job %d: %s", n, out)
			}
			s.answered[version]++
			s.last = fmt.Sprintf("job %d: %s", n, out)
		})
	}
}

// watch polls the release server every interval until stop is closed.
func (s *service) watch(ctx context.Context, interval time.Duration, stop <-chan struct{}) {
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for {
		select {
		case <-stop:
			return
		case <-tick.C:
		}
		s.poll(ctx)
	}
}

// poll installs the latest release if it is new and trusted. It reports
// a release it refuses once, and remembers it so as not to fetch it again;
// an unreachable server it reports when it starts being unreachable, and
// the service runs on, on its current version. Any trusted version other
// than the current one is taken, as the publisher says it is the latest; a
// real service would also refuse one older than the current, since an old
// release stays validly signed and a hostile server could replay it.
func (s *service) poll(ctx context.Context) error {
	version, err := s.latest(ctx)
	_, current, _ := s.rt.Current("greeter")
	s.mu.Lock()
	skip := err == nil && (version == current || s.refused[version])
	s.mu.Unlock()
	if skip {
		return nil
	}
	var m *runtime.Module
	if err == nil {
		m, err = s.rt.Load(ctx, module.URL(s.server+"/greeter/"+version+".wasm", module.Client(s.client)), s.trust)
	}
	if untrustworthy(err) {
		s.update(func() {
			s.refused[version] = true
			s.say("watcher: refused greeter %s: %v; still serving %s", version, err, current)
		})
		return err
	}
	if err != nil {
		s.update(func() {
			if !s.fetchFailing && current != "" {
				s.say("watcher: cannot fetch a release (%v); still serving %s", err, current)
			}
			s.fetchFailing = true
		})
		return err
	}
	defer m.Close() // Install keeps a handle of its own
	v, _ := m.Verified()
	// Said before Install, so that it comes before any job's answer from
	// the new version.
	s.say("watcher: greeter %s signed by key %s…: installing it", version, v.ID[:12])
	s.update(func() { s.fetchFailing = false })
	if err := s.rt.Install(ctx, "greeter", version, m); err != nil {
		s.say("watcher: installing greeter %s: %v", version, err)
		return err
	}
	return nil
}

// untrustworthy tells a release that is not to be trusted from one that could
// not be fetched: the first is refused for good, the second tried again.
func untrustworthy(err error) bool {
	for _, e := range []error{module.ErrNotSigned, module.ErrBadSignature, module.ErrUntrustedKey, module.ErrMalformed, module.ErrTooLarge} {
		if errors.Is(err, e) {
			return true
		}
	}
	return false
}

// latest asks the release server for its latest version of greeter.
func (s *service) latest(ctx context.Context) (string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.server+"/greeter/latest", nil)
	if err != nil {
		return "", err
	}
	resp, err := s.client.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("GET %s: %s", req.URL, resp.Status)
	}
	b, err := io.ReadAll(io.LimitReader(resp.Body, 64))
	return strings.TrimSpace(string(b)), err
}
