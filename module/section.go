package module

import (
	"bytes"
	"fmt"
)

// SignatureSection is the name of the custom section that carries an
// embedded signature.
const SignatureSection = "ward.signature"

// wasmHeader is the magic number and version of a core Wasm binary module.
var wasmHeader = []byte{0x00, 'a', 's', 'm', 0x01, 0x00, 0x00, 0x00}

// Strip returns the signed content of a Wasm binary module: its bytes with
// every "ward.signature" custom section removed. A module without one is
// returned as is, not copied. It fails with an error matching ErrMalformed
// if the section framing is not well formed (the header, then sections of
// an id byte, a LEB128 size and that many bytes, to the end); it does not
// validate what the sections hold, which is the compiler's job.
func Strip(wasm []byte) ([]byte, error) {
	parts, _, err := split(wasm)
	if err != nil || len(parts) == 1 {
		return wasm, err
	}
	content := make([]byte, 0, len(wasm))
	for _, p := range parts {
		content = append(content, p...)
	}
	return content, nil
}

// split parses the section framing of wasm and returns its signed content,
// as the parts of wasm that make it (one, wasm itself, if there is no
// signature), and the payload of its signature section, nil if it has
// none. The content is returned in parts so that it can be hashed without
// a copy of a module that may be large. More than
// one signature section is malformed: Sign replaces rather than adds, so a
// second one was put there by hand, and which of the two counts would be a
// guess.
func split(wasm []byte) (parts [][]byte, sig []byte, err error) {
	if len(wasm) < len(wasmHeader) || !bytes.Equal(wasm[:4], wasmHeader[:4]) {
		return nil, nil, fmt.Errorf("%w: no Wasm magic number (\\0asm) at the start", ErrMalformed)
	}
	if !bytes.Equal(wasm[4:8], wasmHeader[4:]) {
		return nil, nil, fmt.Errorf("%w: Wasm binary version %x, want 01000000 (a core module)", ErrMalformed, wasm[4:8])
	}
	var keep [][2]int // byte ranges of wasm that make the content
	start := 0
	for off := len(wasmHeader); off < len(wasm); {
		secStart := off
		id := wasm[off]
		size, n, err := leb128(wasm[off+1:])
		if err != nil {
			return nil, nil, fmt.Errorf("%w: section at offset %d: %v", ErrMalformed, secStart, err)
		}
		body := off + 1 + n
		if uint64(size) > uint64(len(wasm)-body) {
			return nil, nil, fmt.Errorf("%w: section at offset %d declares %d bytes, %d remain (truncated?)", ErrMalformed, secStart, size, len(wasm)-body)
		}
		off = body + int(size)
		if id != 0 {
			continue
		}
		payload := wasm[body:off]
		nameLen, n, err := leb128(payload)
		if err != nil || uint64(nameLen) > uint64(len(payload)-n) {
			return nil, nil, fmt.Errorf("%w: custom section at offset %d has a bad name", ErrMalformed, secStart)
		}
		if string(payload[n:n+int(nameLen)]) != SignatureSection {
			continue
		}
		if sig != nil {
			return nil, nil, fmt.Errorf("%w: more than one %s section", ErrMalformed, SignatureSection)
		}
		sig = payload[n+int(nameLen):]
		keep = append(keep, [2]int{start, secStart})
		start = off
	}
	if sig == nil {
		return [][]byte{wasm}, nil, nil
	}
	keep = append(keep, [2]int{start, len(wasm)})
	for _, r := range keep {
		parts = append(parts, wasm[r[0]:r[1]])
	}
	return parts, sig, nil
}

// leb128 decodes an unsigned 32-bit LEB128 number as Wasm encodes section
// sizes: at most 5 bytes, and no bits beyond the 32nd.
func leb128(b []byte) (v uint32, n int, err error) {
	for i := 0; i < 5; i++ {
		if i >= len(b) {
			return 0, 0, fmt.Errorf("truncated LEB128 number")
		}
		c := b[i]
		if i == 4 && c&0xf0 != 0 {
			return 0, 0, fmt.Errorf("LEB128 number overlong or over 32 bits")
		}
		v |= uint32(c&0x7f) << (7 * i)
		if c&0x80 == 0 {
			return v, i + 1, nil
		}
	}
	return 0, 0, fmt.Errorf("LEB128 number overlong or over 32 bits")
}

// appendLEB128 appends v in the shortest LEB128 encoding.
func appendLEB128(b []byte, v uint32) []byte {
	for {
		c := byte(v & 0x7f)
		v >>= 7
		if v == 0 {
			return append(b, c)
		}
		b = append(b, c|0x80)
	}
}

// appendSection appends a custom section holding payload under name.
func appendSection(b []byte, name string, payload []byte) []byte {
	inner := appendLEB128(nil, uint32(len(name)))
	inner = append(inner, name...)
	b = append(b, 0)
	b = appendLEB128(b, uint32(len(inner)+len(payload)))
	b = append(b, inner...)
	return append(b, payload...)
}
