// Package sqlite is ward's ward_sqlite host module: guests open SQLite
// databases under directories their environment preopens, and prepare,
// bind, step and read statements, through modernc.org/sqlite (SQLite
// translated to Go, so no second C toolchain).
//
// Register it with runtime.WithHostModule(sqlite.Module()) and give an
// environment directories with a Config in environment.Config.Host under
// Namespace. The root's default preopens nothing.
//
// What a guest cannot do, and how it is stopped:
//
//   - Open a file outside the preopened directories: guest paths are a
//     directory's Name and a relative path of plain elements (no "..", no
//     "." , no empty element, no URI or ':memory:', only letters, digits,
//     '.', '_', '-' and '/'), and no element below the directory, nor the
//     database's journal files, may be a symbolic link.
//   - Reach another file through SQL: an authorizer refuses ATTACH and
//     DETACH, load_extension, PRAGMAs outside a list of ones about the
//     database itself, temporary tables (they live in the system's
//     temporary directory) and virtual tables other than FTS and R-tree;
//     SQLITE_LIMIT_ATTACHED is 0; statements starting with VACUUM (VACUUM
//     INTO writes a file wherever it is told) are refused by a scan of the
//     SQL, since SQLite does not ask the authorizer about them.
//   - Hold unbounded host memory: open databases and statements per
//     process are bounded (Config.MaxConns, MaxStmts); per connection,
//     the page cache and a sort's in-memory part (CacheKiB each, PRAGMAs
//     the guest cannot change; sorts, DISTINCT, GROUP BY and recursive
//     CTEs spill to temporary files), each value and SQL text
//     (MaxValueBytes, so printf widths, zeroblob, replace and
//     group_concat stop there), a statement's program (500,000
//     instructions), trigger recursion (100 levels), and the bytes of a
//     row read (MaxRowBytes, weighed once the driver has read the row, so
//     a row costs up to MaxColumns × MaxValueBytes for a moment). In
//     all, a connection's SQLite memory stays under 2 × CacheKiB + 4 ×
//     MaxValueBytes for every query the tests try but one:
//     json_group_array and json_group_object, which grow without regard
//     to MaxValueBytes, are refused. What SQLite cannot bound per
//     connection (the parse trees of views a statement expands, some
//     100 MiB before SQLite stops; the page caches of many ephemeral
//     tables in one statement) is held by a heap limit for the whole Go
//     process, Options.MaxHeapBytes (DefaultMaxHeapBytes), past which
//     SQLite's allocations fail and the call gets ErrLimit.
//   - Hold the host's CPU: a call runs at most Config.MaxCallSteps of
//     SQLite's instructions (ErrLimit past them), and ends, whatever
//     its steps, when its process is killed or passes its MaxWallTime. A
//     step is not a fixed time: one writing to a temporary file costs
//     far more than one adding two numbers. Temporary files (in the
//     system's temporary directory) are bounded only by what a call's
//     steps can write.
//   - Use another process's databases: handles are per process.
//
// Everything a process opened is closed when it ends, however it ends:
// statements finalized, open transactions rolled back, files closed.
//
// One thing of the driver shows through: text in a column declared DATE,
// DATETIME or TIMESTAMP that parses as a time is read back as text in
// the form "2006-01-02 15:04:05.999999999-07:00", not as it was stored.
package sqlite

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"encoding/binary"
	"errors"
	"io"
	"math"
	"strings"
	"time"

	"github.com/wardrt/ward/hostapi"
	"github.com/wardrt/ward/internal/abi"
	msqlite "modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// Namespace is the module's namespace, the key of its Config in
// environment.Config.Host.
const Namespace = abi.NamespaceSQLite

// Column types column_type returns (SQLite's own numbers).
const (
	TypeInteger = 1
	TypeFloat   = 2
	TypeText    = 3
	TypeBlob    = 4
	TypeNull    = 5
)

// MaxParams bounds a statement's parameter index.
const MaxParams = 1000

// MaxColumns bounds the columns of a table or a result
// (SQLITE_LIMIT_COLUMN). The driver reads a whole row before the module
// can weigh it against MaxRowBytes, so a row costs the host up to
// MaxColumns × MaxValueBytes for a moment; this keeps that finite.
const MaxColumns = 256

// Module returns the ward_sqlite host module with the default Options:
// it sets SQLite's heap limit for the whole Go process to
// DefaultMaxHeapBytes. Its default configuration preopens no directory,
// so guests open nothing until the embedder gives an environment a
// Config.
func Module() hostapi.Module { return ModuleWith(Options{}) }

// ModuleWith returns the ward_sqlite host module, and sets SQLite's
// process-wide heap limit from o (the last call's o holds).
func ModuleWith(o Options) hostapi.Module {
	setHeapLimit(o)
	m, err := hostapi.Builtin(Namespace, map[string]hostapi.Handler{
		"open": hOpen, "close": hClose, "exec": hExec, "prepare": hPrepare,
		"bind_int": hBindInt, "bind_float": hBindFloat, "bind_text": hBindText,
		"bind_blob": hBindBlob, "bind_null": hBindNull, "step": hStep,
		"column_count": hColumnCount, "column_type": hColumnType,
		"column_int": hColumnInt, "column_float": hColumnFloat,
		"column_bytes": hColumnBytes, "reset": hReset, "finalize": hFinalize,
		"errmsg": hErrmsg, "step_row": hStepRow, "row": hRow,
	})
	if err != nil {
		panic(err) // the table and this file disagree: a build mistake, caught by the tests
	}
	m.Doc = "SQLite databases under the directories the environment preopens."
	m.DefaultConfig = Config{}
	m.NewState = newState
	return m
}

// state is one process's databases and statements.
type state struct {
	cfg   Config // the bounds, defaults filled in
	dbs   *hostapi.Handles[*conn]
	stmts *hostapi.Handles[*stmt]
}

// configOf returns the module's configuration a call sees, given as a
// Config or a *Config.
func configOf(c *hostapi.Call) Config {
	switch v := c.Config().(type) {
	case Config:
		return v
	case *Config:
		if v != nil {
			return *v
		}
	}
	return Config{}
}

func newState(ctx context.Context, c *hostapi.Call) (hostapi.State, error) {
	cfg := configOf(c).bounds()
	return &state{cfg: cfg, dbs: hostapi.NewHandles[*conn](cfg.MaxConns), stmts: hostapi.NewHandles[*stmt](cfg.MaxStmts)}, nil
}

// Close finalizes every statement and closes every database of the
// process; SQLite rolls back a transaction left open.
func (s *state) Close(context.Context) {
	s.stmts.Close(func(st *stmt) { st.finalize() })
	s.dbs.Close(func(c *conn) { c.close() })
}

// conn is an open database. database/sql is used only for the one
// physical connection (modernc.org/sqlite sets limits through a
// *sql.Conn); every call runs on that connection through Raw.
type conn struct {
	db     *sql.DB
	sc     *sql.Conn
	errmsg string
	denied bool // the authorizer refused something since the last call began

	handle uintptr // SQLite's, the key of w in watched; 0 until the watch is set
	w      watch
}

// dconn is what the driver's connection offers.
type dconn interface {
	driver.Conn
	driver.ExecerContext
	driver.ConnPrepareContext
}

func (c *conn) raw(f func(dc dconn) error) error {
	c.denied = false
	return c.sc.Raw(func(v any) error {
		dc, ok := v.(dconn)
		if !ok {
			return errors.New("ward: sqlite: unexpected driver connection")
		}
		return f(dc)
	})
}

// call runs f, a guest's call that may run SQLite's virtual machine,
// under the connection's watch: ctx ending or MaxCallSteps passed
// interrupts it. f gets a context that does not end, so that the driver
// leaves the progress handler, which it would take over for a context
// that does, to the watch (and the driver's own watch of a context does
// not reach the steps of a Rows.Next anyway).
func (c *conn) call(ctx context.Context, f func(ctx context.Context, dc dconn) error) error {
	end := c.w.begin(ctx)
	defer end()
	dctx := context.WithoutCancel(ctx)
	return c.raw(func(dc dconn) error { return f(dctx, dc) })
}

func (c *conn) close() {
	if c.handle != 0 {
		watched.Delete(c.handle)
	}
	c.sc.Close()
	c.db.Close()
}

// stmt is a prepared statement and, while it runs, its rows.
type stmt struct {
	c     *conn
	ds    driver.Stmt
	args  []driver.NamedValue
	rows  driver.Rows
	row   []driver.Value // the current row; nil when there is none
	ncols int
	done  bool
	enc   []byte // the last row encoded, kept for its capacity
}

func (st *stmt) reset() {
	if st.rows != nil {
		st.c.raw(func(dconn) error { return st.rows.Close() })
		st.rows = nil
	}
	st.row, st.done = nil, false
}

func (st *stmt) finalize() {
	st.reset()
	st.c.raw(func(dconn) error { return st.ds.Close() })
}

func st(c *hostapi.Call) *state { return c.State().(*state) }

// fail records err as the database's last error and returns the status
// the guest sees.
func (c *conn) fail(ctx context.Context, err error) int64 {
	c.errmsg = err.Error()
	if c.denied {
		return abi.ErrPermission
	}
	var se *msqlite.Error
	if errors.As(err, &se) {
		switch se.Code() & 0xff {
		case sqlite3.SQLITE_AUTH:
			return abi.ErrPermission
		case sqlite3.SQLITE_TOOBIG, sqlite3.SQLITE_FULL, sqlite3.SQLITE_NOMEM, sqlite3.SQLITE_RANGE:
			return abi.ErrLimit
		case sqlite3.SQLITE_INTERRUPT:
			if c.w.overrun {
				c.errmsg = "ward: sqlite: the call ran more instructions than the environment's MaxCallSteps"
				return abi.ErrLimit
			}
			return abi.ErrClosed
		}
	}
	if ctx.Err() != nil {
		return abi.ErrClosed
	}
	return abi.ErrInvalid
}

func (c *conn) ok() int64 {
	c.errmsg = ""
	return abi.OK
}

func writeI32(c *hostapi.Call, ptr int64, v int32) error {
	var b [4]byte
	binary.LittleEndian.PutUint32(b[:], uint32(v))
	return c.Write(ptr, b[:])
}

// guestSQL reads SQL text from the guest; ok is false, with the status
// already returned, when it is too long.
func guestSQL(c *hostapi.Call, s *state, ptr, n int64) (string, bool, error) {
	if uint32(n) > uint32(s.cfg.MaxValueBytes) {
		c.Return(abi.ErrLimit)
		return "", false, nil
	}
	q, err := c.ReadString(ptr, n)
	return q, err == nil, err
}

func hOpen(ctx context.Context, c *hostapi.Call) error {
	s := st(c)
	if uint32(c.Arg(1)) > MaxPathLen {
		c.Return(abi.ErrInvalid)
		return nil
	}
	p, err := c.ReadString(c.Arg(0), c.Arg(1))
	if err != nil {
		return err
	}
	file, err := configOf(c).resolve(p)
	switch {
	case errors.Is(err, errNoDir), errors.Is(err, errSymlink):
		c.Return(abi.ErrPermission)
		return nil
	case errors.Is(err, errNotExists):
		c.Return(abi.ErrNotFound)
		return nil
	case err != nil:
		c.Return(abi.ErrInvalid)
		return nil
	}
	if strings.ContainsAny(file, "?#") { // the driver would read what follows as parameters
		c.Return(abi.ErrInvalid)
		return nil
	}
	if s.dbs.Len() >= s.cfg.MaxConns {
		c.Return(abi.ErrLimit)
		return nil
	}
	cn, status := openConn(ctx, file, s.cfg)
	if status != abi.OK {
		c.Return(status)
		return nil
	}
	h, err := s.dbs.Add(cn)
	if err != nil {
		cn.close()
		c.Return(abi.ErrLimit)
		return nil
	}
	if err := writeI32(c, c.Arg(2), h); err != nil {
		s.dbs.Remove(h)
		cn.close()
		return err
	}
	c.Return(abi.OK)
	return nil
}

// openConn opens file with the module's bounds and policy in place before
// the guest's first statement.
func openConn(ctx context.Context, file string, cfg Config) (*conn, int64) {
	db, err := sql.Open("sqlite", file)
	if err != nil {
		return nil, abi.ErrInvalid
	}
	db.SetMaxOpenConns(1)
	sc, err := db.Conn(ctx)
	if err != nil {
		db.Close()
		return nil, abi.ErrInvalid
	}
	cn := &conn{db: db, sc: sc}
	for _, l := range []struct{ id, v int }{
		{sqlite3.SQLITE_LIMIT_ATTACHED, 0},
		{sqlite3.SQLITE_LIMIT_LENGTH, cfg.MaxValueBytes},
		{sqlite3.SQLITE_LIMIT_SQL_LENGTH, cfg.MaxValueBytes},
		{sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER, MaxParams},
		{sqlite3.SQLITE_LIMIT_COLUMN, MaxColumns},
		{sqlite3.SQLITE_LIMIT_VDBE_OP, maxProgramOps},
		{sqlite3.SQLITE_LIMIT_TRIGGER_DEPTH, maxTriggerDepth},
		{sqlite3.SQLITE_LIMIT_WORKER_THREADS, 0},
	} {
		if _, err := msqlite.Limit(sc, l.id, l.v); err != nil {
			cn.close()
			return nil, abi.ErrInvalid
		}
	}
	setup := "PRAGMA cache_size = -" + itoa(cfg.CacheKiB) + "; PRAGMA temp_store = FILE; PRAGMA mmap_size = 0; SELECT count(*) FROM sqlite_schema"
	err = cn.raw(func(dc dconn) error {
		if _, err := dc.ExecContext(ctx, setup, nil); err != nil {
			return err
		}
		// The watch goes on after the setup: the driver, given a context
		// that can end, takes over the progress handler for the call and
		// clears it after.
		h, tls, err := driverHandle(dc)
		if err != nil {
			return err
		}
		cn.handle, cn.w.maxSteps = h, max(cfg.MaxCallSteps/progressOps, 1)
		watched.Store(h, &cn.w)
		sqlite3.Xsqlite3_progress_handler(tls, h, progressOps, progressFP, h)
		ar, ok := dc.(msqlite.AuthorizerRegisterer)
		if !ok {
			return errors.New("ward: sqlite: the driver has no authorizer")
		}
		// The closure notes each refusal: SQLite reports some (a function
		// refused) as a plain SQL error, and the guest should see
		// ErrPermission for all.
		return ar.RegisterAuthorizer(func(action msqlite.AuthorizerActionCode, arg1, arg2, dbName, trigger string) msqlite.AuthorizerReturnCode {
			rc := authorize(action, arg1, arg2, dbName, trigger)
			if rc == msqlite.AuthorizerDeny {
				cn.denied = true
			}
			return rc
		})
	})
	if err != nil {
		// Reading sqlite_schema fails for a file that is not a database.
		cn.close()
		var se *msqlite.Error
		if errors.As(err, &se) && se.Code()&0xff == sqlite3.SQLITE_CANTOPEN {
			return nil, abi.ErrNotFound
		}
		return nil, abi.ErrInvalid
	}
	return cn, abi.OK
}

func itoa(n int) string {
	var b [20]byte
	i := len(b)
	for {
		i--
		b[i] = byte('0' + n%10)
		n /= 10
		if n == 0 {
			return string(b[i:])
		}
	}
}

func hClose(ctx context.Context, c *hostapi.Call) error {
	s := st(c)
	cn, ok := s.dbs.Remove(int32(c.Arg(0)))
	if !ok {
		c.Return(abi.ErrNotFound)
		return nil
	}
	for h, x := range s.stmts.All() {
		if x.c == cn {
			s.stmts.Remove(h)
			x.finalize()
		}
	}
	cn.close()
	c.Return(abi.OK)
	return nil
}

func hExec(ctx context.Context, c *hostapi.Call) error {
	s := st(c)
	cn, ok := s.dbs.Get(int32(c.Arg(0)))
	if !ok {
		c.Return(abi.ErrNotFound)
		return nil
	}
	q, ok, err := guestSQL(c, s, c.Arg(1), c.Arg(2))
	if !ok {
		return err
	}
	c.Return(cn.exec(ctx, q))
	return nil
}

// exec runs the SQL q, discarding rows, and returns the guest's status.
func (c *conn) exec(ctx context.Context, q string) int64 {
	if refuseVacuum(q) {
		c.errmsg = "ward: sqlite: VACUUM is refused"
		return abi.ErrPermission
	}
	err := c.call(ctx, func(ctx context.Context, dc dconn) error {
		_, err := dc.ExecContext(ctx, q, nil)
		return err
	})
	if err != nil {
		return c.fail(ctx, err)
	}
	return c.ok()
}

func hPrepare(ctx context.Context, c *hostapi.Call) error {
	s := st(c)
	cn, ok := s.dbs.Get(int32(c.Arg(0)))
	if !ok {
		c.Return(abi.ErrNotFound)
		return nil
	}
	q, ok, err := guestSQL(c, s, c.Arg(1), c.Arg(2))
	if !ok {
		return err
	}
	if refuseVacuum(q) {
		cn.errmsg = "ward: sqlite: VACUUM is refused"
		c.Return(abi.ErrPermission)
		return nil
	}
	if s.stmts.Len() >= s.cfg.MaxStmts {
		c.Return(abi.ErrLimit)
		return nil
	}
	var ds driver.Stmt
	err = cn.call(ctx, func(ctx context.Context, dc dconn) error {
		var err error
		ds, err = dc.PrepareContext(ctx, q)
		return err
	})
	if err != nil {
		c.Return(cn.fail(ctx, err))
		return nil
	}
	x := &stmt{c: cn, ds: ds}
	h, err := s.stmts.Add(x)
	if err != nil {
		x.finalize()
		c.Return(abi.ErrLimit)
		return nil
	}
	if err := writeI32(c, c.Arg(3), h); err != nil {
		s.stmts.Remove(h)
		x.finalize()
		return err
	}
	c.Return(cn.ok())
	return nil
}

// bind sets parameter index of the statement in the call's first two
// arguments to v.
func bind(c *hostapi.Call, v driver.Value) {
	x, ok := st(c).stmts.Get(int32(c.Arg(0)))
	if !ok {
		c.Return(abi.ErrNotFound)
		return
	}
	i := int(int32(c.Arg(1)))
	if i < 1 || i > MaxParams {
		c.Return(abi.ErrInvalid)
		return
	}
	x.reset()
	for len(x.args) < i {
		x.args = append(x.args, driver.NamedValue{Ordinal: len(x.args) + 1})
	}
	x.args[i-1].Value = v
	c.Return(abi.OK)
}

func hBindInt(ctx context.Context, c *hostapi.Call) error {
	bind(c, c.Arg(2))
	return nil
}

func hBindFloat(ctx context.Context, c *hostapi.Call) error {
	bind(c, math.Float64frombits(uint64(c.Arg(2))))
	return nil
}

func hBindNull(ctx context.Context, c *hostapi.Call) error {
	bind(c, nil)
	return nil
}

func bindBytes(c *hostapi.Call, text bool) error {
	if uint32(c.Arg(3)) > uint32(st(c).cfg.MaxValueBytes) {
		c.Return(abi.ErrLimit)
		return nil
	}
	b, err := c.Read(c.Arg(2), c.Arg(3))
	if err != nil {
		return err
	}
	if text {
		bind(c, string(b))
	} else {
		bind(c, append([]byte{}, b...))
	}
	return nil
}

func hBindText(ctx context.Context, c *hostapi.Call) error { return bindBytes(c, true) }

func hBindBlob(ctx context.Context, c *hostapi.Call) error { return bindBytes(c, false) }

func hStep(ctx context.Context, c *hostapi.Call) error {
	s := st(c)
	x, ok := s.stmts.Get(int32(c.Arg(0)))
	if !ok {
		c.Return(abi.ErrNotFound)
		return nil
	}
	if _, err := c.Read(c.Arg(1), 4); err != nil {
		return err
	}
	row, status := x.step(ctx, s)
	c.Return(status)
	if status != abi.OK {
		return nil
	}
	flag := int32(0)
	if row != nil {
		flag = 1
	}
	return writeI32(c, c.Arg(1), flag)
}

// step_row(stmt, buf_ptr, buf_cap, len_ptr) -> status
func hStepRow(ctx context.Context, c *hostapi.Call) error {
	s := st(c)
	x, ok := s.stmts.Get(int32(c.Arg(0)))
	if !ok {
		c.Return(abi.ErrNotFound)
		return nil
	}
	if _, err := c.Read(c.Arg(3), 4); err != nil { // before stepping: a bad pointer traps with the row unread
		return err
	}
	row, status := x.step(ctx, s)
	c.Return(status)
	switch {
	case status != abi.OK:
		return nil
	case row == nil:
		return writeI32(c, c.Arg(3), -1)
	}
	return writeRow(c, x, false)
}

// row(stmt, buf_ptr, buf_cap, len_ptr) -> status
func hRow(ctx context.Context, c *hostapi.Call) error {
	x, ok := st(c).stmts.Get(int32(c.Arg(0)))
	if !ok || x.row == nil {
		c.Return(abi.ErrNotFound)
		return nil
	}
	return writeRow(c, x, true)
}

// writeRow writes the encoding of x's current row at the call's
// buf_ptr, if it fits in buf_cap, and its length at len_ptr (arguments 1
// to 3). A row that does not fit is ErrLimit for row (limit set), and OK
// for step_row, whose guest tells by the length.
func writeRow(c *hostapi.Call, x *stmt, limit bool) error {
	x.enc = encodeRow(x.enc[:0], x.row)
	if err := writeI32(c, c.Arg(3), int32(len(x.enc))); err != nil {
		return err
	}
	enc := x.enc
	if cap(x.enc) > 64<<10 { // not held between calls: MaxStmts of them could be MaxRowBytes each
		x.enc = nil
	}
	if uint32(len(enc)) > uint32(c.Arg(2)) {
		if limit {
			c.Return(abi.ErrLimit)
		}
		return nil
	}
	return c.Write(c.Arg(1), enc)
}

// encodeRow appends row's encoding (step_row's) to b.
func encodeRow(b []byte, row []driver.Value) []byte {
	for _, v := range row {
		switch v := v.(type) {
		case int64:
			b = append(b, TypeInteger)
			b = binary.LittleEndian.AppendUint64(b, uint64(v))
		case float64:
			b = append(b, TypeFloat)
			b = binary.LittleEndian.AppendUint64(b, math.Float64bits(v))
		case string:
			b = append(b, TypeText)
			b = binary.LittleEndian.AppendUint32(b, uint32(len(v)))
			b = append(b, v...)
		case []byte:
			b = append(b, TypeBlob)
			b = binary.LittleEndian.AppendUint32(b, uint32(len(v)))
			b = append(b, v...)
		default:
			b = append(b, TypeNull)
		}
	}
	return b
}

// step runs x to its next row and returns the row (nil when x is done)
// and the guest's status.
func (x *stmt) step(ctx context.Context, s *state) ([]driver.Value, int64) {
	if x.done {
		return nil, x.c.ok()
	}
	var row []driver.Value
	err := x.c.call(ctx, func(ctx context.Context, dc dconn) error {
		if x.rows == nil {
			rows, err := x.ds.(driver.StmtQueryContext).QueryContext(ctx, x.args)
			if err != nil {
				return err
			}
			x.rows, x.ncols = rows, len(rows.Columns())
		}
		if x.row == nil {
			x.row = make([]driver.Value, x.ncols)
		}
		if err := x.rows.Next(x.row); err != nil {
			return err
		}
		row = x.row
		return nil
	})
	switch {
	case err == io.EOF:
		x.row, x.done = nil, true
		return nil, x.c.ok()
	case err != nil:
		x.reset()
		return nil, x.c.fail(ctx, err)
	}
	size := 0
	for i, v := range row {
		switch v := v.(type) {
		case string:
			size += len(v)
		case []byte:
			size += len(v)
		case time.Time:
			// The driver parses text in columns declared DATE, DATETIME
			// or TIMESTAMP; the guest gets text back.
			t := v.Format("2006-01-02 15:04:05.999999999-07:00")
			row[i] = t
			size += len(t)
		case bool:
			row[i] = int64(0)
			if v {
				row[i] = int64(1)
			}
		}
	}
	if size > s.cfg.MaxRowBytes {
		x.reset()
		x.c.errmsg = "ward: sqlite: the row is larger than the environment's MaxRowBytes"
		return nil, abi.ErrLimit
	}
	return row, x.c.ok()
}

// value returns column col of the statement's current row.
func value(c *hostapi.Call) (driver.Value, bool) {
	x, ok := st(c).stmts.Get(int32(c.Arg(0)))
	if !ok || x.row == nil {
		return nil, false
	}
	col := int(int32(c.Arg(1)))
	if col < 0 || col >= len(x.row) {
		return nil, false
	}
	return x.row[col], true
}

func hColumnCount(ctx context.Context, c *hostapi.Call) error {
	x, ok := st(c).stmts.Get(int32(c.Arg(0)))
	if !ok {
		c.Return(0)
		return nil
	}
	if x.rows == nil {
		// Before the first step the driver has not run the statement;
		// the count is known once it has.
		c.Return(0)
		return nil
	}
	c.Return(int64(x.ncols))
	return nil
}

func hColumnType(ctx context.Context, c *hostapi.Call) error {
	v, ok := value(c)
	if !ok {
		c.Return(0)
		return nil
	}
	switch v.(type) {
	case int64:
		c.Return(TypeInteger)
	case float64:
		c.Return(TypeFloat)
	case string:
		c.Return(TypeText)
	case []byte:
		c.Return(TypeBlob)
	default:
		c.Return(TypeNull)
	}
	return nil
}

func hColumnInt(ctx context.Context, c *hostapi.Call) error {
	v, _ := value(c)
	switch v := v.(type) {
	case int64:
		c.Return(v)
	case float64:
		c.Return(int64(v))
	default:
		c.Return(0)
	}
	return nil
}

func hColumnFloat(ctx context.Context, c *hostapi.Call) error {
	v, _ := value(c)
	switch v := v.(type) {
	case int64:
		c.Return(int64(math.Float64bits(float64(v))))
	case float64:
		c.Return(int64(math.Float64bits(v)))
	default:
		c.Return(0)
	}
	return nil
}

func hColumnBytes(ctx context.Context, c *hostapi.Call) error {
	v, ok := value(c)
	if !ok {
		c.Return(abi.ErrNotFound)
		return nil
	}
	var b []byte
	switch v := v.(type) {
	case string:
		b = []byte(v)
	case []byte:
		b = v
	}
	if err := writeI32(c, c.Arg(4), int32(len(b))); err != nil {
		return err
	}
	if uint32(len(b)) > uint32(c.Arg(3)) {
		c.Return(abi.ErrLimit)
		return nil
	}
	if err := c.Write(c.Arg(2), b); err != nil {
		return err
	}
	c.Return(abi.OK)
	return nil
}

func hReset(ctx context.Context, c *hostapi.Call) error {
	x, ok := st(c).stmts.Get(int32(c.Arg(0)))
	if !ok {
		c.Return(abi.ErrNotFound)
		return nil
	}
	x.reset()
	c.Return(abi.OK)
	return nil
}

func hFinalize(ctx context.Context, c *hostapi.Call) error {
	x, ok := st(c).stmts.Remove(int32(c.Arg(0)))
	if !ok {
		c.Return(abi.ErrNotFound)
		return nil
	}
	x.finalize()
	c.Return(abi.OK)
	return nil
}

func hErrmsg(ctx context.Context, c *hostapi.Call) error {
	cn, ok := st(c).dbs.Get(int32(c.Arg(0)))
	if !ok {
		c.Return(0)
		return nil
	}
	msg := cn.errmsg
	n := min(len(msg), int(uint32(c.Arg(2))))
	if err := c.Write(c.Arg(1), []byte(msg[:n])); err != nil {
		return err
	}
	c.Return(int64(len(msg)))
	return nil
}
