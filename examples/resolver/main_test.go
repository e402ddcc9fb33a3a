package main

import (
	"bytes"
	"context"
	"errors"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wardrt/ward/environment"
	wardnet "github.com/wardrt/ward/hostapi/net"
)

func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// TestRun runs the example and checks what it prints.
func TestRun(t *testing.T) {
	var out bytes.Buffer
	if err := run(testCtx(t), &out); err != nil {
		t.Fatalf("run: %v\n%s", err, out.String())
	}
	want := []string{
		"resolver: process 1 may resolve *.example.com; registered in the child environment as resolve@1.0.0",
		"child asks a.example.com: 192.0.2.10",
		"child asks b.example.com: 192.0.2.11, 2001:db8::11",
		"child asks evil.com: refused by the resolver (not permitted)",
		"child asks nx.example.com: no such name",
		`child spawns a module importing ward_net: refused: ward: spawning resolver.serve: import "ward_net"."resolve" is not allowed in this environment (allowed namespaces: ward_process, ward_message, ward_registry)`,
	}
	if got := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n"); !slices.Equal(got, want) {
		t.Errorf("printed:\n%s\nwant:\n%s", out.String(), strings.Join(want, "\n"))
	}
}

// The child's only way to a name is the resolver: an allowed name is
// answered through it, a name outside the resolver's allow-list is
// refused there before any look-up, and a module that imports ward_net
// cannot even start in the child, nor in any environment below it.
func TestChildResolvesOnlyThroughTheResolver(t *testing.T) {
	ctx := testCtx(t)
	var mu sync.Mutex
	var asked []string
	d, err := start(ctx, func(ctx context.Context, host string) ([]netip.Addr, error) {
		mu.Lock()
		asked = append(asked, host)
		mu.Unlock()
		return lookupZone(ctx, host)
	})
	if err != nil {
		t.Fatal(err)
	}
	defer d.rt.Close(ctx)

	a, err := d.ask(ctx, "a.example.com")
	if err != nil || a.Status != 0 || !slices.Equal(a.Addrs, zone["a.example.com"]) {
		t.Errorf("a.example.com: %v %v, want %v", a, err, zone["a.example.com"])
	}
	a, err = d.ask(ctx, "evil.com")
	if err != nil || a.Status != 2 || len(a.Addrs) != 0 {
		t.Errorf("evil.com: %+v %v, want status 2 (ErrPermission) and no address", a, err)
	}
	mu.Lock()
	if !slices.Equal(asked, []string{"a.example.com"}) {
		t.Errorf("the DNS was asked %q, want only a.example.com", asked)
	}
	mu.Unlock()
	if d.resolver.Reason() != nil {
		t.Errorf("the resolver ended: %v", d.resolver.Reason())
	}

	// The resolver's own module imports ward_net: refused at spawn.
	_, err = d.child.Spawn(ctx, d.resolverMod, "serve")
	var denied *environment.DeniedError
	if !errors.Is(err, environment.ErrNamespaceDenied) || !errors.As(err, &denied) || denied.Import.Module != wardnet.Namespace {
		t.Errorf("spawning a ward_net guest in the child: %v, want a DeniedError for %s", err, wardnet.Namespace)
	}
	// Nothing below the child gets the namespace back.
	_, err = d.child.NewChild(environment.Config{Namespaces: append(slices.Clone(childNamespaces), wardnet.Namespace)})
	if !errors.Is(err, environment.ErrWiden) {
		t.Errorf("a grandchild asking for %s: %v, want ErrWiden", wardnet.Namespace, err)
	}

	// The client finds the service through its environment's registry:
	// where it is not registered, there is no answer.
	bare, err := d.rt.NewEnvironment(environment.Config{Namespaces: childNamespaces})
	if err != nil {
		t.Fatal(err)
	}
	reply, err := bare.Call(ctx, d.clientMod, "ask", []byte("a.example.com"))
	if err != nil || !bytes.Equal(reply, []byte{103, 0, 0, 0}) {
		t.Errorf("a client where resolve is not registered: % x %v, want status 103 (100+ErrNotFound)", reply, err)
	}
}
