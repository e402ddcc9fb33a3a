package guest

import (
	"errors"
	"math"
	"unsafe"

	"github.com/wardrt/ward/internal/abi"
)

// SQLite databases (ward_sqlite, when the embedder registers
// hostapi/sqlite): a small database/sql-like API. A database is opened by a
// path under a directory the environment preopens, "<dir>/<file>"; what
// the process opened is closed when it ends. Values bound and scanned are
// int64 (and int, bool), float64, string, []byte and nil.

// DB is an open SQLite database. It is the process's own: its handle means
// nothing to another process.
type DB struct {
	h int32
}

// OpenDB opens (creating it if missing) the database at path, a
// preopened directory's name and a relative path: "data/app.db".
// ErrPermission when the environment preopens no such directory or the
// path has a symbolic link, ErrInvalid for a malformed path ("..", an
// absolute path, a URI), ErrLimit when the process has as many databases
// open as its environment allows.
func OpenDB(path string) (*DB, error) {
	var h int32
	st := wardSQLiteOpen(addrStr(path), uint32(len(path)), addr(unsafe.Pointer(&h)))
	if st != abi.OK {
		return nil, fail("sqlite open "+quote(path), st)
	}
	return &DB{h: h}, nil
}

// Close closes the database, freeing its statements and rolling back a
// transaction left open.
func (db *DB) Close() error {
	if st := wardSQLiteClose(db.h); st != abi.OK {
		return fail("sqlite close", st)
	}
	return nil
}

// err returns the error of a failed call on db, with SQLite's message.
func (db *DB) err(op string, st int32) error {
	var buf [256]byte
	n := wardSQLiteErrmsg(db.h, addr(unsafe.Pointer(&buf[0])), uint32(len(buf)))
	if n > 0 {
		op += ": " + string(buf[:min(int(n), len(buf))])
	}
	return fail(op, st)
}

// Exec runs query. Without args it may hold several statements; with
// args it is one statement whose ? parameters take args in order.
// ErrPermission for SQL that could reach another file (ATTACH, VACUUM,
// load_extension, most PRAGMAs), ErrInvalid when SQLite fails it; the
// error carries SQLite's message.
func (db *DB) Exec(query string, args ...any) error {
	if len(args) == 0 {
		if st := wardSQLiteExec(db.h, addrStr(query), uint32(len(query))); st != abi.OK {
			return db.err("sqlite exec", st)
		}
		return nil
	}
	s, err := db.Prepare(query)
	if err != nil {
		return err
	}
	defer s.Close()
	return s.Exec(args...)
}

// Query runs one statement with args and returns its rows, which must be
// closed.
func (db *DB) Query(query string, args ...any) (*Rows, error) {
	s, err := db.Prepare(query)
	if err != nil {
		return nil, err
	}
	r, err := s.Query(args...)
	if err != nil {
		s.Close()
		return nil, err
	}
	r.own = true
	return r, nil
}

// Stmt is a prepared statement, to run many times with different
// arguments.
type Stmt struct {
	db *DB
	h  int32
}

// Prepare prepares one statement. ErrLimit when the process holds as many
// statements as its environment allows.
func (db *DB) Prepare(query string) (*Stmt, error) {
	var h int32
	st := wardSQLitePrepare(db.h, addrStr(query), uint32(len(query)), addr(unsafe.Pointer(&h)))
	if st != abi.OK {
		return nil, db.err("sqlite prepare", st)
	}
	return &Stmt{db: db, h: h}, nil
}

// Close frees the statement.
func (s *Stmt) Close() error {
	if st := wardSQLiteFinalize(s.h); st != abi.OK {
		return fail("sqlite finalize", st)
	}
	return nil
}

// errUnsupported is returned for an argument or destination of a type
// the API does not take.
var errUnsupported = errors.New("ward: sqlite: unsupported type")

func (s *Stmt) bind(args []any) error {
	// A bind resets the statement on the host; only a run without
	// arguments needs the call of its own (one host call a row less for
	// the usual prepared INSERT).
	if len(args) == 0 {
		if st := wardSQLiteReset(s.h); st != abi.OK {
			return fail("sqlite reset", st)
		}
	}
	for i, a := range args {
		n := int32(i + 1)
		var st int32
		switch v := a.(type) {
		case nil:
			st = wardSQLiteBindNull(s.h, n)
		case int64:
			st = wardSQLiteBindInt(s.h, n, v)
		case int:
			st = wardSQLiteBindInt(s.h, n, int64(v))
		case int32:
			st = wardSQLiteBindInt(s.h, n, int64(v))
		case bool:
			var b int64
			if v {
				b = 1
			}
			st = wardSQLiteBindInt(s.h, n, b)
		case float64:
			st = wardSQLiteBindFloat(s.h, n, int64(math.Float64bits(v)))
		case string:
			st = wardSQLiteBindText(s.h, n, addrStr(v), uint32(len(v)))
		case []byte:
			st = wardSQLiteBindBlob(s.h, n, addrBytes(v), uint32(len(v)))
		default:
			return errUnsupported
		}
		if st != abi.OK {
			return s.db.err("sqlite bind", st)
		}
	}
	return nil
}

// step runs the statement to its next row; false when it is done.
func (s *Stmt) step() (bool, error) {
	var row int32
	if st := wardSQLiteStep(s.h, addr(unsafe.Pointer(&row))); st != abi.OK {
		return false, s.db.err("sqlite step", st)
	}
	return row == 1, nil
}

// Exec runs the statement with args to its end, discarding rows.
func (s *Stmt) Exec(args ...any) error {
	if err := s.bind(args); err != nil {
		return err
	}
	for {
		more, err := s.step()
		if err != nil || !more {
			return err
		}
	}
}

// Query runs the statement with args and returns its rows. The
// statement's previous rows, if any, are done with.
func (s *Stmt) Query(args ...any) (*Rows, error) {
	if err := s.bind(args); err != nil {
		return nil, err
	}
	return &Rows{s: s}, nil
}

// Rows are a statement's results, read with Next and Scan. Next fetches
// the whole row in one host call (step_row), and Scan reads it from the
// guest's own copy, with no host call.
type Rows struct {
	s    *Stmt
	err  error
	own  bool   // Close finalizes the statement (rows of DB.Query)
	buf  []byte // the current row's encoding
	cols []col  // the current row's columns, into buf; nil without a row
}

// col is one column of the current row: its type (column_type's numbers)
// and, for an integer or float, its 8 bytes; for text or a blob, its
// bytes; in Rows.buf.
type col struct {
	typ    byte
	off, n uint32
}

// Next moves to the next row; false at the end or on an error (see Err).
func (r *Rows) Next() bool {
	r.cols = r.cols[:0]
	if r.err != nil {
		return false
	}
	if r.buf == nil {
		r.buf = make([]byte, 256)
	}
	var n int32
	if st := wardSQLiteStepRow(r.s.h, addrBytes(r.buf), uint32(len(r.buf)), addr(unsafe.Pointer(&n))); st != abi.OK {
		r.err = r.s.db.err("sqlite step", st)
		return false
	}
	if n < 0 {
		return false
	}
	if int(n) > len(r.buf) {
		// The row stays current on the host: read it again into a buffer
		// that holds it.
		r.buf = make([]byte, n)
		if st := wardSQLiteRow(r.s.h, addrBytes(r.buf), uint32(len(r.buf)), addr(unsafe.Pointer(&n))); st != abi.OK {
			r.err = fail("sqlite row", st)
			return false
		}
	}
	if err := r.parse(r.buf[:n]); err != nil {
		r.err = err
		return false
	}
	return true
}

// parse splits a row's encoding into r.cols.
func (r *Rows) parse(b []byte) error {
	for off := uint32(0); off < uint32(len(b)); {
		c := col{typ: b[off], off: off + 1}
		switch c.typ {
		case 1, 2:
			c.n = 8
		case 3, 4:
			if c.off+4 > uint32(len(b)) {
				return fail("sqlite row: malformed", abi.ErrInvalid)
			}
			c.n = uint32(b[c.off]) | uint32(b[c.off+1])<<8 | uint32(b[c.off+2])<<16 | uint32(b[c.off+3])<<24
			c.off += 4
		case 5:
		default:
			return fail("sqlite row: malformed", abi.ErrInvalid)
		}
		if uint64(c.off)+uint64(c.n) > uint64(len(b)) {
			return fail("sqlite row: malformed", abi.ErrInvalid)
		}
		r.cols = append(r.cols, c)
		off = c.off + c.n
	}
	return nil
}

// Err returns the error that ended Next, if any.
func (r *Rows) Err() error { return r.err }

// Close is done with the rows.
func (r *Rows) Close() error {
	r.cols = r.cols[:0]
	if r.own {
		return r.s.Close()
	}
	if st := wardSQLiteReset(r.s.h); st != abi.OK {
		return fail("sqlite reset", st)
	}
	return nil
}

// u64 returns the 8 bytes of an integer or float column.
func (r *Rows) u64(c col) uint64 {
	b := r.buf[c.off : c.off+8]
	return uint64(b[0]) | uint64(b[1])<<8 | uint64(b[2])<<16 | uint64(b[3])<<24 |
		uint64(b[4])<<32 | uint64(b[5])<<40 | uint64(b[6])<<48 | uint64(b[7])<<56
}

// int returns a column as column_int would: a float truncated, 0 for
// text, blobs and NULL.
func (r *Rows) int(c col) int64 {
	switch c.typ {
	case 1:
		return int64(r.u64(c))
	case 2:
		return int64(math.Float64frombits(r.u64(c)))
	}
	return 0
}

// float returns a column as column_float would.
func (r *Rows) float(c col) float64 {
	switch c.typ {
	case 1:
		return float64(int64(r.u64(c)))
	case 2:
		return math.Float64frombits(r.u64(c))
	}
	return 0
}

// bytes returns a text or blob column's bytes in r's buffer (none for
// other types), valid until the next row.
func (r *Rows) bytes(c col) []byte {
	if c.typ != 3 && c.typ != 4 {
		return nil
	}
	return r.buf[c.off : c.off+c.n]
}

// Scan copies the current row's columns into dest, one pointer per
// column: *int64, *int, *bool, *float64, *string, *[]byte or *any. NULL
// scans as the zero value (nil for *any and *[]byte).
func (r *Rows) Scan(dest ...any) error {
	if len(dest) > len(r.cols) {
		return fail("sqlite scan: no such column", abi.ErrNotFound)
	}
	for i, d := range dest {
		c := r.cols[i]
		switch d := d.(type) {
		case *int64:
			*d = r.int(c)
		case *int:
			*d = int(r.int(c))
		case *bool:
			*d = r.int(c) != 0
		case *float64:
			*d = r.float(c)
		case *string:
			*d = string(r.bytes(c))
		case *[]byte:
			if c.typ == 5 {
				*d = nil
				continue
			}
			*d = append([]byte{}, r.bytes(c)...)
		case *any:
			switch c.typ {
			case 1:
				*d = r.int(c)
			case 2:
				*d = r.float(c)
			case 3:
				*d = string(r.bytes(c))
			case 4:
				*d = append([]byte{}, r.bytes(c)...)
			default:
				*d = nil
			}
		default:
			return errUnsupported
		}
	}
	return nil
}
