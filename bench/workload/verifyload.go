package workload

import (
	"context"
	"crypto/ed25519"
	"encoding/binary"
	"io"
	"log/slog"
	"os"
	"time"

	"github.com/wardrt/ward/module"
	"github.com/wardrt/ward/runtime"
)

// VerifyLoad is what a restarted program pays to load a signed plugin it
// compiled before: a fresh runtime, the ed25519 signature in the module's
// custom section checked, the compiled code read back from a warm cache
// directory and authenticated.
type VerifyLoad struct {
	dir    string
	signed []byte
	trust  runtime.LoadOption
}

// VerifyModuleSize is the size of the module VerifyLoad loads.
const VerifyModuleSize = 4 << 20

// NewVerifyLoad builds and signs a 4 MiB module and compiles it once into
// a new cache directory (seconds).
func NewVerifyLoad() (*VerifyLoad, error) {
	seed := make([]byte, ed25519.SeedSize)
	priv := ed25519.NewKeyFromSeed(seed)
	signed, err := module.Sign(bigModule(VerifyModuleSize), priv)
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "wardbench-cache-")
	if err != nil {
		return nil, err
	}
	v := &VerifyLoad{dir: dir, signed: signed, trust: runtime.Verify(module.Ed25519(priv.Public().(ed25519.PublicKey)))}
	if _, err := v.Run(1); err != nil { // warms the cache
		v.Close()
		return nil, err
	}
	return v, nil
}

// Run loads the module n times, each in a new runtime, and returns the
// time spent in Runtime.Load.
func (v *VerifyLoad) Run(n int) (time.Duration, error) {
	ctx := context.Background()
	var total time.Duration
	for range n {
		rt, err := runtime.New(runtime.WithCacheDir(v.dir), runtime.WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil))))
		if err != nil {
			return 0, err
		}
		start := time.Now()
		_, err = rt.Load(ctx, module.Bytes("big.wasm", v.signed), v.trust)
		total += time.Since(start)
		rt.Close(ctx)
		if err != nil {
			return 0, err
		}
	}
	return total, nil
}

// Close removes the cache directory.
func (v *VerifyLoad) Close() error { return os.RemoveAll(v.dir) }

// bigModule returns a module of about size bytes shaped like a Go guest:
// half code (many functions of straight-line arithmetic), half an active
// data segment.
func bigModule(size int) []byte {
	const perFunc = 1 << 10
	dataLen := size / 2
	nFuncs := (size - dataLen) / perFunc
	uleb := binary.AppendUvarint // Wasm's LEB128 for unsigned numbers
	section := func(out []byte, id byte, body []byte) []byte {
		out = append(out, id)
		out = uleb(out, uint64(len(body)))
		return append(out, body...)
	}
	out := []byte("\x00asm\x01\x00\x00\x00")
	out = section(out, 1, []byte{1, 0x60, 1, 0x7f, 1, 0x7f}) // (i32) -> i32
	funcs := uleb(nil, uint64(nFuncs))
	for range nFuncs {
		funcs = append(funcs, 0)
	}
	out = section(out, 3, funcs)
	pages := uint64(dataLen>>16 + 1)
	out = section(out, 5, uleb([]byte{1, 0}, pages))
	out = section(out, 7, []byte{2, 1, 'f', 0, 0, 6, 'm', 'e', 'm', 'o', 'r', 'y', 2, 0})
	code := uleb(nil, uint64(nFuncs))
	for f := range nFuncs {
		var body []byte
		body = append(body, 0) // no locals
		for i := 0; len(body) < perFunc-16; i++ {
			// local.get 0; i32.const k; i32.add (or xor); local.set 0
			op := byte(0x6a)
			if i%3 == 0 {
				op = 0x73
			}
			body = append(body, 0x20, 0, 0x41)
			body = appendSLEB(body, int32((f*7919+i*31)%100000))
			body = append(body, op, 0x21, 0)
		}
		body = append(body, 0x20, 0, 0x0b) // local.get 0; end
		code = uleb(code, uint64(len(body)))
		code = append(code, body...)
	}
	out = section(out, 10, code)
	data := []byte{1, 0, 0x41, 0, 0x0b} // one active segment at offset 0
	data = uleb(data, uint64(dataLen))
	x := uint32(2463534242)
	for range dataLen {
		x ^= x << 13
		x ^= x >> 17
		x ^= x << 5
		data = append(data, byte(x))
	}
	return section(out, 11, data)
}

// appendSLEB appends v as a signed LEB128, as i32.const takes it.
func appendSLEB(b []byte, v int32) []byte {
	for {
		c := byte(v & 0x7f)
		v >>= 7
		if (v == 0 && c&0x40 == 0) || (v == -1 && c&0x40 != 0) {
			return append(b, c)
		}
		b = append(b, c|0x80)
	}
}
