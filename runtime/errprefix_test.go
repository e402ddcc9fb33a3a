package runtime

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/wardrt/ward/environment"
)

// TestErrorsHaveOnePrefix checks the library's error style on the failure
// paths a user meets first: every error a call returns starts with
// "ward: ", once, however many layers wrapped it.
func TestErrorsHaveOnePrefix(t *testing.T) {
	r := newRuntime(t)
	ctx := testCtx(t)
	m := load(t, r, "procs", []byte(callWAT))
	env := r.Environment()
	narrow := childEnv(t, env, environment.Config{Namespaces: []string{}, MaxProcesses: 1})
	p := spawn(t, env, m, "serve")
	closed := childEnv(t, env, environment.Config{})
	closed.Close(ctx)

	errs := map[string]error{}
	try := func(name string, err error) {
		t.Helper()
		if err == nil {
			t.Fatalf("%s: no error", name)
		}
		errs[name] = err
	}
	_, err := r.NewEnvironment(environment.Config{MaxFuel: 1, FuelScope: environment.FuelPerMessage})
	try("a widening environment", err)
	_, err = env.NewChild(environment.Config{MaxProcesses: -1})
	try("an invalid environment", err)
	_, err = New(WithRootEnvironment(environment.Config{MaxMemory: 3}))
	try("an invalid root", err)
	_, err = r.LoadModule(ctx, "junk", []byte("not wasm"))
	try("a module that is not Wasm", err)
	_, err = env.Spawn(ctx, m, "nope")
	try("a missing entry", err)
	_, err = env.Spawn(ctx, m, "serve", I32(1))
	try("wrong params", err)
	_, err = narrow.Spawn(ctx, m, "serve")
	try("a denied namespace", err)
	_, err = closed.Spawn(ctx, m, "serve")
	try("a closed environment", err)
	try("a name taken", func() error {
		if err := env.Register("svc", "1.0.0", p); err != nil {
			return nil
		}
		return env.Register("svc", "1.0.0", p)
	}())
	_, _, err = env.Lookup("nobody", "*")
	try("a name not found", err)
	_, _, err = env.Lookup("svc", "not a constraint")
	try("a bad constraint", err)
	try("a send to no process", r.Send(ctx, 1<<40, Message{}))
	_, err = r.Environment().Call(ctx, m, "trap_on_call", nil)
	try("a call whose process trapped", err)
	short, cancel := context.WithTimeout(ctx, 10*time.Millisecond)
	_, err = r.Environment().Call(short, m, "spin", nil)
	cancel()
	try("a call cut by its ctx", err)

	for name, err := range errs {
		s := err.Error()
		if !strings.HasPrefix(s, "ward: ") || strings.Count(s, "ward: ") != 1 {
			t.Errorf("%s: %q, want one \"ward: \" prefix", name, s)
		}
	}
}
