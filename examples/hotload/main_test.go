package main

import (
	"bytes"
	"context"
	"regexp"
	"testing"
	"time"
)

// TestHotload runs the whole story and checks what the service did, step
// by step: the embedded fallback when nothing is published, 2.0.0 taken
// while the scheduler runs, 3.0.0 refused for its untrusted key, the
// server's loss survived, and no job failing on the way. Job numbers and
// the server's port vary from run to run and are masked; nothing depends
// on how fast anything goes, since run waits for each step to happen.
func TestHotload(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
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
