package module

import (
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/hex"
	"fmt"

	"github.com/wardrt/ward/internal/errs"
)

// signatureDomain prefixes what is signed, so that a signature made for a
// ward module can never pass for a signature of anything else.
const signatureDomain = "ward module signature v1\x00"

// Signature format: version, algorithm, public key, signature.
const (
	sigVersion = 1
	algEd25519 = 1
	// SignatureSize is the size of a signature, detached or in a section.
	SignatureSize = 2 + ed25519.PublicKeySize + ed25519.SignatureSize
)

// Sign returns wasm with an embedded signature by key: its signed content
// (see Strip: any signature it had is replaced) followed by a
// "ward.signature" custom section. Engines ignore the section, so the
// result runs as wasm did.
func Sign(wasm []byte, key ed25519.PrivateKey) ([]byte, error) {
	content, sig, err := signContent(wasm, key)
	if err != nil {
		return nil, err
	}
	out := make([]byte, 0, len(content)+SignatureSize+len(SignatureSection)+8)
	out = append(out, content...)
	return appendSection(out, SignatureSection, sig), nil
}

// SignDetached returns a detached signature of wasm by key, to publish
// beside the module (for example as "<url>.sig"; see Detached). It signs
// the same content as Sign, so wasm may itself carry a signature or not.
func SignDetached(wasm []byte, key ed25519.PrivateKey) ([]byte, error) {
	_, sig, err := signContent(wasm, key)
	return sig, err
}

func signContent(wasm []byte, key ed25519.PrivateKey) (content, sig []byte, err error) {
	if len(key) != ed25519.PrivateKeySize {
		return nil, nil, fmt.Errorf("ward: signing module: private key is %d bytes, want %d", len(key), ed25519.PrivateKeySize)
	}
	content, err = Strip(wasm)
	if err != nil {
		return nil, nil, errs.Wrap(err, "signing module")
	}
	pub := key.Public().(ed25519.PublicKey)
	sig = make([]byte, 0, SignatureSize)
	sig = append(sig, sigVersion, algEd25519)
	sig = append(sig, pub...)
	sig = append(sig, ed25519.Sign(key, signedMessage([][]byte{content}))...)
	return content, sig, nil
}

// signedMessage is what the ed25519 signature signs, given the content
// in parts (split).
func signedMessage(content [][]byte) []byte {
	h := sha256.New()
	for _, p := range content {
		h.Write(p)
	}
	return h.Sum([]byte(signatureDomain))
}

// parseSignature splits a signature into the signer's key and the
// ed25519 signature.
func parseSignature(sig []byte) (ed25519.PublicKey, []byte, error) {
	if len(sig) != SignatureSize {
		return nil, nil, fmt.Errorf("%w: signature is %d bytes, want %d", ErrMalformed, len(sig), SignatureSize)
	}
	if sig[0] != sigVersion || sig[1] != algEd25519 {
		return nil, nil, fmt.Errorf("%w: signature version %d, algorithm %d; this ward reads version 1, algorithm 1 (ed25519)", ErrMalformed, sig[0], sig[1])
	}
	return ed25519.PublicKey(sig[2 : 2+ed25519.PublicKeySize]), sig[2+ed25519.PublicKeySize:], nil
}

// Fingerprint names a public key in Verified and in errors: the hex
// SHA-256 of the key's 32 bytes.
func Fingerprint(key ed25519.PublicKey) string {
	sum := sha256.Sum256(key)
	return hex.EncodeToString(sum[:])
}
