package main

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"errors"
	"io"
	"log/slog"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/wardrt/ward/module"
	"github.com/wardrt/ward/runtime"
)

// TestHotload runs the whole story and checks what the service did, step
// by step: the embedded fallback when nothing is published, 2.0.0 taken
// while the scheduler runs, 3.0.0 refused for its untrusted key, the
// server's loss survived, and no job failing on the way. Job numbers and
// the server's port vary from run to run and are masked; nothing depends
// on how fast anything goes, since run waits for each step to happen.
func TestHotload(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var out bytes.Buffer
	if err := run(ctx, &out); err != nil {
		t.Fatalf("run: %v\nit printed:\n%s", err, out.String())
	}
	got := out.String()
	for _, mask := range []struct{ re, with string }{
		{`127\.0\.0\.1:\d+`, "127.0.0.1:PORT"},
		{`job \d+`, "job N"},
		{`after \d+ jobs`, "after N jobs"},
	} {
		got = regexp.MustCompile(mask.re).ReplaceAllString(got, mask.with)
	}
	want := `release server up, nothing published yet
start: no release to run (GET http://127.0.0.1:PORT/greeter/latest: 404 Not Found); using the embedded greeter 1.0.0
start: greeter 1.0.0 matches its pinned sha256 1c199a758c8c…: installing it
job N: greeter 1.0.0 (embedded): hello, job N
publisher: released greeter 2.0.0, signed by key 628f1e05a3aa…
watcher: greeter 2.0.0 signed by key 628f1e05a3aa…: installing it
job N: greeter 2.0.0: hello, job N
publisher: released greeter 3.0.0, signed by key c108b4d80286…
watcher: refused greeter 3.0.0: ward: verifying module http://127.0.0.1:PORT/greeter/3.0.0.wasm: module signed by an untrusted key: the embedded signature is by key c108b4d80286efbd375a4c1ff3a5b2fb02da5e2b85b74ad41c58a865a025d461, which is not among the 1 trusted; still serving 2.0.0
job N: greeter 2.0.0: hello, job N
release server down
watcher: cannot fetch a release (Get "http://127.0.0.1:PORT/greeter/latest": dial tcp 127.0.0.1:PORT: connect: connection refused); still serving 2.0.0
job N: greeter 2.0.0: hello, job N
stopped after N jobs on 2 versions, none failed, no restart
`
	if got != want {
		t.Fatalf("the service told this story (masked):\n%s\nwant:\n%s", got, want)
	}
}

// TestTamperedReleaseRefused: a release signed by the trusted publisher
// but changed afterwards (its greeting, on the server or on the way) fails
// its signature check, is never installed, and is not fetched again.
func TestTamperedReleaseRefused(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	server, err := startReleaseServer()
	if err != nil {
		t.Fatal(err)
	}
	defer server.close()
	rt, err := runtime.New(runtime.WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil))))
	if err != nil {
		t.Fatal(err)
	}
	defer rt.Close(ctx)
	publisher := demoKey("publisher")
	signed, err := module.Sign(greeter2, publisher)
	if err != nil {
		t.Fatal(err)
	}
	tampered := bytes.Replace(signed, []byte("hello"), []byte("HELLO"), 1)
	if bytes.Equal(tampered, signed) {
		t.Fatal("the greeting to tamper with is not in the module")
	}
	server.publish("2.0.0", tampered)

	var out bytes.Buffer
	svc := newService(rt, rt.Environment(), server.URL, publisher.Public().(ed25519.PublicKey), &out)
	if err := svc.poll(ctx); !errors.Is(err, module.ErrBadSignature) {
		t.Fatalf("poll of a tampered release: %v, want an error matching module.ErrBadSignature", err)
	}
	if _, version, ok := rt.Current("greeter"); ok {
		t.Fatalf("greeter %s is installed after its only release was refused", version)
	}
	if err := svc.poll(ctx); err != nil {
		t.Fatalf("second poll: %v, want the refused release skipped", err)
	}
	if n := strings.Count(out.String(), "refused greeter 2.0.0"); n != 1 {
		t.Fatalf("the refusal was reported %d times, want once:\n%s", n, out.String())
	}
}
