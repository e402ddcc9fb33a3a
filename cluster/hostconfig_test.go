package cluster

import (
	"context"
	"errors"
	"testing"

	"github.com/wardrt/ward/environment"
	"github.com/wardrt/ward/hostapi"
	"github.com/wardrt/ward/runtime"
)

// noGrants is a host module configuration that grants nothing.
type noGrants struct{}

func (noGrants) Permits(string) bool { return false }
func (noGrants) Narrow(c environment.HostConfig) (environment.HostConfig, error) {
	return c, nil
}

// Host modules' configurations are Go values of one node's modules: a
// remote spawn cannot ask for one, and an owner's, or a grant's on the
// target, does not get in the way of a spawn.
func TestHostConfigsStayOnTheirNode(t *testing.T) {
	if _, err := portable(environment.Config{Host: map[string]environment.HostConfig{"m": noGrants{}}}); !errors.Is(err, ErrNotPortable) {
		t.Fatalf("a Config with Host: %v, want ErrNotPortable", err)
	}

	ctx := testContext(t)
	js := startJS(t)
	mod := hostapi.Module{Namespace: "m", DefaultConfig: noGrants{}, Funcs: []hostapi.Func{{Name: "f",
		Handler: func(context.Context, *hostapi.Call) error { return nil }}}}
	caller := testRuntime(t)
	target, err := runtime.New(runtime.WithHostModule(mod))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { target.Close(context.Background()) })
	cms, err := openModules(ctx, caller, js, "ward_test_modules", 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	tms, err := openModules(ctx, target, js, "ward_test_modules", 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	m, err := cms.publish(ctx, "waiter", []byte(waiterWAT))
	if err != nil {
		t.Fatal(err)
	}
	grant, err := target.NewEnvironment(environment.Config{MaxProcesses: 10})
	if err != nil {
		t.Fatal(err)
	}
	if grant.Config().Host["m"] == nil {
		t.Fatal("the grant has no configuration for the target's module")
	}
	s := newSpawner(t, target, tms, map[string]*runtime.Environment{"jobs": grant})
	owner := caller.Environment().Config()
	owner.WASI, owner.Host = environment.WASI{}, nil // as Node.Spawn sends it
	id, err := s.spawn(ctx, 2, spawnRequest{Hash: m.Hash(), Entry: "wait", Grant: "jobs", OwnerConfig: &owner})
	if err != nil {
		t.Fatalf("a spawn whose grant configures a host module the owner has not: %v", err)
	}
	if p, ok := target.Process(runtime.ProcessID(id)); ok {
		p.Kill()
	}
}
