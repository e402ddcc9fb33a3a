package module

import (
	"bytes"
	"crypto/ed25519"
	"errors"
	"testing"
)

func TestStripUnsignedIsIdentity(t *testing.T) {
	got, err := Strip(tiny)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, tiny) {
		t.Fatalf("Strip changed an unsigned module: %x", got)
	}
}

func TestSignKeepsContent(t *testing.T) {
	_, a := key(1)
	_, b := key(2)
	signed := mustSign(t, tiny, a)
	if len(signed) <= len(tiny) || !bytes.Equal(signed[:len(tiny)], tiny) {
		t.Fatalf("Sign should append one section to the module: %x", signed)
	}
	got, err := Strip(signed)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, tiny) {
		t.Fatalf("Strip(Sign(m)) = %x, want m", got)
	}
	// Signing again replaces the signature rather than adding a second.
	again := mustSign(t, signed, b)
	if len(again) != len(signed) {
		t.Fatalf("re-signed module is %d bytes, want %d (one signature)", len(again), len(signed))
	}
	if _, err := Ed25519(b.Public().(ed25519.PublicKey)).Verify(again, nil); err != nil {
		t.Fatalf("re-signed module: %v", err)
	}
}

func TestStripMalformed(t *testing.T) {
	_, priv := key(1)
	sig := mustSign(t, tiny, priv)
	twice := append(append([]byte(nil), sig...), sig[len(tiny):]...)
	cases := map[string][]byte{
		"empty":               nil,
		"short header":        tiny[:6],
		"bad magic":           append([]byte("\x00wasm"), tiny[4:]...),
		"component version":   append(append([]byte(nil), tiny[:4]...), append([]byte{0x0d, 0x00, 0x01, 0x00}, tiny[8:]...)...),
		"truncated section":   tiny[:len(tiny)-1],
		"truncated size":      append(append([]byte(nil), tiny[:8]...), 0x01, 0x80),
		"overlong size":       append(append([]byte(nil), tiny[:8]...), 0x00, 0x80, 0x80, 0x80, 0x80, 0x80, 0x00),
		"size over 32 bits":   append(append([]byte(nil), tiny[:8]...), 0x00, 0x80, 0x80, 0x80, 0x80, 0x10),
		"bad custom name":     append(append([]byte(nil), tiny[:8]...), 0x00, 0x02, 0x05, 'a'),
		"two signatures":      twice,
		"truncated signature": sig[:len(sig)-1],
	}
	for name, b := range cases {
		t.Run(name, func(t *testing.T) {
			_, err := Strip(b)
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("Strip: %v, want ErrMalformed", err)
			}
		})
	}
}

// FuzzStrip: the parser never panics, stripping is idempotent, and a
// signed module strips back to the original and verifies.
func FuzzStrip(f *testing.F) {
	pub, priv := key(1)
	f.Add(tiny)
	f.Add(mustSign(f, tiny, priv))
	f.Add([]byte("\x00asm\x01\x00\x00\x00\x00\x0f\x0eward.signature"))
	f.Fuzz(func(t *testing.T, b []byte) {
		content, err := Strip(b)
		if err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("Strip error %v does not match ErrMalformed", err)
			}
			return
		}
		again, err := Strip(content)
		if err != nil || !bytes.Equal(again, content) {
			t.Fatalf("Strip is not idempotent: %v", err)
		}
		signed, err := Sign(b, priv)
		if err != nil {
			t.Fatalf("Sign of a module Strip accepts: %v", err)
		}
		if s, err := Strip(signed); err != nil || !bytes.Equal(s, content) {
			t.Fatalf("Strip(Sign(x)) != Strip(x): %v", err)
		}
		if _, err := Ed25519(pub).Verify(signed, nil); err != nil {
			t.Fatalf("Verify(Sign(x)): %v", err)
		}
	})
}
