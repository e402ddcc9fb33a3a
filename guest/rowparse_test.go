package guest

import (
	"encoding/binary"
	"testing"
)

// FuzzParseRow checks Rows.parse, which decodes the bytes step_row
// wrote, against any bytes: it never panics, every column it accepts
// lies inside the row, and the columns cover the row exactly.
func FuzzParseRow(f *testing.F) {
	f.Add([]byte("\x01\x07\x00\x00\x00\x00\x00\x00\x00\x02\x00\x00\x00\x00\x00\x00\x04\x40\x03\x02\x00\x00\x00hi\x04\x02\x00\x00\x00\x01\x02\x05"))
	f.Add([]byte("\x03\xff\xff\xff\xff"))
	f.Add([]byte("\x01\x00"))
	f.Add([]byte("\x09"))
	f.Fuzz(func(t *testing.T, b []byte) {
		r := &Rows{buf: b}
		if err := r.parse(b); err != nil {
			return
		}
		end := uint32(0)
		for _, c := range r.cols {
			if c.off < end || uint64(c.off)+uint64(c.n) > uint64(len(b)) {
				t.Fatalf("column %+v outside the row of %d bytes", c, len(b))
			}
			switch c.typ {
			case 1, 2:
				_ = r.int(c) + int64(r.float(c))
			case 3, 4:
				if n := binary.LittleEndian.Uint32(b[c.off-4:]); n != c.n || len(r.bytes(c)) != int(n) {
					t.Fatalf("column %+v, length %d", c, n)
				}
			}
			end = c.off + c.n
		}
		if end != uint32(len(b)) {
			t.Fatalf("columns end at %d, the row at %d", end, len(b))
		}
	})
}
