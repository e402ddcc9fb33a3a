// Command hotload is a service that takes new versions of its plugin while
// it runs, and only from a publisher it trusts:
//
//	go run ./examples/hotload
//
// A scheduler runs a job every 50 ms on whichever version of the plugin
// "greeter" is current, in an environment that runs verified modules only.
// A watcher polls a release server (here, one the program starts on
// 127.0.0.1) and installs each release signed by the publisher's key. The
// story: nothing is published at start, so the service falls back to the
// greeter built into it; 2.0.0 is published and taken without a restart;
// 3.0.0, signed by a key nobody trusts, is refused; the release server
// goes away and the service runs on, on 2.0.0.
package main

import (
	"context"
	"crypto/ed25519"
	"fmt"
	"io"
	"log/slog"
	"os"
	"sync"
	"time"

	"github.com/wardrt/ward/environment"
	"github.com/wardrt/ward/module"
	"github.com/wardrt/ward/runtime"
)

func main() {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := run(ctx, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "hotload:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, out io.Writer) error {
	publisher := demoKey("publisher")
	stranger := demoKey("stranger") // signs, but the service does not trust it

	server, err := startReleaseServer()
	if err != nil {
		return err
	}
	defer server.close()

	rt, err := runtime.New(runtime.WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil))))
	if err != nil {
		return err
	}
	defer rt.Close(ctx)
	// Jobs run in an environment of their own: verified modules only, the
	// message namespace only, 1 MiB of memory, a million instructions.
	// The wall-time limit is a hang guard, generous for a loaded machine.
	env, err := rt.NewEnvironment(environment.Config{
		RequireVerified: true,
		Namespaces:      []string{"ward_message"},
		MaxMemory:       1 << 20,
		MaxFuel:         1_000_000,
		MaxWallTime:     5 * time.Second,
	})
	if err != nil {
		return err
	}
	defer env.Close(ctx)

	// The service trusts the publisher's public key and nothing else.
	svc := newService(rt, env, server.URL, publisher.Public().(ed25519.PublicKey), out)
	svc.say("release server up, nothing published yet")
	if err := svc.start(ctx); err != nil {
		return err
	}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); svc.schedule(ctx, 50*time.Millisecond, stop) }()
	go func() { defer wg.Done(); svc.watch(ctx, 100*time.Millisecond, stop) }()
	shutdown := sync.OnceFunc(func() { close(stop); wg.Wait() })
	defer shutdown()
	answeredBy := func(version string) func() bool {
		return func() bool { return svc.answered[version] > 0 }
	}
	// stillServing waits for a job after this point and says who answered.
	stillServing := func() error {
		svc.mu.Lock()
		after := svc.jobs
		svc.mu.Unlock()
		if err := svc.await(ctx, func() bool { return svc.jobs > after }); err != nil {
			return err
		}
		svc.mu.Lock()
		defer svc.mu.Unlock()
		svc.say("%s", svc.last)
		return nil
	}

	if err := svc.await(ctx, answeredBy("1.0.0")); err != nil {
		return err
	}

	release, err := module.Sign(greeter2, publisher)
	if err != nil {
		return err
	}
	server.publish("2.0.0", release)
	svc.say("publisher: released greeter 2.0.0, signed by key %s…", module.Fingerprint(publisher.Public().(ed25519.PublicKey))[:12])
	if err := svc.await(ctx, answeredBy("2.0.0")); err != nil {
		return err
	}

	rogue, err := module.Sign(greeter3, stranger)
	if err != nil {
		return err
	}
	server.publish("3.0.0", rogue)
	svc.say("publisher: released greeter 3.0.0, signed by key %s…", module.Fingerprint(stranger.Public().(ed25519.PublicKey))[:12])
	if err := svc.await(ctx, func() bool { return svc.refused["3.0.0"] }); err != nil {
		return err
	}
	if err := stillServing(); err != nil {
		return err
	}

	server.close()
	svc.say("release server down")
	if err := svc.await(ctx, func() bool { return svc.fetchFailing }); err != nil {
		return err
	}
	if err := stillServing(); err != nil {
		return err
	}

	shutdown()
	svc.mu.Lock()
	defer svc.mu.Unlock()
	if svc.failed > 0 {
		return fmt.Errorf("%d of %d jobs failed", svc.failed, svc.jobs)
	}
	svc.say("stopped after %d jobs on %d versions, none failed, no restart", svc.jobs, len(svc.answered))
	return nil
}
