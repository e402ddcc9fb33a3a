package cluster

import (
	"context"
	"testing"

	"github.com/wardrt/ward/environment"
	"github.com/wardrt/ward/internal/route"
	"github.com/wardrt/ward/runtime"
)

// parked spawns a Go process in env that waits until it is killed.
func parked(t *testing.T, env *runtime.Environment) uint64 {
	t.Helper()
	p, err := env.SpawnGo(testContext(t), "parked", func(ctx context.Context, self *runtime.Self) error {
		_, err := self.Receive(ctx)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Kill)
	return uint64(p.ID())
}

func child(t *testing.T, env *runtime.Environment) *runtime.Environment {
	t.Helper()
	c, err := env.NewChild(environment.Config{})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// The subtree rule across nodes: a guest on the spawn's calling node may
// reach the spawned processes (and those they spawned below) when its
// environment is the spawn's Owner or above it; Go code always may; no
// one may reach processes of the grant that no spawn for them made.
func TestOwnersPermitTheOwnerChainOnly(t *testing.T) {
	rt := testRuntime(t)
	grant := child(t, rt.Environment())
	spawned := child(t, grant)
	below := child(t, spawned)
	var o owners
	o.record(spawned, 2, []uint64{5, 3, 1}) // Owner 5, its parent 3, root 1

	inSpawn, inBelow, inGrant := parked(t, spawned), parked(t, below), parked(t, grant)
	cases := []struct {
		name   string
		c      route.Caller
		target uint64
		want   bool
	}{
		{"Go code", route.Caller{Node: 3}, inGrant, true},
		{"the Owner", route.Caller{Node: 2, Env: []uint64{5, 3, 1}}, inSpawn, true},
		{"the Owner, below the spawn", route.Caller{Node: 2, Env: []uint64{5, 3, 1}}, inBelow, true},
		{"the Owner, qualified id", route.Caller{Node: 2, Env: []uint64{5, 3, 1}}, route.Qualify(inSpawn, 1), true},
		{"an ancestor of the Owner", route.Caller{Node: 2, Env: []uint64{3, 1}}, inSpawn, true},
		{"a child of the Owner", route.Caller{Node: 2, Env: []uint64{7, 5, 3, 1}}, inSpawn, false},
		{"a sibling of the Owner", route.Caller{Node: 2, Env: []uint64{6, 3, 1}}, inSpawn, false},
		{"the Owner's ids on another node", route.Caller{Node: 4, Env: []uint64{5, 3, 1}}, inSpawn, false},
		{"the Owner, outside the spawn", route.Caller{Node: 2, Env: []uint64{5, 3, 1}}, inGrant, false},
		{"an empty chain", route.Caller{Node: 2, Env: []uint64{}}, inSpawn, false},
		{"no such process", route.Caller{Node: 4, Env: []uint64{9}}, 1 << 40, true},
	}
	for _, tc := range cases {
		if got := o.permits(rt, tc.c, tc.target); got != tc.want {
			t.Errorf("%s: permits = %v, want %v", tc.name, got, tc.want)
		}
	}
}

// A spawn whose caller named no Owner leaves its processes to Go code.
func TestOwnersWithoutOwnerPermitGoCodeOnly(t *testing.T) {
	rt := testRuntime(t)
	spawned := child(t, rt.Environment())
	var o owners
	o.record(spawned, 2, nil)
	target := parked(t, spawned)
	if !o.permits(rt, route.Caller{Node: 2}, target) {
		t.Error("Go code refused")
	}
	if o.permits(rt, route.Caller{Node: 2, Env: []uint64{1}}, target) {
		t.Error("a guest in the caller's root permitted without an Owner")
	}
}
