// Command resolver shows permissions passed through a process instead of
// granted: a child environment with no network namespace at all reaches
// DNS only by asking a resolve process, which answers only for the names
// its own environment may resolve.
//
//	go run ./examples/resolver
//
// The runtime registers ward_net (package hostapi/net) with a stand-in for
// DNS (Options.Lookup, a table in this file: no network is used), and its
// root environment may resolve *.example.com and nothing else. There runs
// the resolve process (resolver.wat): each request's data is a name, its
// reply the status and addresses ward_net gave. The embedder registers it
// in the child environment's registry as resolve@1.0.0, so the service is
// found where its clients look, by version.
//
// The child environment allows ward_process, ward_message and
// ward_registry, not ward_net. Its client (client.wat) looks up resolve
// ^1 and relays the answer: a.example.com is answered, evil.com refused by
// the resolver's allow-list (the stand-in DNS knows it, but is never
// asked), and the resolver's own module, which imports ward_net, is
// refused at spawn in the child: a guest there cannot reach the network
// but through the service.
package main

//go:generate go run ../../internal/tools/wat2wasm resolver.wat client.wat

import (
	"context"
	_ "embed"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"os"
	"strings"
	"time"

	"github.com/wardrt/ward/environment"
	wardnet "github.com/wardrt/ward/hostapi/net"
	"github.com/wardrt/ward/runtime"
)

var (
	//go:embed resolver.wasm
	resolverWasm []byte
	//go:embed client.wasm
	clientWasm []byte
)

// zone is the stand-in DNS: every name it knows, the allowed and the
// refused alike, so that a refusal shows the allow-list at work, not a
// missing name.
var zone = map[string][]netip.Addr{
	"a.example.com": {netip.MustParseAddr("192.0.2.10")},
	"b.example.com": {netip.MustParseAddr("192.0.2.11"), netip.MustParseAddr("2001:db8::11")},
	"evil.com":      {netip.MustParseAddr("203.0.113.66")},
}

func lookupZone(_ context.Context, host string) ([]netip.Addr, error) {
	if addrs, ok := zone[host]; ok {
		return addrs, nil
	}
	return nil, errors.New("no such host")
}

// childNamespaces is everything the child environment may import: no
// ward_net, and no WASI either.
var childNamespaces = []string{"ward_process", "ward_message", "ward_registry"}

func main() {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := run(ctx, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "resolver:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, out io.Writer) error {
	d, err := start(ctx, lookupZone)
	if err != nil {
		return err
	}
	defer d.rt.Close(ctx)
	fmt.Fprintf(out, "resolver: process %d may resolve *.example.com; registered in the child environment as resolve@1.0.0\n", d.resolver.ID())
	for _, name := range []string{"a.example.com", "b.example.com", "evil.com", "nx.example.com"} {
		a, err := d.ask(ctx, name)
		if err != nil {
			return err
		}
		fmt.Fprintf(out, "child asks %s: %v\n", name, a)
	}
	_, err = d.child.Spawn(ctx, d.resolverMod, "serve")
	var denied *environment.DeniedError
	if !errors.As(err, &denied) {
		return fmt.Errorf("the resolver's module spawned in the child environment: %v", err)
	}
	fmt.Fprintf(out, "child spawns a module importing %s: refused: %v\n", denied.Import.Module, err)
	return d.rt.Close(ctx)
}

// demo is the example's set-up: the runtime, the resolve process in the
// root environment, and the child environment it serves.
type demo struct {
	rt                     *runtime.Runtime
	child                  *runtime.Environment
	resolverMod, clientMod *runtime.Module
	resolver               *runtime.Process
}

// start builds the set-up with lookup as ward_net's DNS. On an error the
// runtime is closed.
func start(ctx context.Context, lookup func(context.Context, string) ([]netip.Addr, error)) (_ *demo, err error) {
	rt, err := runtime.New(
		runtime.WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil))),
		runtime.WithHostModule(wardnet.Module(wardnet.Options{Lookup: lookup})),
		// The root, where the resolver runs, may resolve these names:
		// no connecting, listening or binding anywhere.
		runtime.WithRootEnvironment(environment.Config{Host: map[string]environment.HostConfig{
			wardnet.Namespace: wardnet.Config{ResolveHosts: []string{"*.example.com"}},
		}}),
	)
	if err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			rt.Close(ctx)
		}
	}()
	d := &demo{rt: rt}
	if d.resolverMod, err = rt.LoadModule(ctx, "resolver", resolverWasm); err != nil {
		return nil, err
	}
	if d.clientMod, err = rt.LoadModule(ctx, "client", clientWasm); err != nil {
		return nil, err
	}
	if d.child, err = rt.NewEnvironment(environment.Config{MaxMemory: 1 << 20, Namespaces: childNamespaces}); err != nil {
		return nil, err
	}
	if d.resolver, err = rt.Environment().Spawn(ctx, d.resolverMod, "serve"); err != nil {
		return nil, err
	}
	// Names are per environment and guests look up in their own: the
	// service is registered where its clients are.
	if err = d.child.Register("resolve", "1.0.0", d.resolver); err != nil {
		return nil, err
	}
	return d, nil
}

// answer is what the child's client replied: the status of the resolve
// (abi status codes: 0 OK, 2 ErrPermission, 3 ErrNotFound, ...), or 100 +
// the status of the client's own failure, and the addresses.
type answer struct {
	Status uint32
	Addrs  []netip.Addr
}

func (a answer) String() string {
	switch a.Status {
	case 0:
		s := make([]string, len(a.Addrs))
		for i, addr := range a.Addrs {
			s[i] = addr.String()
		}
		return strings.Join(s, ", ")
	case 2:
		return "refused by the resolver (not permitted)"
	case 3:
		return "no such name"
	}
	if a.Status > 100 {
		return fmt.Sprintf("the client could not ask the resolver (status %d)", a.Status-100)
	}
	return fmt.Sprintf("status %d", a.Status)
}

// ask runs the client in a fresh process of the child environment with
// name as its input, and decodes its reply.
func (d *demo) ask(ctx context.Context, name string) (answer, error) {
	reply, err := d.child.Call(ctx, d.clientMod, "ask", []byte(name))
	if err != nil {
		return answer{}, err
	}
	if len(reply) < 4 || (len(reply)-4)%16 != 0 {
		return answer{}, fmt.Errorf("a malformed answer for %s: % x", name, reply)
	}
	a := answer{Status: binary.LittleEndian.Uint32(reply)}
	for rec := reply[4:]; len(rec) > 0; rec = rec[16:] {
		a.Addrs = append(a.Addrs, netip.AddrFrom16([16]byte(rec[:16])).Unmap())
	}
	return a, nil
}
