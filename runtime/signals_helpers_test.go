package runtime

import (
	"context"
	"testing"

	"github.com/wardrt/ward/environment"
)

func blockGo(ctx context.Context, _ *Self) error { <-ctx.Done(); return nil }

func childEnv(t *testing.T, parent *Environment, c environment.Config) *Environment {
	t.Helper()
	env, err := parent.NewChild(c)
	if err != nil {
		t.Fatal(err)
	}
	return env
}

// The counts of a process's signal state, read under its lock.

func numLinks(p *Process) int {
	p.sig.mu.Lock()
	defer p.sig.mu.Unlock()
	return len(p.sig.links)
}

func numWatchers(p *Process) int {
	p.sig.mu.Lock()
	defer p.sig.mu.Unlock()
	return len(p.sig.watchers)
}

func numWatching(p *Process) int {
	p.sig.mu.Lock()
	defer p.sig.mu.Unlock()
	return len(p.sig.watching)
}
