package cluster

import (
	"encoding/binary"
	"math"
)

// The frame's CBOR, coded by hand: the general encoder works by
// reflection and cost more than the rest of a frame's path put together.
// The layout is the definite-length array the struct tags describe (a
// cbor.Unmarshal of it gives the same frame), and the decoder takes what
// a general encoder makes of a frame too (null for an empty Body or Env).

const frameFields = 17

// appendHead appends a CBOR head: major type and argument.
func appendHead(b []byte, major byte, v uint64) []byte {
	m := major << 5
	switch {
	case v < 24:
		return append(b, m|byte(v))
	case v <= math.MaxUint8:
		return append(b, m|24, byte(v))
	case v <= math.MaxUint16:
		return binary.BigEndian.AppendUint16(append(b, m|25), uint16(v))
	case v <= math.MaxUint32:
		return binary.BigEndian.AppendUint32(append(b, m|26), uint32(v))
	}
	return binary.BigEndian.AppendUint64(append(b, m|27), v)
}

func appendInt(b []byte, v int64) []byte {
	if v >= 0 {
		return appendHead(b, 0, uint64(v))
	}
	return appendHead(b, 1, uint64(-1-v))
}

// appendFrame appends f's encoding to b.
func appendFrame(b []byte, f *frame) []byte {
	b = appendHead(b, 4, frameFields)
	for _, v := range [...]uint64{uint64(f.V), uint64(f.Kind), uint64(f.Node), uint64(f.Dst), f.Epoch, uint64(f.Gen), f.Seq, f.From, f.To, f.Ref} {
		b = appendHead(b, 0, v)
	}
	b = appendInt(b, f.Tag)
	b = append(appendHead(b, 2, uint64(len(f.Body))), f.Body...)
	b = appendHead(b, 0, uint64(f.Reason))
	b = append(appendHead(b, 3, uint64(len(f.Text))), f.Text...)
	b = append(appendHead(b, 3, uint64(len(f.Op))), f.Op...)
	b = appendHead(b, 4, uint64(len(f.Env)))
	for _, e := range f.Env {
		b = appendHead(b, 0, e)
	}
	return appendHead(b, 0, uint64(f.ErrIs))
}

// frameSize bounds the encoding of f, for one allocation.
func frameSize(f *frame) int {
	return 1 + 12*9 + len(f.Body) + len(f.Text) + len(f.Op) + 9*len(f.Env)
}

// reader decodes CBOR heads; any fault sticks in bad.
type reader struct {
	b   []byte
	bad bool
}

const cborNull = 0xf6

func (r *reader) head() (major byte, v uint64) {
	if len(r.b) == 0 {
		r.bad = true
		return 0, 0
	}
	c := r.b[0]
	major, info := c>>5, c&31
	var n int
	switch {
	case info < 24:
		r.b = r.b[1:]
		return major, uint64(info)
	case info == 24:
		n = 1
	case info == 25:
		n = 2
	case info == 26:
		n = 4
	case info == 27:
		n = 8
	default:
		r.bad = true
		return 0, 0
	}
	if len(r.b) < 1+n {
		r.bad = true
		return 0, 0
	}
	var buf [8]byte
	copy(buf[8-n:], r.b[1:1+n])
	r.b = r.b[1+n:]
	return major, binary.BigEndian.Uint64(buf[:])
}

func (r *reader) uint(max uint64) uint64 {
	m, v := r.head()
	if m != 0 || v > max {
		r.bad = true
		return 0
	}
	return v
}

func (r *reader) int() int64 {
	m, v := r.head()
	switch {
	case m == 0 && v <= math.MaxInt64:
		return int64(v)
	case m == 1 && v <= math.MaxInt64:
		return -1 - int64(v)
	}
	r.bad = true
	return 0
}

// null takes a CBOR null if one comes next.
func (r *reader) null() bool {
	if len(r.b) > 0 && r.b[0] == cborNull {
		r.b = r.b[1:]
		return true
	}
	return false
}

// str reads a byte (major 2) or text (major 3) string, aliasing the input.
func (r *reader) str(major byte) []byte {
	m, n := r.head()
	if m != major || n > uint64(len(r.b)) {
		r.bad = true
		return nil
	}
	s := r.b[:n:n]
	r.b = r.b[n:]
	return s
}

// decodeFrame decodes b, which must hold exactly one frame. Body aliases b.
func decodeFrame(b []byte) (*frame, bool) {
	f := new(frame)
	if !decodeFrameInto(f, b) {
		return nil, false
	}
	return f, true
}

// decodeFrameInto is decodeFrame into f, which it overwrites whole.
func decodeFrameInto(f *frame, b []byte) bool {
	r := &reader{b: b}
	if m, n := r.head(); m != 4 || n != frameFields {
		return false
	}
	*f = frame{
		V:     uint8(r.uint(math.MaxUint8)),
		Kind:  kind(r.uint(math.MaxUint8)),
		Node:  uint16(r.uint(math.MaxUint16)),
		Dst:   uint16(r.uint(math.MaxUint16)),
		Epoch: r.uint(math.MaxUint64),
		Gen:   uint32(r.uint(math.MaxUint32)),
		Seq:   r.uint(math.MaxUint64),
		From:  r.uint(math.MaxUint64),
		To:    r.uint(math.MaxUint64),
		Ref:   r.uint(math.MaxUint64),
		Tag:   r.int(),
	}
	if !r.null() {
		if body := r.str(2); len(body) > 0 {
			f.Body = body
		}
	}
	f.Reason = uint32(r.uint(math.MaxUint32))
	f.Text = string(r.str(3))
	f.Op = string(r.str(3))
	if !r.null() {
		m, n := r.head()
		// Each element takes a byte at least: a count past the input is a
		// lie, and must not size an allocation.
		if m != 4 || n > uint64(len(r.b)) {
			return false
		}
		if n > 0 {
			f.Env = make([]uint64, n)
			for i := range f.Env {
				f.Env[i] = r.uint(math.MaxUint64)
			}
		}
	}
	f.ErrIs = uint8(r.uint(math.MaxUint8))
	return !r.bad && len(r.b) == 0
}
