package cluster

import (
	"bytes"
	"crypto/ecdh"
	"crypto/rand"
	"testing"

	"github.com/nats-io/nkeys"
)

// A registration is taken only with its nkey's signature over its X25519
// key and epoch.
func TestRegistrationSigned(t *testing.T) {
	kp, _ := nkeys.CreateUser()
	pub, _ := kp.PublicKey()
	dh, _ := ecdh.X25519().GenerateKey(rand.Reader)
	r, err := newRegistration(kp, pub, 7, dh)
	if err != nil {
		t.Fatal(err)
	}
	if _, got, err := r.check(); err != nil || !bytes.Equal(got.Bytes(), dh.PublicKey().Bytes()) {
		t.Fatalf("a good registration: %v", err)
	}
	other, _ := ecdh.X25519().GenerateKey(rand.Reader)
	forged := r
	forged.DH = other.PublicKey().Bytes()
	if _, _, err := forged.check(); err == nil {
		t.Fatal("a registration with a swapped session key passed")
	}
	forged = r
	forged.Epoch++
	if _, _, err := forged.check(); err == nil {
		t.Fatal("a registration with another epoch passed")
	}
}

// Two nodes derive the same key for each direction, and different keys
// for the two directions.
func TestSessionKeysPairUp(t *testing.T) {
	a, b := &Node{id: 1, epoch: 10}, &Node{id: 2, epoch: 20}
	a.dh, _ = ecdh.X25519().GenerateKey(rand.Reader)
	b.dh, _ = ecdh.X25519().GenerateKey(rand.Reader)
	aOut, aIn, err := a.sessionMACs(2, 20, b.dh.PublicKey())
	if err != nil {
		t.Fatal(err)
	}
	bOut, bIn, _ := b.sessionMACs(1, 10, a.dh.PublicKey())
	body := []byte("frame")
	if !bytes.Equal(mac(aOut, body), mac(bIn, body)) || !bytes.Equal(mac(bOut, body), mac(aIn, body)) {
		t.Fatal("the two ends derive different keys")
	}
	if bytes.Equal(mac(aOut, body), mac(aIn, body)) {
		t.Fatal("both directions share a key: a frame could be reflected")
	}
	// Another Join of b is another key.
	bOut2, _, _ := a.sessionMACs(2, 21, b.dh.PublicKey())
	if bytes.Equal(mac(aOut, body), mac(bOut2, body)) {
		t.Fatal("the key does not depend on the epoch")
	}
}
