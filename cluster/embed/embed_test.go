package embed

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

func start(t *testing.T, o Options) *Server {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	s, err := Start(ctx, o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	return s
}

func mustCred(t *testing.T) Cred {
	t.Helper()
	c, err := NewCred()
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// A node credential reaches the bus and JetStream in process; the store
// directory given is the one used.
func TestNodeConnectsAndUsesJetStream(t *testing.T) {
	node := mustCred(t)
	dir := t.TempDir()
	s := start(t, Options{StoreDir: dir, Nodes: []Cred{node}})
	if s.ClientURL() != "" {
		t.Fatalf("ClientURL = %q without Listen", s.ClientURL())
	}
	nc, err := s.Connect(node)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	kv, err := js.CreateKeyValue(ctx, jetstream.KeyValueConfig{Bucket: "b"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := kv.Create(ctx, "k", []byte("v")); err != nil {
		t.Fatal(err)
	}
	if _, err := kv.Create(ctx, "k", []byte("w")); !errors.Is(err, jetstream.ErrKeyExists) {
		t.Fatalf("second Create: %v, want ErrKeyExists", err)
	}
	if got := s.NATS().JetStreamConfig().StoreDir; got == "" || got[:len(dir)] != dir {
		t.Fatalf("store dir %q, want under %q", got, dir)
	}
}

// Without a credential, or with one the server does not know, a client
// is turned away: the server is closed by default. (Checked over TCP: a
// refused in-process connection takes nats.go 10 s to give up.)
func TestAuthOnByDefault(t *testing.T) {
	node := mustCred(t)
	s := start(t, Options{Listen: true, Nodes: []Cred{node}})
	if nc, err := nats.Connect(s.ClientURL()); err == nil {
		nc.Close()
		t.Fatal("a client without a credential connected")
	}
	if nc, err := nats.Connect(s.ClientURL(), mustCred(t).Option()); err == nil {
		nc.Close()
		t.Fatal("a client with an unknown nkey connected")
	}
	nc, err := nats.Connect(s.ClientURL(), node.Option())
	if err != nil {
		t.Fatalf("the node's own credential: %v", err)
	}
	nc.Close()
	if _, err := Start(context.Background(), Options{}); err == nil {
		t.Fatal("Start with no credentials and auth on succeeded")
	}
}

// A bus client may use ward's subjects but not JetStream, so it cannot
// write the node registry.
func TestBusClientHasNoJetStream(t *testing.T) {
	node, bus := mustCred(t), mustCred(t)
	s := start(t, Options{Nodes: []Cred{node}, BusClients: []Cred{bus}})
	nn, err := s.Connect(node)
	if err != nil {
		t.Fatal(err)
	}
	defer nn.Close()
	errs := make(chan error, 4)
	bc, err := s.Connect(bus, nats.ErrorHandler(func(_ *nats.Conn, _ *nats.Subscription, err error) { errs <- err }))
	if err != nil {
		t.Fatal(err)
	}
	defer bc.Close()

	sub, err := nn.SubscribeSync("ward.x.sig.1")
	if err != nil {
		t.Fatal(err)
	}
	nn.Flush()
	if err := bc.Publish("ward.x.sig.1", []byte("hi")); err != nil {
		t.Fatal(err)
	}
	if m, err := sub.NextMsg(10 * time.Second); err != nil || string(m.Data) != "hi" {
		t.Fatalf("bus publish on ward.>: %v", err)
	}

	js, _ := jetstream.New(bc)
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	if _, err := js.CreateKeyValue(ctx, jetstream.KeyValueConfig{Bucket: "b"}); err == nil {
		t.Fatal("a bus client created a KV bucket")
	}
	bc.Publish("$KV.b.k", []byte("forged"))
	bc.Flush()
	select {
	case err := <-errs:
		if !errors.Is(err, nats.ErrPermissionViolation) {
			t.Fatalf("async error %v, want a permissions violation", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no permissions violation for a publish outside ward.>")
	}
}

func TestCredSeedRoundTrip(t *testing.T) {
	c := mustCred(t)
	d, err := CredFromSeed(c.Seed())
	if err != nil {
		t.Fatal(err)
	}
	if d.Public() != c.Public() || c.Public()[0] != 'U' {
		t.Fatalf("public %q vs %q", d.Public(), c.Public())
	}
	if _, err := CredFromSeed([]byte("nope")); err == nil {
		t.Fatal("a bad seed was accepted")
	}
}
