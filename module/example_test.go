package module_test

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"

	"github.com/wardrt/ward/module"
)

// A publisher signs a module once; whoever loads it trusts the publisher's
// public key, and a module changed on the way is refused.
func Example() {
	// The publisher's key; in practice generated once with
	// ed25519.GenerateKey and kept secret.
	priv := ed25519.NewKeyFromSeed(make([]byte, ed25519.SeedSize))
	pub := priv.Public().(ed25519.PublicKey)

	wasm := []byte("\x00asm\x01\x00\x00\x00") // an empty module, as an example
	signed, err := module.Sign(wasm, priv)
	if err != nil {
		fmt.Println(err)
		return
	}

	// The loader's side: read from any Source and verify.
	ctx := context.Background()
	_, v, err := module.Fetch(ctx, module.Bytes("plugin.wasm", signed), 1<<20, module.Ed25519(pub))
	fmt.Println(v.Method, err)

	tampered := append(signed[:len(signed):len(signed)], 0, 1, 0) // one more custom section
	_, _, err = module.Fetch(ctx, module.Bytes("plugin.wasm", tampered), 1<<20, module.Ed25519(pub))
	fmt.Println(errors.Is(err, module.ErrBadSignature))
	// Output:
	// ed25519 <nil>
	// true
}
