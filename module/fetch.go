package module

import (
	"context"

	"github.com/wardrt/ward/internal/errs"
)

// MaxSignatureSize bounds what a detached signature Source may yield: a
// signature is SignatureSize bytes, and a larger file is not one.
const MaxSignatureSize = 4 << 10

// Detached pairs the Source of a module with the Source of its detached
// signature (see SignDetached), for Fetch and Runtime.Load to read both:
//
//	module.Detached(module.URL(u), module.URL(u+".sig"))
//
// It reads as src does; its Name is src's.
func Detached(src, sig Source) Source { return detached{src, sig} }

type detached struct {
	Source
	sig Source
}

// Fetch reads src, at most limit bytes, and, if v is not nil, verifies
// the bytes with it, reading src's detached signature first if it has one
// (Detached). It returns the bytes and what vouched for them, the zero
// Verified when v is nil. Any failure (reading, the signature's source,
// the verification) is an error naming the module; the bytes are returned
// only if they passed.
func Fetch(ctx context.Context, src Source, limit int64, v Verifier) ([]byte, Verified, error) {
	wasm, err := src.Open(ctx, limit)
	if err != nil {
		return nil, Verified{}, err
	}
	if v == nil {
		return wasm, Verified{}, nil
	}
	var sig []byte
	if d, ok := src.(detached); ok {
		if sig, err = d.sig.Open(ctx, MaxSignatureSize); err != nil {
			return nil, Verified{}, errs.Wrap(err, "reading the detached signature of %s", src.Name())
		}
		if sig == nil {
			sig = []byte{} // empty, but there: a detached signature was promised
		}
	}
	ver, err := v.Verify(wasm, sig)
	if err != nil {
		return nil, Verified{}, errs.Wrap(err, "verifying module %s", src.Name())
	}
	return wasm, ver, nil
}
