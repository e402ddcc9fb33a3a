package sqlite

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// FuzzResolve checks the path check against any guest path: it either
// refuses the path or returns a file directly inside the tree of the
// preopened directory, never a symbolic link, and never "..".
func FuzzResolve(f *testing.F) {
	for _, s := range []string{
		"data/app.db", "data/sub/app.db", "data/../x", "/etc/passwd", "data/link.db",
		"data/linkdir/x.db", "file:data/x.db?mode=rwc", ":memory:", "data/./x", "data//x",
		"data/sub/../../x", "data/x.db\x00", "data/..", "data/...", "data/x?vfs=y", "data\\..\\x",
	} {
		f.Add(s)
	}
	base := f.TempDir()
	dir := filepath.Join(base, "data")
	outside := filepath.Join(base, "outside")
	for _, d := range []string{filepath.Join(dir, "sub"), outside} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			f.Fatal(err)
		}
	}
	if err := os.Symlink(filepath.Join(outside, "x.db"), filepath.Join(dir, "link.db")); err != nil {
		f.Fatal(err)
	}
	if err := os.Symlink(outside, filepath.Join(dir, "linkdir")); err != nil {
		f.Fatal(err)
	}
	cfg := Config{Dirs: []Dir{{Name: "data", Path: dir}}}
	f.Fuzz(func(t *testing.T, p string) {
		file, err := cfg.resolve(p)
		if err != nil {
			return
		}
		if !strings.HasPrefix(file, dir+string(filepath.Separator)) {
			t.Fatalf("%q resolved to %q, outside %q", p, file, dir)
		}
		real, err := filepath.EvalSymlinks(filepath.Dir(file))
		if err != nil || real != filepath.Dir(file) {
			t.Fatalf("%q resolved to %q, whose directory is really %q (%v)", p, file, real, err)
		}
		if fi, err := os.Lstat(file); err == nil && !fi.Mode().IsRegular() {
			t.Fatalf("%q resolved to %q, not a regular file: %v", p, file, fi.Mode())
		}
		if strings.ContainsAny(file, "?#:") || strings.Contains(file, "..") && !strings.Contains(filepath.Base(file), "..") {
			t.Fatalf("%q resolved to %q", p, file)
		}
	})
}

// FuzzSQLStaysInside runs any SQL on a guest's connection and checks that
// no file appears outside the preopened directory, and none in it but the
// database and its journals: whatever the SQL, it reached no other file.
func FuzzSQLStaysInside(f *testing.F) {
	for _, s := range []string{
		"ATTACH 'OUT/o.db' AS o", "VACUUM INTO 'OUT/v.db'", "/**/VACUUM INTO 'OUT/v.db'",
		"SELECT 1;VACUUM INTO 'OUT/v.db'", "PRAGMA temp_store_directory='OUT'",
		"SELECT load_extension('OUT/x')", "CREATE TABLE t(x); INSERT INTO t VALUES (1)",
		"ATTACH 'file:OUT/o.db?mode=rwc' AS o", "PRAGMA journal_mode=WAL; CREATE TABLE w(x)",
		"CREATE VIRTUAL TABLE f USING fts5(x)", "\"VACUUM\"; VACUUM INTO 'OUT/v.db'",
		"SELECT * FROM pragma_database_list", "CREATE TEMP TABLE t(x)", "BEGIN; VACUUM INTO 'OUT/v.db'",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, q string) {
		base := t.TempDir()
		dir := filepath.Join(base, "data")
		out := filepath.Join(base, "out")
		for _, d := range []string{dir, out} {
			if err := os.Mkdir(d, 0o755); err != nil {
				t.Fatal(err)
			}
		}
		q = strings.ReplaceAll(q, "OUT", out)
		ctx := context.Background()
		cn, status := openConn(ctx, filepath.Join(dir, "app.db"), Config{}.bounds())
		if status != 0 {
			t.Fatalf("open: status %d", status)
		}
		cn.exec(ctx, q)
		cn.close()
		if ents, _ := os.ReadDir(out); len(ents) != 0 {
			t.Fatalf("%q made %s in another directory", q, ents[0].Name())
		}
		ents, _ := os.ReadDir(dir)
		for _, e := range ents {
			switch e.Name() {
			case "app.db", "app.db-journal", "app.db-wal", "app.db-shm":
			default:
				t.Fatalf("%q made %s", q, e.Name())
			}
		}
		ents, _ = os.ReadDir(base)
		if len(ents) != 2 {
			t.Fatalf("%q made files beside the directories: %v", q, ents)
		}
	})
}
