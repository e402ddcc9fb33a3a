package sqlite_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/wardrt/ward/environment"
	"github.com/wardrt/ward/hostapi/sqlite"
	"github.com/wardrt/ward/internal/abi"
	"github.com/wardrt/ward/runtime"

	"database/sql"

	_ "modernc.org/sqlite"
)

// op is one call a generated WAT guest makes, with the status it must
// get: the guest traps at the first call whose result differs, so a
// process that ends normally got every status the test expected.
type op struct {
	fn   string // open, exec, prepare, bind_int, bind_text, step, col_int, col_text, finalize, close, close_other, spin, trap
	s    string // path, SQL or text
	i    int64  // parameter index / column / value
	v    int64  // bound or expected integer
	want int64  // expected status (or row flag for step: want is the status, v the row flag)
}

// refused as an op's want accepts any status but OK; anyStatus accepts
// any status at all.
const (
	refused   = -1
	anyStatus = -2
)

// guestWAT builds a guest whose export "run" makes the calls of ops in
// order. Handles go in globals: $db for the last open, $st for the last
// prepare.
func guestWAT(ops []op) string {
	var data, body strings.Builder
	off := 1024
	str := func(s string) (int, int) {
		p := off
		fmt.Fprintf(&data, "  (data (i32.const %d) \"%s\")\n", p, watEscape(s))
		off += len(s) + 8
		return p, len(s)
	}
	check := func(call string, want int64) {
		if want == anyStatus {
			fmt.Fprintf(&body, "    (drop %s)\n", call)
			return
		}
		if want == refused {
			fmt.Fprintf(&body, "    (if (i32.eqz %s) (then unreachable))\n", call)
			return
		}
		fmt.Fprintf(&body, "    (if (i32.ne %s (i32.const %d)) (then unreachable))\n", call, want)
	}
	for _, o := range ops {
		switch o.fn {
		case "open":
			p, n := str(o.s)
			check(fmt.Sprintf("(call $open (i32.const %d) (i32.const %d) (i32.const 0))", p, n), o.want)
			if o.want == abi.OK {
				body.WriteString("    (global.set $db (i32.load (i32.const 0)))\n")
			}
		case "exec":
			p, n := str(o.s)
			check(fmt.Sprintf("(call $exec (global.get $db) (i32.const %d) (i32.const %d))", p, n), o.want)
		case "exec_handle": // exec on the handle number o.i, whoever's it is
			p, n := str(o.s)
			check(fmt.Sprintf("(call $exec (i32.const %d) (i32.const %d) (i32.const %d))", o.i, p, n), o.want)
		case "prepare":
			p, n := str(o.s)
			check(fmt.Sprintf("(call $prepare (global.get $db) (i32.const %d) (i32.const %d) (i32.const 0))", p, n), o.want)
			if o.want == abi.OK {
				body.WriteString("    (global.set $st (i32.load (i32.const 0)))\n")
			}
		case "bind_int":
			check(fmt.Sprintf("(call $bind_int (global.get $st) (i32.const %d) (i64.const %d))", o.i, o.v), o.want)
		case "bind_text":
			p, n := str(o.s)
			check(fmt.Sprintf("(call $bind_text (global.get $st) (i32.const %d) (i32.const %d) (i32.const %d))", o.i, p, n), o.want)
		case "step":
			check("(call $step (global.get $st) (i32.const 0))", o.want)
			if o.want == abi.OK {
				check("(i32.load (i32.const 0))", o.v)
			}
		case "col_int":
			fmt.Fprintf(&body, "    (if (i64.ne (call $column_int (global.get $st) (i32.const %d)) (i64.const %d)) (then unreachable))\n", o.i, o.v)
		case "col_text":
			p, n := str(o.s)
			check(fmt.Sprintf("(call $column_type (global.get $st) (i32.const %d))", o.i), sqlite.TypeText)
			check(fmt.Sprintf("(call $column_bytes (global.get $st) (i32.const %d) (i32.const 512) (i32.const 256) (i32.const 0))", o.i), abi.OK)
			check("(i32.load (i32.const 0))", int64(n))
			check(fmt.Sprintf("(call $eq (i32.const 512) (i32.const %d) (i32.const %d))", p, n), 1)
		case "finalize":
			check("(call $finalize (global.get $st))", o.want)
		case "close":
			check("(call $close (global.get $db))", o.want)
		case "spin":
			body.WriteString("    (loop $l (br $l))\n")
		case "trap":
			body.WriteString("    unreachable\n")
		default:
			panic(o.fn)
		}
	}
	return `(module
  (import "ward_sqlite" "open" (func $open (param i32 i32 i32) (result i32)))
  (import "ward_sqlite" "close" (func $close (param i32) (result i32)))
  (import "ward_sqlite" "exec" (func $exec (param i32 i32 i32) (result i32)))
  (import "ward_sqlite" "prepare" (func $prepare (param i32 i32 i32 i32) (result i32)))
  (import "ward_sqlite" "bind_int" (func $bind_int (param i32 i32 i64) (result i32)))
  (import "ward_sqlite" "bind_text" (func $bind_text (param i32 i32 i32 i32) (result i32)))
  (import "ward_sqlite" "step" (func $step (param i32 i32) (result i32)))
  (import "ward_sqlite" "column_type" (func $column_type (param i32 i32) (result i32)))
  (import "ward_sqlite" "column_int" (func $column_int (param i32 i32) (result i64)))
  (import "ward_sqlite" "column_bytes" (func $column_bytes (param i32 i32 i32 i32 i32) (result i32)))
  (import "ward_sqlite" "finalize" (func $finalize (param i32) (result i32)))
  (memory (export "memory") ` + fmt.Sprint(off/65536+1) + `)
  (global $db (mut i32) (i32.const 0))
  (global $st (mut i32) (i32.const 0))
` + data.String() + `
  ;; eq returns 1 when the n bytes at a and b are equal.
  (func $eq (param $a i32) (param $b i32) (param $n i32) (result i32)
    (block $ne (loop $l
      (if (i32.eqz (local.get $n)) (then (return (i32.const 1))))
      (br_if $ne (i32.ne (i32.load8_u (local.get $a)) (i32.load8_u (local.get $b))))
      (local.set $a (i32.add (local.get $a) (i32.const 1)))
      (local.set $b (i32.add (local.get $b) (i32.const 1)))
      (local.set $n (i32.sub (local.get $n) (i32.const 1)))
      (br $l)))
    (i32.const 0))
  (func (export "run")
` + body.String() + `  ))`
}

func watEscape(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 0x20 || c >= 0x7f || c == '"' || c == '\\' {
			fmt.Fprintf(&b, "\\%02x", c)
		} else {
			b.WriteByte(c)
		}
	}
	return b.String()
}

func testCtx(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute) // a hang guard
	t.Cleanup(cancel)
	return ctx
}

// newRuntime returns a runtime with the module registered and a root
// environment preopening dir as "data".
func newRuntime(t testing.TB, dir string) *runtime.Runtime {
	t.Helper()
	root := environment.Config{Host: map[string]environment.HostConfig{
		sqlite.Namespace: sqlite.Config{Dirs: []sqlite.Dir{{Name: "data", Path: dir}}},
	}}
	rt, err := runtime.New(runtime.WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil))),
		runtime.WithHostModule(sqlite.Module()), runtime.WithRootEnvironment(root))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		rt.Close(ctx)
	})
	return rt
}

// run runs a guest making ops in env and returns how it ended.
func run(t *testing.T, rt *runtime.Runtime, env *runtime.Environment, ops []op) runtime.Reason {
	t.Helper()
	m, err := rt.LoadModule(testCtx(t), "g", []byte(guestWAT(ops)))
	if err != nil {
		t.Fatal(err)
	}
	reason, err := env.Run(testCtx(t), m, "run")
	if err != nil {
		t.Fatal(err)
	}
	return reason
}

func mustRun(t *testing.T, rt *runtime.Runtime, env *runtime.Environment, ops []op) {
	t.Helper()
	if reason := run(t, rt, env, ops); reason != runtime.Normal {
		t.Fatalf("guest ended %v: a call's status differed from the expected one", reason)
	}
}

// A guest creates a table, inserts with bound parameters and reads the
// rows back; the file is a real SQLite database Go then reads.
func TestGuestCreatesInsertsSelects(t *testing.T) {
	dir := t.TempDir()
	rt := newRuntime(t, dir)
	mustRun(t, rt, rt.Environment(), []op{
		{fn: "open", s: "data/app.db"},
		{fn: "exec", s: "CREATE TABLE kv (k INTEGER PRIMARY KEY, v TEXT)"},
		{fn: "prepare", s: "INSERT INTO kv (k, v) VALUES (?, ?)"},
		{fn: "bind_int", i: 1, v: 7},
		{fn: "bind_text", i: 2, s: "seven"},
		{fn: "step", v: 0},
		{fn: "bind_int", i: 1, v: 8},
		{fn: "bind_text", i: 2, s: "eight"},
		{fn: "step", v: 0},
		{fn: "finalize"},
		{fn: "prepare", s: "SELECT k, v FROM kv WHERE k >= ? ORDER BY k"},
		{fn: "bind_int", i: 1, v: 7},
		{fn: "step", v: 1},
		{fn: "col_int", i: 0, v: 7},
		{fn: "col_text", i: 1, s: "seven"},
		{fn: "step", v: 1},
		{fn: "col_int", i: 0, v: 8},
		{fn: "col_text", i: 1, s: "eight"},
		{fn: "step", v: 0},
		{fn: "finalize"},
		{fn: "close"},
	})
	db, err := sql.Open("sqlite", filepath.Join(dir, "app.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var n int
	if err := db.QueryRow("SELECT count(*) FROM kv").Scan(&n); err != nil || n != 2 {
		t.Fatalf("the guest's database has %d rows (%v), want 2", n, err)
	}
}

// Every way out of the preopened directory is refused with the status the
// ABI names, and creates no file outside it.
func TestOpenOutsideIsRefused(t *testing.T) {
	base := t.TempDir()
	dir := filepath.Join(base, "data")
	outside := filepath.Join(base, "outside")
	for _, d := range []string{dir, outside, filepath.Join(dir, "sub")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(outside, "secret.db"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Join(outside, "secret.db"), filepath.Join(dir, "link.db")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(outside, filepath.Join(dir, "linkdir")); err != nil {
		t.Fatal(err)
	}
	rt := newRuntime(t, dir)
	for _, tc := range []struct {
		path string
		want int64
	}{
		{filepath.Join(outside, "x.db"), abi.ErrInvalid}, // absolute
		{"/data/x.db", abi.ErrInvalid},
		{"data/../outside/x.db", abi.ErrInvalid},
		{"data/sub/../../outside/x.db", abi.ErrInvalid},
		{"data/./x.db", abi.ErrInvalid},
		{"data//x.db", abi.ErrInvalid},
		{"data", abi.ErrInvalid},
		{"outside/x.db", abi.ErrPermission}, // not preopened
		{"data/link.db", abi.ErrPermission}, // a link out
		{"data/linkdir/x.db", abi.ErrPermission},
		{"data/nodir/x.db", abi.ErrNotFound},
		{"file:data/x.db", abi.ErrInvalid},
		{"file:" + filepath.Join(outside, "x.db") + "?mode=rwc", abi.ErrInvalid},
		{"data/x.db?vfs=unix-none", abi.ErrInvalid},
		{"data/x.db?_pragma=temp_store_directory('" + outside + "')", abi.ErrInvalid},
		{":memory:", abi.ErrInvalid},
		{"data/:memory:", abi.ErrInvalid},
		{"data/x.db\x00", abi.ErrInvalid},
	} {
		t.Run(tc.path, func(t *testing.T) {
			mustRun(t, rt, rt.Environment(), []op{{fn: "open", s: tc.path, want: tc.want}})
		})
	}
	assertOnly(t, outside, "secret.db")
	assertOnly(t, dir, "link.db", "linkdir", "sub")
}

// assertOnly fails unless dir holds exactly names.
func assertOnly(t *testing.T, dir string, names ...string) {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range ents {
		got = append(got, e.Name())
	}
	if strings.Join(got, ",") != strings.Join(names, ",") {
		t.Fatalf("%s holds %v, want %v", dir, got, names)
	}
}

// No SQL reaches another file: ATTACH, VACUUM INTO, extensions, and the
// PRAGMAs that name files or lift the module's bounds are refused with
// ErrPermission, and nothing appears outside the directory.
func TestSQLRoutesOutAreRefused(t *testing.T) {
	base := t.TempDir()
	dir := filepath.Join(base, "data")
	outside := filepath.Join(base, "outside")
	for _, d := range []string{dir, outside} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	other := filepath.Join(outside, "other.db")
	rt := newRuntime(t, dir)
	for _, q := range []string{
		"ATTACH DATABASE '" + other + "' AS o",
		"ATTACH '" + other + "' AS o; CREATE TABLE o.t (x)",
		"attach 'file:" + other + "?mode=rwc' as o",
		"ATTACH ':memory:' AS m",
		"DETACH DATABASE main",
		"VACUUM INTO '" + other + "'",
		"  /* c */ vacuum main into '" + other + "'",
		"-- c\nVACUUM",
		"SELECT 1; VACUUM INTO '" + other + "'",
		"SELECT load_extension('" + other + "')",
		"PRAGMA temp_store_directory = '" + outside + "'",
		"PRAGMA data_store_directory = '" + outside + "'",
		"PRAGMA cache_size = 1000000",
		"PRAGMA main.cache_size = 1000000",
		"PRAGMA hard_heap_limit = 0",
		"PRAGMA mmap_size = 1000000000",
		"PRAGMA temp_store = MEMORY",
		"PRAGMA query_only = 0",
		"PRAGMA writable_schema = 1",
		"CREATE TEMP TABLE t (x)",
		"CREATE TABLE temp.t (x)",
	} {
		t.Run(q, func(t *testing.T) {
			mustRun(t, rt, rt.Environment(), []op{
				{fn: "open", s: "data/app.db"},
				{fn: "exec", s: q, want: abi.ErrPermission},
				{fn: "prepare", s: q, want: abi.ErrPermission},
				{fn: "exec", s: "PRAGMA user_version = 3"},
				{fn: "exec", s: "SELECT * FROM pragma_temp_store_directory", want: refused},
				{fn: "exec", s: "SELECT * FROM pragma_cache_size", want: refused},
				{fn: "exec", s: "CREATE TABLE IF NOT EXISTS t (x); DROP TABLE t"},
			})
		})
	}
	assertOnly(t, outside)
}

// A child environment narrows the directories: it may name a
// subdirectory of the parent's, under a name of its own, and no other;
// one preopening none may open nothing; asking for a directory outside
// fails.
func TestNarrowingInChildEnvironment(t *testing.T) {
	base := t.TempDir()
	dir := filepath.Join(base, "data")
	sub := filepath.Join(dir, "tenant")
	for _, d := range []string{sub, filepath.Join(base, "other")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	rt := newRuntime(t, dir)
	child, err := rt.Environment().NewChild(environment.Config{Host: map[string]environment.HostConfig{
		sqlite.Namespace: sqlite.Config{Dirs: []sqlite.Dir{{Name: "mine", Path: sub}}, MaxConns: 1},
	}})
	if err != nil {
		t.Fatal(err)
	}
	mustRun(t, rt, child, []op{
		{fn: "open", s: "data/x.db", want: abi.ErrPermission},
		{fn: "open", s: "mine/../x.db", want: abi.ErrInvalid},
		{fn: "open", s: "mine/x.db"},
		{fn: "open", s: "mine/y.db", want: abi.ErrLimit}, // MaxConns 1
	})
	if _, err := os.Stat(filepath.Join(sub, "x.db")); err != nil {
		t.Fatalf("the child's database is not in its directory: %v", err)
	}
	assertOnly(t, dir, "tenant")

	none, err := rt.Environment().NewChild(environment.Config{Host: map[string]environment.HostConfig{
		sqlite.Namespace: sqlite.Config{Dirs: []sqlite.Dir{}},
	}})
	if err != nil {
		t.Fatal(err)
	}
	mustRun(t, rt, none, []op{{fn: "open", s: "data/x.db", want: abi.ErrPermission}})

	for _, wider := range []sqlite.Config{
		{Dirs: []sqlite.Dir{{Name: "o", Path: filepath.Join(base, "other")}}},
		{Dirs: []sqlite.Dir{{Name: "o", Path: base}}},
		{Dirs: []sqlite.Dir{{Name: "o", Path: filepath.Join(dir, "..", "other")}}},
		{MaxConns: sqlite.DefaultMaxConns + 1},
	} {
		_, err := rt.Environment().NewChild(environment.Config{Host: map[string]environment.HostConfig{sqlite.Namespace: wider}})
		if !errors.Is(err, environment.ErrWiden) {
			t.Errorf("a child asking for %+v: %v, want ErrWiden", wider, err)
		}
	}
	if err := os.Symlink(filepath.Join(base, "other"), filepath.Join(dir, "escape")); err != nil {
		t.Fatal(err)
	}
	_, err = rt.Environment().NewChild(environment.Config{Host: map[string]environment.HostConfig{
		sqlite.Namespace: sqlite.Config{Dirs: []sqlite.Dir{{Name: "e", Path: filepath.Join(dir, "escape")}}},
	}})
	if !errors.Is(err, environment.ErrWiden) {
		t.Errorf("a child naming a link out of the parent's directory: %v, want ErrWiden", err)
	}
}

// A process's handles are its own: another process using the same
// numbers finds nothing.
func TestAnotherProcessHandleIsRefused(t *testing.T) {
	dir := t.TempDir()
	rt := newRuntime(t, dir)
	ctx := testCtx(t)
	owner, err := rt.LoadModule(ctx, "owner", []byte(guestWAT([]op{
		{fn: "open", s: "data/app.db"},
		{fn: "exec", s: "CREATE TABLE t (x)"},
		{fn: "spin"},
	})))
	if err != nil {
		t.Fatal(err)
	}
	p, err := rt.Environment().Spawn(ctx, owner, "run")
	if err != nil {
		t.Fatal(err)
	}
	defer p.Kill()
	// Wait until the owner's table is committed: its handle 1 is open.
	// The file is watched, not queried: a reader's lock would make the
	// owner's CREATE fail as busy.
	path := filepath.Join(dir, "app.db")
	for {
		fi, err := os.Stat(path)
		_, jerr := os.Stat(path + "-journal")
		if err == nil && fi.Size() > 0 && os.IsNotExist(jerr) {
			break
		}
		select {
		case <-ctx.Done():
			t.Fatal("the owner never created its table")
		case <-time.After(5 * time.Millisecond):
		}
	}
	mustRun(t, rt, rt.Environment(), []op{
		{fn: "exec_handle", i: 1, s: "DROP TABLE t", want: abi.ErrNotFound},
		{fn: "exec_handle", i: 0, s: "DROP TABLE t", want: abi.ErrNotFound},
		{fn: "exec_handle", i: -1, s: "DROP TABLE t", want: abi.ErrNotFound},
	})
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var n int
	if err := db.QueryRow("SELECT count(*) FROM sqlite_schema WHERE name = 't'").Scan(&n); err != nil || n != 1 {
		t.Fatalf("the owner's table is gone (%d, %v)", n, err)
	}
}

// fds returns the number of file descriptors this process has open.
func fds(t *testing.T) int {
	t.Helper()
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Skip("no /proc/self/fd:", err)
	}
	return len(ents)
}

// Everything a process opened is closed when it ends, however it ends:
// the file descriptors go back to where they were, and a transaction it
// left open is rolled back.
func TestClosedOnEveryEnd(t *testing.T) {
	dir := t.TempDir()
	rt := newRuntime(t, dir)
	ctx := testCtx(t)
	mustRun(t, rt, rt.Environment(), []op{{fn: "open", s: "data/app.db"}, {fn: "exec", s: "CREATE TABLE t (x)"}})
	open := []op{
		{fn: "open", s: "data/b.db"},
		{fn: "open", s: "data/app.db"},
		{fn: "exec", s: "BEGIN; INSERT INTO t VALUES (1)"},
		{fn: "prepare", s: "SELECT 1"},
		{fn: "step", v: 1},
	}
	base := fds(t)
	for _, end := range []string{"normal", "trap", "kill"} {
		t.Run(end, func(t *testing.T) {
			ops := append([]op{}, open...)
			switch end {
			case "trap":
				ops = append(ops, op{fn: "trap"})
			case "kill":
				ops = append(ops, op{fn: "spin"})
			}
			m, err := rt.LoadModule(ctx, "g", []byte(guestWAT(ops)))
			if err != nil {
				t.Fatal(err)
			}
			p, err := rt.Environment().Spawn(ctx, m, "run")
			if err != nil {
				t.Fatal(err)
			}
			if end == "kill" {
				for fds(t) < base+2 { // both databases open
					select {
					case <-ctx.Done():
						t.Fatal("the guest never opened its databases")
					case <-time.After(time.Millisecond):
					}
				}
				p.Kill()
			}
			reason, err := p.Wait(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if (reason == runtime.Normal) != (end == "normal") {
				t.Fatalf("ended %v", reason)
			}
			if got := fds(t); got != base {
				t.Fatalf("%d file descriptors after the process ended, %d before", got, base)
			}
		})
	}
	// The transactions were rolled back: the table is empty, and not
	// locked.
	mustRun(t, rt, rt.Environment(), []op{
		{fn: "open", s: "data/app.db"},
		{fn: "prepare", s: "SELECT count(*) FROM t"},
		{fn: "step", v: 1},
		{fn: "col_int", i: 0, v: 0},
		{fn: "exec", s: "INSERT INTO t VALUES (2)"},
	})
}

// Bounds: a row larger than MaxRowBytes is refused with ErrLimit, as are
// statements past MaxStmts and values past MaxValueBytes.
func TestBounds(t *testing.T) {
	dir := t.TempDir()
	rt := newRuntime(t, dir)
	child, err := rt.Environment().NewChild(environment.Config{Host: map[string]environment.HostConfig{
		sqlite.Namespace: sqlite.Config{MaxRowBytes: 100, MaxStmts: 2, MaxValueBytes: 1000},
	}})
	if err != nil {
		t.Fatal(err)
	}
	mustRun(t, rt, child, []op{
		{fn: "open", s: "data/app.db"},
		{fn: "prepare", s: "SELECT zeroblob(50), zeroblob(50)"},
		{fn: "step", v: 1},
		{fn: "finalize"},
		{fn: "prepare", s: "SELECT zeroblob(50), zeroblob(51)"},
		{fn: "step", want: abi.ErrLimit},
		{fn: "prepare", s: "SELECT 1"},
		{fn: "prepare", s: "SELECT 2", want: abi.ErrLimit},
		{fn: "finalize"},
		{fn: "exec", s: "SELECT zeroblob(1001)", want: abi.ErrLimit},
		{fn: "exec", s: "SELECT '" + strings.Repeat("x", 1001) + "'", want: abi.ErrLimit},
	})
}

// A root configured with a *Config works as with a Config.
func TestPointerConfig(t *testing.T) {
	dir := t.TempDir()
	root := environment.Config{Host: map[string]environment.HostConfig{
		sqlite.Namespace: &sqlite.Config{Dirs: []sqlite.Dir{{Name: "data", Path: dir}}, MaxConns: 1},
	}}
	rt, err := runtime.New(runtime.WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil))),
		runtime.WithHostModule(sqlite.Module()), runtime.WithRootEnvironment(root))
	if err != nil {
		t.Fatal(err)
	}
	defer rt.Close(context.Background())
	mustRun(t, rt, rt.Environment(), []op{
		{fn: "open", s: "data/a.db"},
		{fn: "open", s: "data/b.db", want: abi.ErrLimit},
		{fn: "exec", s: "SELECT " + strings.Repeat("1,", sqlite.MaxColumns) + "1", want: refused},
	})
}

// A hostile guest: pointers outside its memory trap it (and only it),
// and one that prepares in a loop, ignoring the refusal, is held to
// MaxStmts and ends normally; nothing is left open either way.
func TestHostileGuest(t *testing.T) {
	dir := t.TempDir()
	rt := newRuntime(t, dir)
	ctx := testCtx(t)
	m, err := rt.LoadModule(ctx, "hostile", []byte(`(module
  (import "ward_sqlite" "open" (func $open (param i32 i32 i32) (result i32)))
  (import "ward_sqlite" "prepare" (func $prepare (param i32 i32 i32 i32) (result i32)))
  (import "ward_sqlite" "step" (func $step (param i32 i32) (result i32)))
  (import "ward_sqlite" "column_bytes" (func $column_bytes (param i32 i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  (data (i32.const 16) "data/h.db")
  (data (i32.const 32) "SELECT 'abc'")
  (func $db (result i32)
    (if (call $open (i32.const 16) (i32.const 9) (i32.const 0)) (then unreachable))
    (i32.load (i32.const 0)))
  (func (export "bad_path") (drop (call $open (i32.const 0xfffffff0) (i32.const 64) (i32.const 0))))
  (func (export "bad_out") (drop (call $open (i32.const 16) (i32.const 9) (i32.const 0x10000))))
  (func (export "bad_sql") (drop (call $prepare (call $db) (i32.const 65530) (i32.const 100) (i32.const 0))))
  (func (export "bad_row") (local $d i32)
    (local.set $d (call $db))
    (if (call $prepare (local.get $d) (i32.const 32) (i32.const 12) (i32.const 0)) (then unreachable))
    (drop (call $step (i32.load (i32.const 0)) (i32.const 65534))))
  (func (export "bad_buf") (local $s i32)
    (if (call $prepare (call $db) (i32.const 32) (i32.const 12) (i32.const 0)) (then unreachable))
    (local.set $s (i32.load (i32.const 0)))
    (if (call $step (local.get $s) (i32.const 4)) (then unreachable))
    (drop (call $column_bytes (local.get $s) (i32.const 0) (i32.const 65535) (i32.const 3) (i32.const 8))))
  (func (export "flood") (local $d i32) (local $n i32)
    (local.set $d (call $db))
    (block $full (loop $l
      (br_if $full (call $prepare (local.get $d) (i32.const 32) (i32.const 12) (i32.const 0)))
      (local.set $n (i32.add (local.get $n) (i32.const 1)))
      (br $l)))
    (if (i32.ne (local.get $n) (i32.const 64)) (then unreachable)) ;; DefaultMaxStmts
    (local.set $n (i32.const 0))
    (loop $l
      (if (i32.ne (call $prepare (local.get $d) (i32.const 32) (i32.const 12) (i32.const 0)) (i32.const 1)) (then unreachable))
      (local.set $n (i32.add (local.get $n) (i32.const 1)))
      (br_if $l (i32.lt_u (local.get $n) (i32.const 1000))))))`))
	if err != nil {
		t.Fatal(err)
	}
	base := fds(t)
	for _, entry := range []string{"bad_path", "bad_out", "bad_sql", "bad_row", "bad_buf"} {
		reason, err := rt.Environment().Run(ctx, m, entry)
		var trap *runtime.TrapError
		if err != nil || !errors.As(reason, &trap) {
			t.Errorf("%s: ended %v (%v), want a trap", entry, reason, err)
		}
	}
	if reason, err := rt.Environment().Run(ctx, m, "flood"); err != nil || reason != runtime.Normal {
		t.Errorf("flood: ended %v (%v), want normal", reason, err)
	}
	if got := fds(t); got != base {
		t.Errorf("%d file descriptors after the hostile guests, %d before", got, base)
	}
	mustRun(t, rt, rt.Environment(), []op{{fn: "open", s: "data/h.db"}, {fn: "exec", s: "SELECT 1"}})
}
