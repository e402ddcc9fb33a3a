package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/wardrt/ward/runtime"
)

func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// TestRun runs the example and checks what it prints, the port aside.
func TestRun(t *testing.T) {
	var out bytes.Buffer
	if err := run(testCtx(t), &out); err != nil {
		t.Fatalf("run: %v\n%s", err, out.String())
	}
	want := []string{
		"socket: process 1 bound 127.0.0.1:PORT (udp)",
		"subscribed: a, b, c",
		"go sends 3 datagrams: one two three",
		"a received: one two three",
		"b received: one two three",
		"c received: one two three",
		"b ended (killed); the socket has 2 subscribers and has received 3 datagrams",
		"go sends 2 datagrams: four five",
		"a received: four five",
		"c received: four five",
		"socket ended (killed); port PORT is free again",
	}
	got := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
	if len(got) > 0 {
		if _, after, ok := strings.Cut(got[0], "127.0.0.1:"); ok {
			port, _, _ := strings.Cut(after, " ")
			for i := range got {
				got[i] = strings.ReplaceAll(got[i], port, "PORT")
			}
		}
	}
	if !slices.Equal(got, want) {
		t.Errorf("printed:\n%s\nwant:\n%s", out.String(), strings.Join(want, "\n"))
	}
}

func openFDs(t *testing.T) int {
	t.Helper()
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Skip("no /proc/self/fd:", err)
	}
	return len(ents)
}

// Real datagrams from Go reach every subscriber, each in the order sent;
// a killed subscriber is dropped (its monitor fires) while the socket
// serves the others on; killing the socket process closes its socket.
func TestSubscribers(t *testing.T) {
	ctx := testCtx(t)
	port, err := freeUDPPort()
	if err != nil {
		t.Fatal(err)
	}
	d, err := start(ctx, port)
	if err != nil {
		t.Fatal(err)
	}
	defer d.rt.Close(ctx)
	to := net.UDPAddrFromAddrPort(netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), uint16(port)))
	conn, err := net.DialUDP("udp", nil, to)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	before := openFDs(t)
	if err := d.serve(ctx); err != nil {
		t.Fatal(err)
	}
	var subs []*subscriber
	for i := range 3 {
		s, err := d.subscribe(ctx, fmt.Sprint("sub", i))
		if err != nil {
			t.Fatal(err)
		}
		subs = append(subs, s)
	}
	if st, err := d.stats(ctx); err != nil || st.Subscribers != 3 || st.Port != uint32(port) {
		t.Fatalf("stats after three subscribers: %+v %v", st, err)
	}

	// Few enough datagrams that loopback's receive buffer holds them all
	// while the socket is busy forwarding.
	send := func(from, to int) []string {
		var want []string
		for i := from; i < to; i++ {
			msg := strconv.Itoa(i)
			if _, err := conn.Write([]byte(msg)); err != nil {
				t.Fatal(err)
			}
			want = append(want, msg)
		}
		return want
	}
	want := send(0, 50)
	for _, s := range subs {
		if got, err := s.next(ctx, len(want)); err != nil || !slices.Equal(got, want) {
			t.Fatalf("%v received %q (%v), want %q", s.p, got, err, want)
		}
	}

	dead := subs[1]
	dead.p.Kill()
	if _, err := dead.p.Wait(ctx); err != nil {
		t.Fatal(err)
	}
	// The DOWN was queued before Wait returned, so the socket takes it
	// before this request.
	if st, err := d.stats(ctx); err != nil || st.Subscribers != 2 || st.Datagrams != 50 {
		t.Fatalf("stats after a subscriber ended: %+v %v, want 2 subscribers and 50 datagrams", st, err)
	}
	want = send(50, 60)
	for _, s := range []*subscriber{subs[0], subs[2]} {
		if got, err := s.next(ctx, len(want)); err != nil || !slices.Equal(got, want) {
			t.Fatalf("%v received %q (%v) after another ended, want %q", s.p, got, err, want)
		}
	}
	if len(dead.got) != 0 {
		t.Errorf("the killed subscriber received %d more datagrams", len(dead.got))
	}
	if st, err := d.stats(ctx); err != nil || st.Datagrams != 60 || d.socket.Reason() != nil {
		t.Fatalf("the socket after 60 datagrams: %+v %v, ended: %v", st, err, d.socket.Reason())
	}

	d.socket.Kill()
	if _, err := d.socket.Wait(ctx); err != nil {
		t.Fatal(err)
	}
	if after := openFDs(t); after != before {
		t.Errorf("%d descriptors open after the socket process ended, %d before it started", after, before)
	}
	again, err := net.ListenUDP("udp", to)
	if err != nil {
		t.Fatalf("the port is still taken after the socket process ended: %v", err)
	}
	again.Close()
	if _, err := d.stats(ctx); !errors.Is(err, runtime.ErrNoProcess) {
		t.Errorf("stats of the ended socket: %v, want ErrNoProcess", err)
	}
}

// The socket's other requests: unsubscribe stops the datagrams, and what
// it does not know is ErrInvalid.
func TestRequests(t *testing.T) {
	ctx := testCtx(t)
	port, err := freeUDPPort()
	if err != nil {
		t.Fatal(err)
	}
	d, err := start(ctx, port)
	if err != nil {
		t.Fatal(err)
	}
	defer d.rt.Close(ctx)
	if err := d.serve(ctx); err != nil {
		t.Fatal(err)
	}
	for req, want := range map[string][]byte{
		"unsubscribe": {3, 0, 0, 0}, // not a subscriber
		"publish":     {4, 0, 0, 0},
	} {
		if got, err := d.socket.Call(ctx, []byte(req)); err != nil || !bytes.Equal(got, want) {
			t.Errorf("%q: % x %v, want % x", req, got, err, want)
		}
	}
	// A process that subscribes twice and unsubscribes once is no
	// subscriber any more.
	socket := d.socket.ID()
	p, err := d.rt.Environment().SpawnGo(ctx, "twice", func(ctx context.Context, self *runtime.Self) error {
		for _, req := range []string{"subscribe", "subscribe", "unsubscribe"} {
			m, err := self.Request(ctx, socket, runtime.Message{Data: []byte(req)})
			if err != nil || !bytes.Equal(m.Data, []byte{0, 0, 0, 0}) {
				return fmt.Errorf("%s: % x %v", req, m.Data, err)
			}
		}
		// Asked while this process lives, so no DOWN has dropped it.
		m, err := self.Request(ctx, socket, runtime.Message{Data: []byte("stats")})
		if err != nil || len(m.Data) != 12 || m.Data[4] != 0 {
			return fmt.Errorf("stats after subscribe, subscribe, unsubscribe: % x %v, want no subscriber", m.Data, err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if reason, err := p.Wait(ctx); err != nil || !reason.Normal() {
		t.Fatalf("subscriber: %v %v", reason, err)
	}
}
