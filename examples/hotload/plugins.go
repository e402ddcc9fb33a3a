package main

import (
	"crypto/ed25519"
	"crypto/sha256"
	_ "embed" // for the go:embed directives below
)

//go:generate go run ../../internal/tools/wat2wasm plugins/*.wat

// embeddedGreeter is the version built into the service: what it runs
// when no release can be fetched or trusted, so it starts even with the
// release server down.
//
//go:embed plugins/greeter-1.0.0.wasm
var embeddedGreeter []byte

// embeddedPin is embeddedGreeter's SHA-256 (sha256sum
// plugins/greeter-1.0.0.wasm). It is written here rather than computed
// from the embedded bytes, which would vouch for anything: the pin is what
// was reviewed, and module.SHA256 lets the service's verified-only
// environment run the fallback without any signing key on the host.
// Rebuilding the .wasm means updating it (the test fails until then).
const embeddedPin = "1c199a758c8c148f7eb6db7e11b91ba48282f59ae3c15d534e0f43ece2b9ee56"

// The releases the demo publishes, unsigned as they come out of the build:
// the publisher signs them (publish in main.go).
var (
	//go:embed plugins/greeter-2.0.0.wasm
	greeter2 []byte
	//go:embed plugins/greeter-3.0.0.wasm
	greeter3 []byte
)

// demoKey derives a signing key from a name, so every run of the demo signs
// with the same keys and prints the same fingerprints. A real publisher
// generates its key once, keeps the private half off the service's host
// (an HSM, a CI secret) and signs at release time; the service only ever
// holds the public key.
func demoKey(name string) ed25519.PrivateKey {
	seed := sha256.Sum256([]byte("hotload demo key: " + name))
	return ed25519.NewKeyFromSeed(seed[:])
}
