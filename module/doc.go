// Package module says where a WebAssembly module comes from and whether to
// trust it, before anything compiles it.
//
// A Source yields a module's bytes: Bytes, File, Reader, or URL over HTTP
// or HTTPS, each reading at most a given number of bytes (more is an error
// matching ErrTooLarge) and stopping when its context ends. Detached pairs
// a module's Source with the Source of a detached signature, such as
// "<url>.sig" beside a URL.
//
// A Verifier decides whether to trust the bytes: SHA256 pins exact digests
// (what sha256sum prints for the file); Ed25519 accepts modules signed by
// one of the given public keys. A signature is either detached or carried
// in the module itself, in a custom section named "ward.signature" that
// Sign appends and that every Wasm engine ignores.
//
// # What is signed
//
// The signed content of a module is its bytes with every "ward.signature"
// custom section removed (Strip), so adding a signature does not change
// what is signed, and a detached signature and an embedded one over the
// same module are interchangeable. The signature is an ed25519 signature
// of
//
//	"ward module signature v1\x00" || SHA-256(content)
//
// The prefix keeps a module-signing key from vouching for anything that is
// not a ward module, should it be used, by mistake or by trickery, to sign
// other messages. A signature, embedded or detached, is 98 bytes: a
// version byte (1), an algorithm byte (1: ed25519), the signer's 32-byte
// public key, and the 64-byte signature. Carrying the public key lets a
// verifier tell a forged or damaged signature (ErrBadSignature) from a
// valid one by a key it does not trust (ErrUntrustedKey); trust still
// comes only from the verifier's own list of keys.
//
// Fetch reads a Source and verifies it in one call; package runtime's
// Runtime.Load does the same and compiles the result.
package module
