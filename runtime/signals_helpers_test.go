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
