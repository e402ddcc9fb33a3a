//go:build linux && (amd64 || arm64) && cgo

package wasm

import (
	"encoding/binary"
	"errors"
	"fmt"
	"strconv"
)

// imageGlobalPrefix names the exports imageSource adds, one per mutable
// global the module defines: wasmtime reads and writes only exported
// globals.
const imageGlobalPrefix = "ward.image.global."

// maxImageData bounds the initial memory contents imageSource builds from
// the data segments, so that a module cannot make the host allocate by
// declaring a segment at a huge offset.
const maxImageData = 64 << 20

// imageGlobal is one mutable global the module defines.
type imageGlobal struct {
	index  uint32  // in the global index space, imports first
	kind   ValKind // i32, i64, f32 or f64
	export string  // its name among the derived module's exports
}

// imageSrc is what a pre-initialised image is built from (imageSource).
type imageSrc struct {
	// derived is the module with every mutable global it defines
	// exported and no data segments: processes started from it get their
	// memory from the image, not from the segments.
	derived []byte
	globals []imageGlobal
	// data is the memory's contents after instantiation (the active data
	// segments written into zeroes), up to the last byte a segment writes:
	// what the initialisation run starts from.
	data []byte
	// memMin is the memory's declared minimum, in bytes.
	memMin uint64
}

var errNoImage = errors.New("ward: module cannot be pre-initialised")

// imageSource derives imageSrc from a module's binary. It refuses, with an
// error wrapping errNoImage, what an image cannot reproduce: an imported
// or shared or 64-bit memory, or more than one; a start function (it
// would run again); passive data segments or ones placed by anything but
// a constant; a mutable global of a type other than a number.
func imageSource(b []byte) (*imageSrc, error) {
	if len(b) < 8 || string(b[:4]) != "\x00asm" {
		return nil, errMalformed
	}
	out := &imageSrc{derived: append([]byte(nil), b[:8]...)}
	var importedGlobals uint32
	var definedGlobals []imageGlobal
	sawExports, memories := false, 0
	refuse := func(why string) (*imageSrc, error) { return nil, fmt.Errorf("%w: %s", errNoImage, why) }
	r := reader{b: b, i: 8}
	for r.i < len(r.b) {
		start := r.i
		id := r.byte()
		size := r.uleb()
		if r.err != nil || size > uint64(len(r.b)-r.i) {
			return nil, errMalformed
		}
		body := r.b[r.i : r.i+int(size)]
		r.i += int(size)
		sec := reader{b: body}
		switch id {
		case 2: // imports
			for count := sec.uleb(); count > 0 && sec.err == nil; count-- {
				sec.name()
				sec.name()
				switch kind := sec.byte(); kind {
				case 0:
					sec.uleb()
				case 1:
					sec.byte()
					sec.limits()
				case 2:
					return refuse("it imports its memory")
				case 3:
					sec.byte()
					sec.byte()
					importedGlobals++
				case 4:
					sec.byte()
					sec.uleb()
				default:
					return nil, errMalformed
				}
			}
		case 5: // memories
			for count := sec.uleb(); count > 0 && sec.err == nil; count-- {
				if flags := sec.peek(); flags > 1 {
					return refuse("a shared or 64-bit memory")
				}
				out.memMin = sec.limits() * 65536
				memories++
			}
		case 6: // globals
			for count := sec.uleb(); count > 0 && sec.err == nil; count-- {
				t, mut := sec.byte(), sec.byte()
				sec.constExpr()
				idx := importedGlobals + uint32(len(definedGlobals))
				if mut == 1 {
					k, ok := numKind(t)
					if !ok {
						return refuse("a mutable global that is not a number")
					}
					definedGlobals = append(definedGlobals, imageGlobal{index: idx, kind: k, export: imageGlobalPrefix + strconv.Itoa(int(idx))})
				} else {
					definedGlobals = append(definedGlobals, imageGlobal{index: idx, kind: KindRef})
				}
			}
		case 7: // exports: the module's own, then the mutable globals
			sawExports = true
			count := sec.uleb()
			afterCount := sec.i
			for n := count; n > 0 && sec.err == nil; n-- {
				if sec.nameHasPrefix(imageGlobalPrefix) {
					return refuse("it exports a name ward uses for its globals")
				}
				sec.byte()
				sec.uleb()
			}
			if sec.err != nil {
				return nil, sec.err
			}
			var nb []byte
			var added uint64
			for _, g := range definedGlobals {
				if g.kind == KindRef {
					continue
				}
				nb = binary.AppendUvarint(nb, uint64(len(g.export)))
				nb = append(nb, g.export...)
				nb = append(nb, 3) // a global
				nb = binary.AppendUvarint(nb, uint64(g.index))
				added++
			}
			nb = append(append(binary.AppendUvarint(nil, count+added), body[afterCount:]...), nb...)
			out.derived = append(out.derived, 7)
			out.derived = binary.AppendUvarint(out.derived, uint64(len(nb)))
			out.derived = append(out.derived, nb...)
			continue
		case 8:
			return refuse("it has a start function")
		case 11: // data: applied to the initial contents, left out of the module
			if err := out.readData(&sec); err != nil {
				return nil, err
			}
			continue
		case 12: // data count: there is no data left to count
			sec.uleb()
			continue
		}
		if sec.err != nil {
			return nil, sec.err
		}
		out.derived = append(out.derived, r.b[start:r.i]...)
	}
	if r.err != nil {
		return nil, r.err
	}
	if memories != 1 {
		return refuse("it does not have exactly one memory of its own")
	}
	if !sawExports {
		return refuse("it exports nothing")
	}
	if uint64(len(out.data)) > out.memMin {
		return nil, errMalformed // wasmtime would refuse to instantiate it
	}
	for _, g := range definedGlobals {
		if g.kind != KindRef {
			out.globals = append(out.globals, g)
		}
	}
	return out, nil
}

// readData writes the data section's segments into s.data.
func (s *imageSrc) readData(sec *reader) error {
	for count := sec.uleb(); count > 0 && sec.err == nil; count-- {
		switch flags := sec.uleb(); flags {
		case 0:
		case 2:
			if sec.uleb() != 0 {
				return errMalformed // one memory only
			}
		default:
			return fmt.Errorf("%w: a passive data segment", errNoImage)
		}
		if sec.byte() != 0x41 { // i32.const
			return fmt.Errorf("%w: a data segment placed by an expression", errNoImage)
		}
		off := uint64(uint32(sec.sleb()))
		if sec.byte() != 0x0b {
			return fmt.Errorf("%w: a data segment placed by an expression", errNoImage)
		}
		n := sec.uleb()
		if sec.err != nil || n > uint64(len(sec.b)-sec.i) {
			return errMalformed
		}
		end := off + n
		if end > maxImageData {
			return fmt.Errorf("%w: data beyond %d bytes", errNoImage, maxImageData)
		}
		if end > uint64(len(s.data)) {
			s.data = append(s.data, make([]byte, int(end)-len(s.data))...)
		}
		copy(s.data[off:end], sec.b[sec.i:sec.i+int(n)])
		sec.i += int(n)
	}
	return sec.err
}

func numKind(t byte) (ValKind, bool) {
	switch t {
	case 0x7f:
		return KindI32, true
	case 0x7e:
		return KindI64, true
	case 0x7d:
		return KindF32, true
	case 0x7c:
		return KindF64, true
	}
	return KindRef, false
}

// sleb reads a signed LEB128 of up to 64 bits.
func (r *reader) sleb() int64 {
	var v int64
	for shift := 0; shift < 70; shift += 7 {
		c := r.byte()
		v |= int64(c&0x7f) << shift
		if c&0x80 == 0 {
			if shift+7 < 64 && c&0x40 != 0 {
				v |= -1 << (shift + 7)
			}
			return v
		}
	}
	r.err = errMalformed
	return 0
}

// constExpr skips a constant expression, to its end opcode.
func (r *reader) constExpr() {
	for r.err == nil {
		switch op := r.byte(); op {
		case 0x0b:
			return
		case 0x41, 0x42:
			r.sleb()
		case 0x43:
			r.skip(4)
		case 0x44:
			r.skip(8)
		case 0x23, 0xd2: // global.get, ref.func
			r.uleb()
		case 0xd0: // ref.null
			r.byte()
		case 0x6a, 0x6b, 0x6c, 0x7c, 0x7d, 0x7e: // extended constants
		default:
			r.err = errMalformed
		}
	}
}

func (r *reader) skip(n int) {
	if n > len(r.b)-r.i {
		r.err = errMalformed
		return
	}
	r.i += n
}

// nameHasPrefix reads a name and reports whether it starts with p.
func (r *reader) nameHasPrefix(p string) bool {
	n := r.uleb()
	if r.err != nil || n > uint64(len(r.b)-r.i) {
		r.err = errMalformed
		return false
	}
	name := r.b[r.i : r.i+int(n)]
	r.i += int(n)
	return len(name) >= len(p) && string(name[:len(p)]) == p
}
