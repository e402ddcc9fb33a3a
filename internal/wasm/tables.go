//go:build linux && (amd64 || arm64) && cgo

package wasm

import (
	"bytes"
	"errors"

	"github.com/bytecodealliance/wasmtime-go/v25"
)

// tableHeadroom is how many elements past its largest declared table a
// module's tables may grow (table.grow): a little for modules that add
// functions at run time, without charging every process the most any
// module could use.
const tableHeadroom = 1024

// ReadTables sets Tables and TableElements from the module's own source
// (the Wasm binary or WAT it was compiled from): the number of tables it
// declares (at most MaxTables), and the elements each may hold, which is its largest initial
// size plus tableHeadroom, at most MaxTableElements. wasmtime's C API
// lists only a module's imported and exported tables, so ward reads the
// binary. What it cannot read gets the most a module may have.
func (m *Module) ReadTables(src []byte) {
	m.Tables, m.TableElements = MaxTables, MaxTableElements
	if !bytes.HasPrefix(src, []byte("\x00asm")) {
		bin, err := wasmtime.Wat2Wasm(string(src))
		if err != nil {
			return
		}
		src = bin
	}
	n, largest, isGo, err := declaredTables(src)
	if err != nil {
		return
	}
	m.IsGo = isGo
	// More than MaxTables fail to instantiate (the store limiter), so no
	// process is ever charged for more.
	m.Tables = uint32(min(n, MaxTables))
	if n == 0 {
		m.TableElements = 0
		return
	}
	m.TableElements = uint32(min(uint64(largest)+tableHeadroom, MaxTableElements))
}

var errMalformed = errors.New("malformed module")

// declaredTables reads the import and table sections of a Wasm binary: how
// many tables the module has, and the largest initial size among them. It
// also tells a module the Go toolchain built, by its go:buildid section.
func declaredTables(b []byte) (n int, largest uint64, isGo bool, err error) {
	r := reader{b: b, i: 8} // magic and version
	if len(b) < 8 {
		return 0, 0, false, errMalformed
	}
	for r.i < len(r.b) {
		id := r.byte()
		size := r.uleb()
		if r.err != nil || size > uint64(len(r.b)-r.i) {
			return 0, 0, false, errMalformed
		}
		sec := reader{b: r.b[r.i : r.i+int(size)]}
		r.i += int(size)
		switch id {
		case 0: // custom
			isGo = isGo || sec.nameIs("go:buildid")
		case 2: // imports
			for count := sec.uleb(); count > 0 && sec.err == nil; count-- {
				sec.name()
				sec.name()
				switch kind := sec.byte(); kind {
				case 0: // function: a type index
					sec.uleb()
				case 1: // table
					sec.byte() // reference type
					initial := sec.limits()
					n++
					largest = max(largest, initial)
				case 2: // memory
					sec.limits()
				case 3: // global: value type and mutability
					sec.byte()
					sec.byte()
				case 4: // tag: attribute and type index
					sec.byte()
					sec.uleb()
				default:
					return 0, 0, false, errMalformed
				}
			}
		case 4: // tables
			for count := sec.uleb(); count > 0 && sec.err == nil; count-- {
				if sec.peek() == 0x40 {
					return 0, 0, false, errMalformed // a table with an initialiser: not read here
				}
				sec.byte() // reference type
				initial := sec.limits()
				n++
				largest = max(largest, initial)
			}
		}
		if sec.err != nil {
			return 0, 0, false, sec.err
		}
	}
	return n, largest, isGo, r.err
}

// reader reads a Wasm binary's encodings; the first error sticks.
type reader struct {
	b   []byte
	i   int
	err error
}

func (r *reader) peek() byte {
	if r.i >= len(r.b) {
		return 0
	}
	return r.b[r.i]
}

func (r *reader) byte() byte {
	if r.i >= len(r.b) {
		r.err = errMalformed
		return 0
	}
	c := r.b[r.i]
	r.i++
	return c
}

func (r *reader) uleb() uint64 {
	var v uint64
	for shift := 0; shift < 64; shift += 7 {
		c := r.byte()
		v |= uint64(c&0x7f) << shift
		if c&0x80 == 0 {
			return v
		}
	}
	r.err = errMalformed
	return 0
}

func (r *reader) name() {
	n := r.uleb()
	if n > uint64(len(r.b)-r.i) {
		r.err = errMalformed
		return
	}
	r.i += int(n)
}

// nameIs reads a name and reports whether it is want.
func (r *reader) nameIs(want string) bool {
	n := r.uleb()
	if r.err != nil || n > uint64(len(r.b)-r.i) {
		r.err = errMalformed
		return false
	}
	name := r.b[r.i : r.i+int(n)]
	r.i += int(n)
	return string(name) == want
}

// limits reads a limits encoding and returns its minimum.
func (r *reader) limits() uint64 {
	flags := r.byte()
	initial := r.uleb()
	if flags&1 != 0 {
		r.uleb() // maximum
	}
	return initial
}
