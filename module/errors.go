package module

import "errors"

// Errors, for errors.Is. The errors returned wrap one of them and say
// which module and what was wrong.
var (
	// ErrTooLarge: the module, or its signature, is larger than the limit
	// it was read with.
	ErrTooLarge = errors.New("ward: module too large")
	// ErrMalformed: the bytes are not a well-formed Wasm binary module
	// (bad magic or version, a section that runs past the end, an
	// overlong LEB128 size), or a signature is not in ward's format.
	ErrMalformed = errors.New("ward: malformed module")
	// ErrNotSigned: an Ed25519 verifier found no signature, neither
	// detached nor in a "ward.signature" section.
	ErrNotSigned = errors.New("ward: module not signed")
	// ErrBadSignature: the signature does not match the module: the
	// module was changed after signing, or the signature is forged or
	// damaged.
	ErrBadSignature = errors.New("ward: bad module signature")
	// ErrUntrustedKey: the signature is valid, but by a key the verifier
	// does not trust.
	ErrUntrustedKey = errors.New("ward: module signed by an untrusted key")
	// ErrDigestMismatch: the module's SHA-256 is none of those pinned.
	ErrDigestMismatch = errors.New("ward: module digest not pinned")
)
