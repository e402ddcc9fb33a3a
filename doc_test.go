package ward_test

import (
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/wardrt/ward/internal/abi"
)

// TestDocIsCurrent checks that the package documentation names every
// public package of the module and every namespace guests can import, so
// a package or namespace added later cannot go unmentioned.
func TestDocIsCurrent(t *testing.T) {
	doc, err := os.ReadFile("doc.go")
	if err != nil {
		t.Fatal(err)
	}
	text := string(doc)
	err = filepath.WalkDir(".", func(path string, d fs.DirEntry, err error) error {
		if err != nil || !d.IsDir() {
			return err
		}
		switch {
		case path == ".":
			return nil
		case strings.HasPrefix(d.Name(), ".") || d.Name() == "testdata" || d.Name() == "internal" ||
			d.Name() == "examples" || path == "bench" || path == "docs":
			return filepath.SkipDir
		}
		if goFiles, _ := filepath.Glob(filepath.Join(path, "*.go")); len(goFiles) == 0 {
			return nil
		}
		if pkg := "github.com/wardrt/ward/" + filepath.ToSlash(path); !strings.Contains(text, "["+pkg+"]") {
			t.Errorf("doc.go does not list package %s", pkg)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, f := range abi.Funcs {
		if !seen[f.Namespace] && !strings.Contains(text, f.Namespace) {
			t.Errorf("doc.go does not mention the guest namespace %s", f.Namespace)
		}
		seen[f.Namespace] = true
	}
}

// TestRepositoryStandsAlone checks that no file refers to the team's desk
// beside the repository or to this machine's paths: a user has only the
// repository.
func TestRepositoryStandsAlone(t *testing.T) {
	outside := []string{".." + "/shared", "/" + "work/"}
	err := filepath.WalkDir(".", func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.Name() == ".git" { // a directory, or in a worktree a file naming one
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		if d.IsDir() {
			return nil
		}
		if info, err := d.Info(); err != nil || info.Size() > 1<<20 {
			return err // big files are builds, not prose
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		for _, s := range outside {
			if i := strings.Index(string(b), s); i >= 0 {
				line := strings.Count(string(b[:i]), "\n") + 1
				t.Errorf("%s:%d refers to %q, outside the repository", path, line, s)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
