package sqlite_test

import (
	"context"
	"database/sql"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/wardrt/ward/environment"
	"github.com/wardrt/ward/hostapi/sqlite"
	"github.com/wardrt/ward/runtime"
)

// The embedder registers the module and preopens a directory for the root
// environment under the name "data"; a guest opens "data/app.db" and
// writes to it, and the file is an ordinary SQLite database.
func Example() {
	dir, err := os.MkdirTemp("", "ward-sqlite-example")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer os.RemoveAll(dir)

	ctx := context.Background()
	rt, err := runtime.New(
		runtime.WithHostModule(sqlite.Module()),
		runtime.WithRootEnvironment(environment.Config{Host: map[string]environment.HostConfig{
			sqlite.Namespace: sqlite.Config{Dirs: []sqlite.Dir{{Name: "data", Path: dir}}},
		}}),
	)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer rt.Close(ctx)
	guest, err := rt.LoadModule(ctx, "guest", []byte(`(module
	  (import "ward_sqlite" "open" (func $open (param i32 i32 i32) (result i32)))
	  (import "ward_sqlite" "exec" (func $exec (param i32 i32 i32) (result i32)))
	  (memory (export "memory") 1)
	  (data (i32.const 16) "data/app.db")
	  (data (i32.const 32) "CREATE TABLE greeting (text TEXT); INSERT INTO greeting VALUES ('hello from a guest')")
	  (func (export "run")
	    (if (call $open (i32.const 16) (i32.const 11) (i32.const 0)) (then unreachable))
	    (if (call $exec (i32.load (i32.const 0)) (i32.const 32) (i32.const 85)) (then unreachable))))`))
	if err != nil {
		fmt.Println(err)
		return
	}
	reason, err := rt.Environment().Run(ctx, guest, "run")
	fmt.Println(reason, err)

	db, err := sql.Open("sqlite", filepath.Join(dir, "app.db"))
	if err != nil {
		fmt.Println(err)
		return
	}
	defer db.Close()
	var text string
	err = db.QueryRow("SELECT text FROM greeting").Scan(&text)
	fmt.Println(text, err)
	// Output:
	// normal <nil>
	// hello from a guest <nil>
}

// The embedder bounds SQLite for the whole Go process (MaxHeapBytes) and
// each call of a guest (MaxCallSteps, in a child environment here): a
// guest's endless recursive query gets ErrLimit (status 1) instead of
// holding the host.
func ExampleModuleWith() {
	dir, err := os.MkdirTemp("", "ward-sqlite-example")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer os.RemoveAll(dir)

	ctx := context.Background()
	rt, err := runtime.New(
		runtime.WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil))), // the guest's exit code is expected
		runtime.WithHostModule(sqlite.ModuleWith(sqlite.Options{MaxHeapBytes: 256 << 20})),
		runtime.WithRootEnvironment(environment.Config{Host: map[string]environment.HostConfig{
			sqlite.Namespace: sqlite.Config{Dirs: []sqlite.Dir{{Name: "data", Path: dir}}},
		}}),
	)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer rt.Close(ctx)
	env, err := rt.Environment().NewChild(environment.Config{Host: map[string]environment.HostConfig{
		sqlite.Namespace: sqlite.Config{MaxCallSteps: 1_000_000},
	}})
	if err != nil {
		fmt.Println(err)
		return
	}
	q := "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x+1 FROM c) SELECT count(*) FROM c"
	guest, err := rt.LoadModule(ctx, "guest", []byte(`(module
	  (import "ward_sqlite" "open" (func $open (param i32 i32 i32) (result i32)))
	  (import "ward_sqlite" "exec" (func $exec (param i32 i32 i32) (result i32)))
	  (import "ward_process" "exit" (func $exit (param i32)))
	  (memory (export "memory") 1)
	  (data (i32.const 16) "data/app.db")
	  (data (i32.const 32) "`+q+`")
	  (func (export "run")
	    (if (call $open (i32.const 16) (i32.const 11) (i32.const 0)) (then unreachable))
	    (call $exit (call $exec (i32.load (i32.const 0)) (i32.const 32) (i32.const `+fmt.Sprint(len(q))+`)))))`))
	if err != nil {
		fmt.Println(err)
		return
	}
	reason, err := env.Run(ctx, guest, "run")
	fmt.Println(reason, err)
	// Output:
	// process 1 exited with code 1 <nil>
}
