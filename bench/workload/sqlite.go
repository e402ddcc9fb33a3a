package workload

import (
	"context"
	"database/sql"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/wardrt/ward/environment"
	"github.com/wardrt/ward/hostapi/sqlite"
	"github.com/wardrt/ward/runtime"
)

// SQLiteRows is the rows one SQLite round inserts and reads back.
const SQLiteRows = 100

// SQLite measures SQLite rounds, each inserting SQLiteRows rows in one
// transaction with a prepared statement and reading them all back: from a
// guest through ward_sqlite, and the same calls from Go through
// database/sql on the same driver (modernc.org/sqlite), against files in
// the same temporary directory.
type SQLite struct {
	rt  *runtime.Runtime
	mod *runtime.Module
	dir string
}

// NewSQLite creates a runtime with hostapi/sqlite and a temporary
// directory preopened as "data", and loads the guest.
func NewSQLite() (*SQLite, error) {
	dir, err := os.MkdirTemp("", "wardbench-sqlite")
	if err != nil {
		return nil, err
	}
	rt, err := runtime.New(runtime.WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil))),
		runtime.WithHostModule(sqlite.Module()),
		runtime.WithRootEnvironment(environment.Config{Host: map[string]environment.HostConfig{
			sqlite.Namespace: sqlite.Config{Dirs: []sqlite.Dir{{Name: "data", Path: dir}}},
		}}))
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	mod, err := rt.LoadModule(context.Background(), "sqlite", []byte(SQLiteWAT))
	if err != nil {
		rt.Close(context.Background())
		os.RemoveAll(dir)
		return nil, err
	}
	return &SQLite{rt: rt, mod: mod, dir: dir}, nil
}

// Close closes the runtime and removes the directory.
func (s *SQLite) Close() {
	s.rt.Close(context.Background())
	os.RemoveAll(s.dir)
}

// Ward runs n rounds in one guest process.
func (s *SQLite) Ward(n int) (time.Duration, error) {
	start := time.Now()
	reason, err := s.rt.Environment().Run(context.Background(), s.mod, "bench", runtime.I32(int32(n)), runtime.I32(SQLiteRows))
	if err != nil {
		return 0, err
	}
	if reason != runtime.Normal {
		return 0, fmt.Errorf("the SQLite guest ended %v", reason)
	}
	return time.Since(start), nil
}

// Go runs n rounds from Go, with the calls the guest makes.
func (s *SQLite) Go(n int) (d time.Duration, err error) {
	start := time.Now()
	ctx := context.Background()
	db, err := sql.Open("sqlite", filepath.Join(s.dir, "go.db"))
	if err != nil {
		return 0, err
	}
	defer db.Close()
	c, err := db.Conn(ctx)
	if err != nil {
		return 0, err
	}
	defer c.Close()
	if _, err := c.ExecContext(ctx, "DROP TABLE IF EXISTS kv; CREATE TABLE kv (k INTEGER PRIMARY KEY, v TEXT)"); err != nil {
		return 0, err
	}
	for range n {
		for _, q := range []string{"DELETE FROM kv", "BEGIN"} {
			if _, err := c.ExecContext(ctx, q); err != nil {
				return 0, err
			}
		}
		ins, err := c.PrepareContext(ctx, "INSERT INTO kv (k, v) VALUES (?, ?)")
		if err != nil {
			return 0, err
		}
		for i := range SQLiteRows {
			if _, err := ins.ExecContext(ctx, int64(i), "value"); err != nil {
				return 0, err
			}
		}
		ins.Close()
		if _, err := c.ExecContext(ctx, "COMMIT"); err != nil {
			return 0, err
		}
		rows, err := c.QueryContext(ctx, "SELECT k, v FROM kv")
		if err != nil {
			return 0, err
		}
		seen := 0
		for rows.Next() {
			var k int64
			var v []byte
			if err := rows.Scan(&k, &v); err != nil {
				rows.Close()
				return 0, err
			}
			seen++
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return 0, err
		}
		if seen != SQLiteRows {
			return 0, fmt.Errorf("read %d rows, want %d", seen, SQLiteRows)
		}
	}
	return time.Since(start), nil
}

// SQLiteWAT is the guest: bench(rounds, rows) opens data/bench.db and runs
// the rounds, trapping at the first call that fails.
const SQLiteWAT = `(module
  (import "ward_sqlite" "open" (func $open (param i32 i32 i32) (result i32)))
  (import "ward_sqlite" "exec" (func $exec (param i32 i32 i32) (result i32)))
  (import "ward_sqlite" "prepare" (func $prepare (param i32 i32 i32 i32) (result i32)))
  (import "ward_sqlite" "bind_int" (func $bind_int (param i32 i32 i64) (result i32)))
  (import "ward_sqlite" "bind_text" (func $bind_text (param i32 i32 i32 i32) (result i32)))
  (import "ward_sqlite" "step" (func $step (param i32 i32) (result i32)))
  (import "ward_sqlite" "column_int" (func $column_int (param i32 i32) (result i64)))
  (import "ward_sqlite" "column_bytes" (func $column_bytes (param i32 i32 i32 i32 i32) (result i32)))
  (import "ward_sqlite" "finalize" (func $finalize (param i32) (result i32)))
  (import "ward_sqlite" "close" (func $close (param i32) (result i32)))
  (memory (export "memory") 1)
  (data (i32.const 100) "data/bench.db")
  (data (i32.const 200) "DROP TABLE IF EXISTS kv; CREATE TABLE kv (k INTEGER PRIMARY KEY, v TEXT)")
  (data (i32.const 300) "DELETE FROM kv")
  (data (i32.const 320) "BEGIN")
  (data (i32.const 330) "COMMIT")
  (data (i32.const 340) "INSERT INTO kv (k, v) VALUES (?, ?)")
  (data (i32.const 400) "SELECT k, v FROM kv")
  (data (i32.const 420) "value")
  (func $ok (param i32) (if (local.get 0) (then unreachable)))
  (func $exec_at (param $db i32) (param $p i32) (param $n i32) (call $ok (call $exec (local.get $db) (local.get $p) (local.get $n))))
  (func (export "bench") (param $rounds i32) (param $rows i32)
    (local $db i32) (local $st i32) (local $i i32) (local $r i32)
    (call $ok (call $open (i32.const 100) (i32.const 13) (i32.const 0)))
    (local.set $db (i32.load (i32.const 0)))
    (call $exec_at (local.get $db) (i32.const 200) (i32.const 72))
    (block $done (loop $round
      (br_if $done (i32.ge_u (local.get $r) (local.get $rounds)))
      (call $exec_at (local.get $db) (i32.const 300) (i32.const 14))
      (call $exec_at (local.get $db) (i32.const 320) (i32.const 5))
      (call $ok (call $prepare (local.get $db) (i32.const 340) (i32.const 35) (i32.const 0)))
      (local.set $st (i32.load (i32.const 0)))
      (local.set $i (i32.const 0))
      (block $ins_done (loop $ins
        (br_if $ins_done (i32.ge_u (local.get $i) (local.get $rows)))
        (call $ok (call $bind_int (local.get $st) (i32.const 1) (i64.extend_i32_u (local.get $i))))
        (call $ok (call $bind_text (local.get $st) (i32.const 2) (i32.const 420) (i32.const 5)))
        (call $ok (call $step (local.get $st) (i32.const 0)))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $ins)))
      (call $ok (call $finalize (local.get $st)))
      (call $exec_at (local.get $db) (i32.const 330) (i32.const 6))
      (call $ok (call $prepare (local.get $db) (i32.const 400) (i32.const 19) (i32.const 0)))
      (local.set $st (i32.load (i32.const 0)))
      (local.set $i (i32.const 0))
      (block $sel_done (loop $sel
        (call $ok (call $step (local.get $st) (i32.const 0)))
        (br_if $sel_done (i32.eqz (i32.load (i32.const 0))))
        (drop (call $column_int (local.get $st) (i32.const 0)))
        (call $ok (call $column_bytes (local.get $st) (i32.const 1) (i32.const 512) (i32.const 256) (i32.const 8)))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $sel)))
      (if (i32.ne (local.get $i) (local.get $rows)) (then unreachable))
      (call $ok (call $finalize (local.get $st)))
      (local.set $r (i32.add (local.get $r) (i32.const 1)))
      (br $round)))
    (call $ok (call $close (local.get $db)))))`
