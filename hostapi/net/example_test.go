package net_test

import (
	"context"
	"fmt"
	"io"
	gonet "net"
	"net/netip"

	"github.com/wardrt/ward/environment"
	wardnet "github.com/wardrt/ward/hostapi/net"
	"github.com/wardrt/ward/runtime"
)

// An embedder registers ward_net and says, in the root environment, what
// guests may reach: here loopback, on one port. A guest connecting there
// gets a connection; the same guest in a child environment that dropped
// networking is refused with ErrPermission (status 2).
func Example() {
	ctx := context.Background()
	l, err := gonet.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer l.Close()
	port := l.Addr().(*gonet.TCPAddr).Port

	rt, err := runtime.New(
		runtime.WithHostModule(wardnet.Module(wardnet.Options{})),
		runtime.WithRootEnvironment(environment.Config{Host: map[string]environment.HostConfig{
			wardnet.Namespace: wardnet.Config{
				ConnectNets:  []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")},
				ConnectPorts: []wardnet.PortRange{wardnet.Port(uint16(port))},
			},
		}}))
	if err != nil {
		fmt.Println(err)
		return
	}
	defer rt.Close(ctx)

	// The guest connects to 127.0.0.1:port, writes "hi" and exits with
	// the status it got.
	guest, err := rt.LoadModule(ctx, "guest", []byte(`(module
	  (import "ward_net" "tcp_connect" (func $connect (param i32 i32 i32 i32 i32) (result i32)))
	  (import "ward_net" "write" (func $write (param i32 i32 i32 i32 i32) (result i32)))
	  (import "ward_process" "exit" (func $exit (param i32)))
	  (memory (export "memory") 1)
	  (data (i32.const 16) "127.0.0.1")
	  (data (i32.const 32) "hi")
	  (func (export "run") (param $port i32) (local $st i32)
	    (local.set $st (call $connect (i32.const 16) (i32.const 9) (local.get $port) (i32.const 5000) (i32.const 0)))
	    (if (local.get $st) (then (call $exit (local.get $st))))
	    (call $exit (call $write (i32.load (i32.const 0)) (i32.const 32) (i32.const 2) (i32.const 5000) (i32.const 4)))))`))
	if err != nil {
		fmt.Println(err)
		return
	}
	reason, err := rt.Environment().Run(ctx, guest, "run", runtime.I32(int32(port)))
	fmt.Println(reason, err)
	c, err := l.Accept()
	if err != nil {
		fmt.Println(err)
		return
	}
	msg := make([]byte, 2)
	io.ReadFull(c, msg)
	c.Close()
	fmt.Printf("the server read %q\n", msg)

	// A child with an empty Config for ward_net: nothing allowed.
	child, err := rt.NewEnvironment(environment.Config{Host: map[string]environment.HostConfig{wardnet.Namespace: wardnet.Config{}}})
	if err != nil {
		fmt.Println(err)
		return
	}
	reason, err = child.Run(ctx, guest, "run", runtime.I32(int32(port)))
	fmt.Println(reason, err)
	// Output:
	// normal <nil>
	// the server read "hi"
	// process 2 exited with code 2 <nil>
}
