package cluster

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"testing"

	"github.com/nats-io/nkeys"
)

// A frame survives its encoding, and its authenticator covers every
// byte: one bit changed anywhere fails the check.
func TestFrameRoundTrip(t *testing.T) {
	m := hmac.New(sha256.New, []byte("k"))
	f := frame{Kind: kindMsg, Node: 3, Dst: 4, Epoch: 99, Gen: 2, Seq: 7, From: 1, To: 2, Tag: -5, Body: []byte("hi"), Env: []uint64{3, 1}}
	b, err := sealMAC(m, &f)
	if err != nil {
		t.Fatal(err)
	}
	g, env, err := open(b)
	if err != nil {
		t.Fatal(err)
	}
	if g.V != frameVersion || g.Kind != f.Kind || g.Seq != 7 || g.Tag != -5 || !bytes.Equal(g.Body, f.Body) || len(g.Env) != 2 {
		t.Fatalf("decoded %+v from %+v", g, f)
	}
	if !env.checkMAC(m) {
		t.Fatal("the MAC does not check")
	}
	for i := 1; i < len(b); i++ {
		c := append([]byte(nil), b...)
		c[i] ^= 1
		if _, env, err := open(c); err == nil && env.checkMAC(m) {
			t.Fatalf("a flipped bit at %d passed", i)
		}
	}
	kp, _ := nkeys.CreateUser()
	b, _ = seal(kp, &f)
	if _, env, err := open(b); err != nil || !env.check(kp) || env.checkMAC(m) {
		t.Fatalf("a signed frame: %v", err)
	}
}

// open never panics, whatever arrives.
func FuzzOpen(f *testing.F) {
	m := hmac.New(sha256.New, []byte("k"))
	good, _ := sealMAC(m, &frame{Kind: kindMsg, Body: []byte("x")})
	for _, s := range [][]byte{nil, {0}, {1}, {255, 1, 2}, good, good[:10]} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		if fr, env, err := open(data); err == nil {
			env.checkMAC(m)
			_ = fr.Kind
		}
	})
}
