//go:build wasip1

// Command guest is a Go guest using the guest SDK's SQLite API, built at
// test time by the module's tests.
package main

import (
	"bytes"
	"errors"
	"fmt"

	"github.com/wardrt/ward/guest"
)

func main() {}

// sdk goes through the whole API and panics at the first surprise.
//
//go:wasmexport sdk
func sdk() {
	db, err := guest.OpenDB("data/sdk.db")
	check(err)
	check(db.Exec("CREATE TABLE t (i INTEGER, f REAL, s TEXT, b BLOB, n)"))
	check(db.Exec("INSERT INTO t VALUES (?, ?, ?, ?, ?)", 42, 2.5, "héllo", []byte{0, 1, 2}, nil))
	big := string(bytes.Repeat([]byte("x"), 5000)) // past Scan's first buffer
	check(db.Exec("INSERT INTO t VALUES (?, ?, ?, ?, ?)", int64(-1), 0.0, big, []byte{}, nil))
	rows, err := db.Query("SELECT i, f, s, b, n FROM t ORDER BY rowid")
	check(err)
	var got []string
	for rows.Next() {
		var i int64
		var f float64
		var s string
		var b []byte
		var n any
		check(rows.Scan(&i, &f, &s, &b, &n))
		got = append(got, fmt.Sprintf("%d %g %d %v %v", i, f, len(s), b, n))
	}
	check(rows.Err())
	check(rows.Close())
	if want := "[42 2.5 6 [0 1 2] <nil> -1 0 5000 [] <nil>]"; fmt.Sprint(got) != want {
		panic(fmt.Sprintf("rows %v, want %s", got, want))
	}
	// Scanning past the columns, before the first row, after the last
	// and after Close finds no column.
	rows, err = db.Query("SELECT i, s FROM t ORDER BY rowid")
	check(err)
	var i int64
	var s, extra string
	if err := rows.Scan(&i); !errors.Is(err, guest.ErrNotFound) {
		panic(fmt.Sprintf("Scan before Next: %v, want ErrNotFound", err))
	}
	if !rows.Next() {
		panic("no first row")
	}
	if err := rows.Scan(&i, &s, &extra); !errors.Is(err, guest.ErrNotFound) {
		panic(fmt.Sprintf("Scan of 3 columns out of 2: %v, want ErrNotFound", err))
	}
	check(rows.Scan(&i, &s))
	if i != 42 || s != "héllo" {
		panic(fmt.Sprintf("first row %d %q", i, s))
	}
	for rows.Next() {
	}
	if err := rows.Scan(&i); !errors.Is(err, guest.ErrNotFound) {
		panic(fmt.Sprintf("Scan after the last row: %v, want ErrNotFound", err))
	}
	check(rows.Close())
	if err := rows.Scan(&i); !errors.Is(err, guest.ErrNotFound) {
		panic(fmt.Sprintf("Scan after Close: %v, want ErrNotFound", err))
	}
	// Refusals come back as the SDK's errors, with SQLite's message.
	if err := db.Exec("ATTACH 'other.db' AS o"); !errors.Is(err, guest.ErrPermission) {
		panic(fmt.Sprintf("ATTACH: %v, want ErrPermission", err))
	}
	if err := db.Exec("SELECT * FROM nope"); !errors.Is(err, guest.ErrInvalid) || !bytes.Contains([]byte(err.Error()), []byte("no such table")) {
		panic(fmt.Sprintf("a missing table: %v", err))
	}
	if _, err := guest.OpenDB("../x.db"); !errors.Is(err, guest.ErrInvalid) {
		panic(fmt.Sprintf("open ../x.db: %v, want ErrInvalid", err))
	}
	check(db.Close())
}

// bench, iters times, inserts n rows in one transaction with a prepared
// statement, then reads them all back, as hostapi/sqlite's benchmark does
// from Go. One process does all, so that the benchmark measures SQLite's
// calls, not a Go guest's start.
//
//go:wasmexport bench
func bench(iters, n int32) {
	for range iters {
		insertSelect(n)
	}
}

func insertSelect(n int32) {
	db, err := guest.OpenDB("data/bench.db")
	check(err)
	defer db.Close()
	check(db.Exec("DROP TABLE IF EXISTS kv; CREATE TABLE kv (k INTEGER PRIMARY KEY, v TEXT)"))
	check(db.Exec("BEGIN"))
	ins, err := db.Prepare("INSERT INTO kv (k, v) VALUES (?, ?)")
	check(err)
	for i := range n {
		check(ins.Exec(int64(i), "value"))
	}
	check(ins.Close())
	check(db.Exec("COMMIT"))
	rows, err := db.Query("SELECT k, v FROM kv")
	check(err)
	var seen int32
	for rows.Next() {
		var k int64
		var v string
		check(rows.Scan(&k, &v))
		seen++
	}
	check(rows.Err())
	check(rows.Close())
	if seen != n {
		panic(fmt.Sprintf("read %d rows, want %d", seen, n))
	}
}

func check(err error) {
	if err != nil {
		panic(err)
	}
}

// nop does nothing: a process of it costs what a Go guest's start costs.
//
//go:wasmexport nop
func nop() {}
