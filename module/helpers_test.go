package module

import (
	"crypto/ed25519"
	"testing"
)

// tiny is (module (func (export "run"))) as a binary.
var tiny = []byte{
	0x00, 'a', 's', 'm', 0x01, 0x00, 0x00, 0x00,
	0x01, 0x04, 0x01, 0x60, 0x00, 0x00, // type: () -> ()
	0x03, 0x02, 0x01, 0x00, // func 0 has type 0
	0x07, 0x07, 0x01, 0x03, 'r', 'u', 'n', 0x00, 0x00, // export "run"
	0x0a, 0x04, 0x01, 0x02, 0x00, 0x0b, // code: empty body
}

// key returns a fixed key pair, so that failures reproduce.
func key(seed byte) (ed25519.PublicKey, ed25519.PrivateKey) {
	s := make([]byte, ed25519.SeedSize)
	s[0] = seed
	priv := ed25519.NewKeyFromSeed(s)
	return priv.Public().(ed25519.PublicKey), priv
}

func mustSign(t testing.TB, wasm []byte, priv ed25519.PrivateKey) []byte {
	t.Helper()
	signed, err := Sign(wasm, priv)
	if err != nil {
		t.Fatal(err)
	}
	return signed
}
