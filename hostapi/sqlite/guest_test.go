package sqlite_test

import (
	"context"
	"database/sql"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/wardrt/ward/runtime"
)

// buildGuest builds testdata/guest, a Go guest on the guest SDK, for
// wasip1 into a temporary directory: building at test time keeps a 3 MB
// build out of the repository.
func buildGuest(tb testing.TB) []byte {
	tb.Helper()
	if testing.Short() {
		tb.Skip("builds a Go guest; skipped in -short")
	}
	goCmd, err := exec.LookPath("go")
	if err != nil {
		tb.Skip("no go command on PATH to build the guest with")
	}
	out := filepath.Join(tb.TempDir(), "guest.wasm")
	cmd := exec.Command(goCmd, "build", "-buildmode=c-shared", "-trimpath", "-o", out, ".")
	cmd.Dir = filepath.Join("testdata", "guest")
	cmd.Env = append(os.Environ(), "GOOS=wasip1", "GOARCH=wasm", "CGO_ENABLED=0")
	if msg, err := cmd.CombinedOutput(); err != nil {
		tb.Fatalf("building the guest: %v\n%s", err, msg)
	}
	bin, err := os.ReadFile(out)
	if err != nil {
		tb.Fatal(err)
	}
	return bin
}

// The Go SDK end to end: a Go guest opens, writes, reads back every type,
// and gets refusals as the SDK's errors.
func TestGoGuestSDK(t *testing.T) {
	bin := buildGuest(t)
	rt := newRuntime(t, t.TempDir())
	m, err := rt.LoadModule(testCtx(t), "guest", bin)
	if err != nil {
		t.Fatal(err)
	}
	reason, err := rt.Environment().Run(testCtx(t), m, "sdk")
	if err != nil || reason != runtime.Normal {
		t.Fatalf("the guest ended %v (%v)", reason, err)
	}
}

const benchRows = 1000

// BenchmarkInsertSelect compares a Go guest inserting benchRows rows in a
// transaction with a prepared statement and reading them back (the
// guest's "bench" export, one process doing b.N rounds) with the same calls made
// from Go through database/sql and the same driver.
//
//	go test -run XXX -bench InsertSelect ./hostapi/sqlite
func BenchmarkInsertSelect(b *testing.B) {
	b.Run("ward", func(b *testing.B) {
		bin := buildGuest(b)
		rt := newRuntime(b, b.TempDir())
		ctx := context.Background()
		m, err := rt.LoadModule(ctx, "guest", bin)
		if err != nil {
			b.Fatal(err)
		}
		b.ResetTimer()
		// One process for all b.N rounds: a Go guest's start (about
		// 10 ms) is not what this measures.
		if reason, err := rt.Environment().Run(ctx, m, "bench", runtime.I32(int32(b.N)), runtime.I32(benchRows)); err != nil || reason != runtime.Normal {
			b.Fatalf("%v %v", reason, err)
		}
	})
	b.Run("go", func(b *testing.B) {
		path := filepath.Join(b.TempDir(), "bench.db")
		for range b.N {
			if err := goInsertSelect(path, benchRows); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// goInsertSelect is the guest's bench export, from Go.
func goInsertSelect(path string, n int) error {
	db, err := sql.Open("sqlite", path)
	if err != nil {
		return err
	}
	defer db.Close()
	c, err := db.Conn(context.Background())
	if err != nil {
		return err
	}
	defer c.Close()
	ctx := context.Background()
	if _, err := c.ExecContext(ctx, "DROP TABLE IF EXISTS kv; CREATE TABLE kv (k INTEGER PRIMARY KEY, v TEXT)"); err != nil {
		return err
	}
	if _, err := c.ExecContext(ctx, "BEGIN"); err != nil {
		return err
	}
	ins, err := c.PrepareContext(ctx, "INSERT INTO kv (k, v) VALUES (?, ?)")
	if err != nil {
		return err
	}
	for i := range n {
		if _, err := ins.Exec(int64(i), "value"); err != nil {
			return err
		}
	}
	ins.Close()
	if _, err := c.ExecContext(ctx, "COMMIT"); err != nil {
		return err
	}
	rows, err := c.QueryContext(ctx, "SELECT k, v FROM kv")
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var k int64
		var v string
		if err := rows.Scan(&k, &v); err != nil {
			return err
		}
	}
	return rows.Err()
}
