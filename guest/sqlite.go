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
	return &Rows{s: s, ncols: -1}, nil
}

// Rows are a statement's results, read with Next and Scan.
type Rows struct {
	s     *Stmt
	err   error
	own   bool // Close finalizes the statement (rows of DB.Query)
	buf   []byte
	row   bool  // Next found a row
	ncols int32 // the rows' columns, asked once at the first row; -1 before
}

// Next moves to the next row; false at the end or on an error (see Err).
func (r *Rows) Next() bool {
	if r.err != nil {
		return false
	}
	more, err := r.s.step()
	r.err, r.row = err, more
	if more && r.ncols < 0 {
		r.ncols = wardSQLiteColumnCount(r.s.h)
	}
	return more
}

// Err returns the error that ended Next, if any.
func (r *Rows) Err() error { return r.err }

// Close is done with the rows.
func (r *Rows) Close() error {
	r.row = false
	if r.own {
		return r.s.Close()
	}
	if st := wardSQLiteReset(r.s.h); st != abi.OK {
		return fail("sqlite reset", st)
	}
	return nil
}

// bytes returns column i as text or blob, copied out of the host.
func (r *Rows) bytes(i int32) ([]byte, error) {
	b, err := r.view(i)
	if err != nil {
		return nil, err
	}
	return append([]byte(nil), b...), nil
}

// view returns column i as text or blob in r's buffer, valid until the
// next call: a *string is made from it with one copy, not two.
func (r *Rows) view(i int32) ([]byte, error) {
	if r.buf == nil {
		r.buf = make([]byte, 0, 256)
	}
	for {
		var n int32
		st := wardSQLiteColumnBytes(r.s.h, i, addrBytes(r.buf[:cap(r.buf)]), uint32(cap(r.buf)), addr(unsafe.Pointer(&n)))
		switch st {
		case abi.OK:
			return r.buf[:n], nil
		case abi.ErrLimit:
			r.buf = make([]byte, 0, n)
		default:
			return nil, fail("sqlite column", st)
		}
	}
}

// Scan copies the current row's columns into dest, one pointer per
// column: *int64, *int, *bool, *float64, *string, *[]byte or *any. NULL
// scans as the zero value (nil for *any and *[]byte).
func (r *Rows) Scan(dest ...any) error {
	if !r.row || len(dest) > int(r.ncols) {
		return fail("sqlite scan: no such column", abi.ErrNotFound)
	}
	for i, d := range dest {
		c := int32(i)
		// The column's type is asked only where the destination needs
		// it: the host's column_int, column_float and column_bytes read
		// NULL and other types as the zero value already.
		switch d := d.(type) {
		case *int64:
			*d = wardSQLiteColumnInt(r.s.h, c)
		case *int:
			*d = int(wardSQLiteColumnInt(r.s.h, c))
		case *bool:
			*d = wardSQLiteColumnInt(r.s.h, c) != 0
		case *float64:
			*d = math.Float64frombits(uint64(wardSQLiteColumnFloat(r.s.h, c)))
		case *string:
			b, err := r.view(c)
			if err != nil {
				return err
			}
			*d = string(b)
		case *[]byte:
			if wardSQLiteColumnType(r.s.h, c) == 5 {
				*d = nil
				continue
			}
			b, err := r.bytes(c)
			if err != nil {
				return err
			}
			*d = b
		case *any:
			switch wardSQLiteColumnType(r.s.h, c) {
			case 1:
				*d = wardSQLiteColumnInt(r.s.h, c)
			case 2:
				*d = math.Float64frombits(uint64(wardSQLiteColumnFloat(r.s.h, c)))
			case 3:
				b, err := r.bytes(c)
				if err != nil {
					return err
				}
				*d = string(b)
			case 4:
				b, err := r.bytes(c)
				if err != nil {
					return err
				}
				*d = b
			default:
				*d = nil
			}
		default:
			return errUnsupported
		}
	}
	return nil
}
