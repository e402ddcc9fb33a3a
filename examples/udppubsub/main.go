// Command udppubsub shows a UDP socket as a process: one Wasm process
// binds a UDP socket on loopback and forwards every datagram, as a
// message, to the processes that subscribed to it.
//
//	go run ./examples/udppubsub
//
// The runtime registers ward_net (package hostapi/net); its root
// environment may bind 127.0.0.1 on one port, picked free at start, and do
// nothing else on the network. The socket process (socket.wat) binds it,
// takes "subscribe" requests from any process, monitors each subscriber,
// and sends each datagram to every subscriber under tag 1. Three Go-native
// processes subscribe; the program sends datagrams to the port from plain
// Go (net.DialUDP), and each subscriber receives all of them, in order.
// One subscriber is killed: its DOWN message drops it from the socket's
// list, and the socket serves the others on. Then the socket process is
// killed, and the socket with it: ward_net closes what a process held when
// it ends, so the port is free again.
package main

//go:generate go run ../../internal/tools/wat2wasm socket.wat

import (
	"context"
	_ "embed"
	"encoding/binary"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"strings"
	"time"

	"github.com/wardrt/ward/environment"
	wardnet "github.com/wardrt/ward/hostapi/net"
	"github.com/wardrt/ward/runtime"
)

//go:embed socket.wasm
var socketWasm []byte

// tagDatagram is the tag of the messages the socket forwards.
const tagDatagram = 1

func main() {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := run(ctx, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "udppubsub:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, out io.Writer) error {
	port, err := freeUDPPort()
	if err != nil {
		return err
	}
	d, err := start(ctx, port)
	if err != nil {
		return err
	}
	defer d.rt.Close(ctx)
	if err := d.serve(ctx); err != nil {
		return err
	}
	fmt.Fprintf(out, "socket: process %d bound 127.0.0.1:%d (udp)\n", d.socket.ID(), port)
	subs := map[string]*subscriber{}
	for _, name := range []string{"a", "b", "c"} {
		if subs[name], err = d.subscribe(ctx, name); err != nil {
			return err
		}
	}
	fmt.Fprintln(out, "subscribed: a, b, c")

	conn, err := net.DialUDP("udp", nil, net.UDPAddrFromAddrPort(netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), uint16(port))))
	if err != nil {
		return err
	}
	defer conn.Close()
	send := func(msgs ...string) error {
		fmt.Fprintf(out, "go sends %d datagrams: %s\n", len(msgs), strings.Join(msgs, " "))
		for _, m := range msgs {
			if _, err := conn.Write([]byte(m)); err != nil {
				return err
			}
		}
		return nil
	}
	show := func(n int, names ...string) error {
		for _, name := range names {
			got, err := subs[name].next(ctx, n)
			if err != nil {
				return err
			}
			fmt.Fprintf(out, "%s received: %s\n", name, strings.Join(got, " "))
		}
		return nil
	}

	if err := send("one", "two", "three"); err != nil {
		return err
	}
	if err := show(3, "a", "b", "c"); err != nil {
		return err
	}

	subs["b"].p.Kill()
	reason, err := subs["b"].p.Wait(ctx)
	if err != nil {
		return err
	}
	st, err := d.stats(ctx)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "b ended (%v); the socket has %d subscribers and has received %d datagrams\n", reason, st.Subscribers, st.Datagrams)
	if err := send("four", "five"); err != nil {
		return err
	}
	if err := show(2, "a", "c"); err != nil {
		return err
	}

	d.socket.Kill()
	if reason, err = d.socket.Wait(ctx); err != nil {
		return err
	}
	// The socket went with its process: the port can be bound again.
	again, err := net.ListenUDP("udp", net.UDPAddrFromAddrPort(netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), uint16(port))))
	if err != nil {
		return fmt.Errorf("the socket outlived its process: %w", err)
	}
	again.Close()
	fmt.Fprintf(out, "socket ended (%v); port %d is free again\n", reason, port)
	return d.rt.Close(ctx)
}

// demo is the example's runtime and its socket process.
type demo struct {
	rt     *runtime.Runtime
	mod    *runtime.Module
	port   int
	socket *runtime.Process
}

// start makes a runtime whose root environment may bind 127.0.0.1:port
// and nothing else, and loads the socket's module. On an error the
// runtime is closed.
func start(ctx context.Context, port int) (_ *demo, err error) {
	rt, err := runtime.New(
		runtime.WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil))),
		runtime.WithHostModule(wardnet.Module(wardnet.Options{})),
		runtime.WithRootEnvironment(environment.Config{Host: map[string]environment.HostConfig{
			wardnet.Namespace: wardnet.Config{
				ListenNets:  []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")},
				ListenPorts: []wardnet.PortRange{wardnet.Port(uint16(port))},
			},
		}}),
	)
	if err != nil {
		return nil, err
	}
	d := &demo{rt: rt, port: port}
	if d.mod, err = rt.LoadModule(ctx, "socket", socketWasm); err != nil {
		rt.Close(ctx)
		return nil, err
	}
	return d, nil
}

// serve spawns the socket process and returns once it has bound its
// socket: it takes requests only after the bind.
func (d *demo) serve(ctx context.Context) error {
	p, err := d.rt.Environment().Spawn(ctx, d.mod, "serve", runtime.I32(int32(d.port)))
	if err != nil {
		return err
	}
	d.socket = p
	_, err = d.stats(ctx)
	return err
}

// stats is the socket process's answer to "stats".
type stats struct{ Port, Subscribers, Datagrams uint32 }

func (d *demo) stats(ctx context.Context) (stats, error) {
	data, err := d.socket.Call(ctx, []byte("stats"))
	if err != nil {
		return stats{}, err
	}
	if len(data) != 12 {
		return stats{}, fmt.Errorf("stats: a malformed reply % x", data)
	}
	le := binary.LittleEndian
	return stats{le.Uint32(data), le.Uint32(data[4:]), le.Uint32(data[8:])}, nil
}

// subscriber is a Go-native process subscribed to the socket; got
// carries the datagrams it receives.
type subscriber struct {
	p   *runtime.Process
	got chan string
}

// subscribe spawns a subscriber and returns once the socket has taken its
// subscription.
func (d *demo) subscribe(ctx context.Context, name string) (*subscriber, error) {
	s := &subscriber{got: make(chan string, 1024)}
	subscribed := make(chan error, 1)
	socket := d.socket.ID()
	p, err := d.rt.Environment().SpawnGo(ctx, name, func(ctx context.Context, self *runtime.Self) error {
		reply, err := self.Request(ctx, socket, runtime.Message{Data: []byte("subscribe")})
		if err == nil && (len(reply.Data) != 4 || binary.LittleEndian.Uint32(reply.Data) != 0) {
			err = fmt.Errorf("subscribe: the socket answered % x", reply.Data)
		}
		subscribed <- err
		if err != nil {
			return err
		}
		for {
			m, err := self.Receive(ctx, tagDatagram)
			if err != nil {
				return nil // killed
			}
			s.got <- string(m.Data)
		}
	})
	if err != nil {
		return nil, err
	}
	s.p = p
	select {
	case err = <-subscribed:
	case <-ctx.Done():
		err = ctx.Err()
	}
	return s, err
}

// next waits for the subscriber's next n datagrams.
func (s *subscriber) next(ctx context.Context, n int) ([]string, error) {
	var got []string
	for len(got) < n {
		select {
		case m := <-s.got:
			got = append(got, m)
		case <-ctx.Done():
			return got, fmt.Errorf("%s received %q, then nothing: %w", s.p, got, ctx.Err())
		}
	}
	return got, nil
}

// freeUDPPort returns a loopback UDP port nothing is bound to (just now).
func freeUDPPort() (int, error) {
	c, err := net.ListenUDP("udp", net.UDPAddrFromAddrPort(netip.MustParseAddrPort("127.0.0.1:0")))
	if err != nil {
		return 0, err
	}
	defer c.Close()
	return c.LocalAddr().(*net.UDPAddr).Port, nil
}
