package module

import (
	"crypto/ed25519"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"fmt"
	"strings"
)

// A Verifier decides whether to trust a module before it is compiled.
// Verify gets the module's bytes and its detached signature (nil if it has
// none) and returns what vouched for it, or an error saying why not.
// Verifiers must be safe for concurrent use.
type Verifier interface {
	Verify(wasm, detached []byte) (Verified, error)
}

// Verified says what vouched for a module.
type Verified struct {
	// Method is "sha256" for a pinned digest or "ed25519" for a
	// signature.
	Method string
	// ID is the pinned digest (hex) or the signer's key Fingerprint.
	ID string
}

// String returns Method:ID.
func (v Verified) String() string { return v.Method + ":" + v.ID }

// SHA256 returns a Verifier that accepts exactly the modules whose
// SHA-256, over all their bytes as sha256sum computes it, is one of
// hexDigests; others fail with ErrDigestMismatch. Detached signatures are
// ignored. A digest that is not 64 hex digits can match nothing, so it
// makes every Verify fail with ErrMalformed naming it, rather than be
// silently useless.
func SHA256(hexDigests ...string) Verifier {
	v := digestVerifier{}
	for _, h := range hexDigests {
		b, err := hex.DecodeString(strings.TrimSpace(h))
		if err != nil || len(b) != sha256.Size {
			v.bad = append(v.bad, h)
			continue
		}
		v.digests = append(v.digests, [sha256.Size]byte(b))
	}
	return v
}

type digestVerifier struct {
	digests [][sha256.Size]byte
	bad     []string
}

func (v digestVerifier) Verify(wasm, _ []byte) (Verified, error) {
	if len(v.bad) > 0 {
		return Verified{}, fmt.Errorf("%w: pinned digests %q are not 64 hex digits", ErrMalformed, v.bad)
	}
	sum := sha256.Sum256(wasm)
	for _, d := range v.digests {
		if subtle.ConstantTimeCompare(d[:], sum[:]) == 1 {
			return Verified{Method: "sha256", ID: hex.EncodeToString(sum[:])}, nil
		}
	}
	return Verified{}, fmt.Errorf("%w: its SHA-256 is %x; pin it with module.SHA256 if it is the module you expect", ErrDigestMismatch, sum)
}

// Ed25519 returns a Verifier that accepts modules signed (see Sign and
// SignDetached) by one of keys. A detached signature, when there is one,
// is checked instead of an embedded one. Errors: ErrNotSigned,
// ErrMalformed (the module's framing or the signature's format),
// ErrBadSignature, ErrUntrustedKey.
func Ed25519(keys ...ed25519.PublicKey) Verifier {
	v := keyVerifier{}
	for _, k := range keys {
		if len(k) == ed25519.PublicKeySize {
			v.keys = append(v.keys, append(ed25519.PublicKey(nil), k...))
		} else {
			v.bad++
		}
	}
	return v
}

type keyVerifier struct {
	keys []ed25519.PublicKey
	bad  int // keys of the wrong size
}

func (v keyVerifier) Verify(wasm, detached []byte) (Verified, error) {
	if v.bad > 0 {
		return Verified{}, fmt.Errorf("%w: %d trusted keys are not %d-byte ed25519 public keys", ErrMalformed, v.bad, ed25519.PublicKeySize)
	}
	content, sig, err := split(wasm)
	if err != nil {
		return Verified{}, err
	}
	where := "embedded"
	if detached != nil {
		sig, where = detached, "detached"
	}
	if sig == nil {
		return Verified{}, fmt.Errorf("%w: no detached signature and no %s section; sign it with module.Sign or module.SignDetached", ErrNotSigned, SignatureSection)
	}
	pub, s, err := parseSignature(sig)
	if err != nil {
		return Verified{}, fmt.Errorf("%w (the %s signature)", err, where)
	}
	valid := ed25519.Verify(pub, signedMessage(content), s)
	trusted := false
	for _, k := range v.keys {
		if k.Equal(pub) {
			trusted = true
			break
		}
	}
	switch {
	case !valid:
		return Verified{}, fmt.Errorf("%w: the %s signature does not match the module (changed after signing, or a damaged or forged signature)", ErrBadSignature, where)
	case !trusted:
		return Verified{}, fmt.Errorf("%w: the %s signature is by key %s, which is not among the %d trusted", ErrUntrustedKey, where, Fingerprint(pub), len(v.keys))
	}
	return Verified{Method: "ed25519", ID: Fingerprint(pub)}, nil
}
