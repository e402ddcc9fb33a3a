package module

import (
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"testing"
)

func TestEd25519(t *testing.T) {
	pub, priv := key(1)
	other, otherPriv := key(2)
	signed := mustSign(t, tiny, priv)
	detached, err := SignDetached(tiny, priv)
	if err != nil {
		t.Fatal(err)
	}
	tampered := append([]byte(nil), signed...)
	tampered[len(tiny)-2] ^= 1 // inside the code section, before the signature
	forged := append([]byte(nil), detached...)
	forged[len(forged)-1] ^= 1
	// A signature by the trusted key of the content's digest without the
	// domain prefix: what a key misused for other messages could produce.
	sum := sha256.Sum256(tiny)
	undomained := append(append([]byte{1, 1}, pub...), ed25519.Sign(priv, sum[:])...)

	cases := []struct {
		name     string
		wasm     []byte
		detached []byte
		trust    []ed25519.PublicKey
		want     error // nil: verified
	}{
		{"embedded", signed, nil, []ed25519.PublicKey{other, pub}, nil},
		{"detached", tiny, detached, []ed25519.PublicKey{pub}, nil},
		{"detached wins over embedded", mustSign(t, tiny, otherPriv), detached, []ed25519.PublicKey{pub}, nil},
		{"detached of a signed module", signed, mustDetach(t, signed, priv), []ed25519.PublicKey{pub}, nil},
		{"wrong key", signed, nil, []ed25519.PublicKey{other}, ErrUntrustedKey},
		{"no keys", signed, nil, nil, ErrUntrustedKey},
		{"tampered", tampered, nil, []ed25519.PublicKey{pub}, ErrBadSignature},
		{"forged detached", tiny, forged, []ed25519.PublicKey{pub}, ErrBadSignature},
		{"without the domain prefix", tiny, undomained, []ed25519.PublicKey{pub}, ErrBadSignature},
		{"detached for another module", append(append([]byte(nil), tiny...), 0, 1, 0), detached, []ed25519.PublicKey{pub}, ErrBadSignature},
		{"not signed", tiny, nil, []ed25519.PublicKey{pub}, ErrNotSigned},
		{"empty detached", tiny, []byte{}, []ed25519.PublicKey{pub}, ErrMalformed},
		{"truncated", signed[:len(signed)-10], nil, []ed25519.PublicKey{pub}, ErrMalformed},
		{"truncated before the signature", signed[:len(tiny)-3], nil, []ed25519.PublicKey{pub}, ErrMalformed},
		{"bad trusted key", signed, nil, []ed25519.PublicKey{pub[:31]}, ErrMalformed},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			v, err := Ed25519(c.trust...).Verify(c.wasm, c.detached)
			if c.want == nil {
				if err != nil {
					t.Fatal(err)
				}
				if v.Method != "ed25519" || v.ID != Fingerprint(pub) {
					t.Fatalf("Verified = %v, want ed25519:%s", v, Fingerprint(pub))
				}
				return
			}
			if !errors.Is(err, c.want) {
				t.Fatalf("Verify: %v, want %v", err, c.want)
			}
			if v != (Verified{}) {
				t.Fatalf("a failed Verify returned %v", v)
			}
		})
	}
}

func mustDetach(t *testing.T, wasm []byte, priv ed25519.PrivateKey) []byte {
	t.Helper()
	sig, err := SignDetached(wasm, priv)
	if err != nil {
		t.Fatal(err)
	}
	return sig
}

func TestSHA256(t *testing.T) {
	sum := sha256.Sum256(tiny)
	digest := hex.EncodeToString(sum[:])
	v, err := SHA256("00"+digest[2:], digest).Verify(tiny, nil)
	if err != nil {
		t.Fatal(err)
	}
	if v.String() != "sha256:"+digest {
		t.Fatalf("Verified = %v", v)
	}
	if _, err := SHA256("00"+digest[2:]).Verify(tiny, nil); !errors.Is(err, ErrDigestMismatch) {
		t.Fatalf("unpinned module: %v, want ErrDigestMismatch", err)
	}
	// The pin is of the exact bytes: signing a module changes it.
	_, priv := key(1)
	if _, err := SHA256(digest).Verify(mustSign(t, tiny, priv), nil); !errors.Is(err, ErrDigestMismatch) {
		t.Fatalf("signed copy of a pinned module: %v, want ErrDigestMismatch", err)
	}
	if _, err := SHA256(digest, "not hex").Verify(tiny, nil); !errors.Is(err, ErrMalformed) {
		t.Fatalf("a bad pinned digest: %v, want ErrMalformed", err)
	}
}

func TestSignBadKey(t *testing.T) {
	if _, err := Sign(tiny, ed25519.PrivateKey{1, 2, 3}); err == nil {
		t.Fatal("Sign accepted a 3-byte private key")
	}
	_, priv := key(1)
	if _, err := Sign([]byte("(module)"), priv); !errors.Is(err, ErrMalformed) {
		t.Fatalf("Sign of WAT text: %v, want ErrMalformed", err)
	}
}
