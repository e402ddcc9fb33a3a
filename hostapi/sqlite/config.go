package sqlite

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/wardrt/ward/environment"
	"github.com/wardrt/ward/internal/abi"
)

// Dir is a host directory preopened for guests: a guest opens
// "<Name>/<path>" to reach the database at <Path>/<path>.
type Dir struct {
	// Name is the first element of guest paths that reach this
	// directory: letters, digits, '.', '_' and '-'.
	Name string
	// Path is the host directory. Symbolic links in Path itself are the
	// embedder's and are followed; below it, none are.
	Path string
}

// Config is ward_sqlite's configuration in an environment
// (environment.Config.Host[Namespace]). The zero Config preopens nothing:
// processes may open no database. Zero bounds take the defaults (the
// Default* constants); a child environment's zero bounds inherit its
// parent's.
//
// A Config must not be changed once in an environment.
type Config struct {
	// Dirs are the preopened directories. In a child environment nil
	// inherits the parent's, and an empty non-nil slice preopens none;
	// each directory a child names must be one of the parent's or under
	// one.
	Dirs []Dir

	// MaxConns bounds the databases one process has open at once.
	MaxConns int
	// MaxStmts bounds the statements one process holds at once, over all
	// its databases.
	MaxStmts int
	// MaxRowBytes bounds the text and blob bytes of one row a step
	// returns: past it, step fails with ErrLimit.
	MaxRowBytes int
	// MaxValueBytes bounds one string or blob, and one SQL text, inside
	// SQLite (SQLITE_LIMIT_LENGTH and SQLITE_LIMIT_SQL_LENGTH).
	MaxValueBytes int
	// CacheKiB bounds each connection's page cache (PRAGMA cache_size),
	// and with it the memory a sort (ORDER BY, GROUP BY, CREATE INDEX)
	// holds before it spills to a temporary file.
	CacheKiB int
	// MaxCallSteps bounds the SQLite virtual machine instructions one
	// call (exec, prepare, one step) may run, counted a thousand at a
	// time: past it the call fails with ErrLimit. It keeps a query that
	// never ends (a recursive CTE without a limit) from holding the
	// host's CPU past a bound; killing the process, or its MaxWallTime,
	// ends such a call as well, whatever this bound.
	MaxCallSteps int
}

// Defaults of the Config bounds.
const (
	DefaultMaxConns      = 4
	DefaultMaxStmts      = 64
	DefaultMaxRowBytes   = 1 << 20
	DefaultMaxValueBytes = 1 << 20
	DefaultCacheKiB      = 2048
	DefaultMaxCallSteps  = 250_000_000
)

// MaxPathLen bounds a guest path.
const MaxPathLen = 1024

// bounds returns c's bounds with the defaults filled in.
func (c Config) bounds() Config {
	def := func(v *int, d int) {
		if *v <= 0 {
			*v = d
		}
	}
	def(&c.MaxConns, DefaultMaxConns)
	def(&c.MaxStmts, DefaultMaxStmts)
	def(&c.MaxRowBytes, DefaultMaxRowBytes)
	def(&c.MaxValueBytes, DefaultMaxValueBytes)
	def(&c.CacheKiB, DefaultCacheKiB)
	def(&c.MaxCallSteps, DefaultMaxCallSteps)
	return c
}

// Permits reports whether c grants permission: sqlite_open when it
// preopens a directory.
func (c Config) Permits(permission string) bool {
	return permission == string(abi.PermSQLiteOpen) && len(c.Dirs) > 0
}

// Narrow returns a child environment's configuration: child's
// directories, each of which must be one of c's or under one (symbolic
// links resolved), and child's bounds, none above c's.
func (c Config) Narrow(child environment.HostConfig) (environment.HostConfig, error) {
	ch, ok := child.(Config)
	if !ok {
		if p, isPtr := child.(*Config); isPtr && p != nil {
			ch = *p
		} else {
			return nil, fmt.Errorf("%w: %T is not a sqlite.Config", environment.ErrInvalid, child)
		}
	}
	pb := c.bounds()
	out := Config{Dirs: c.Dirs}
	for _, b := range []struct {
		name        string
		parent, got int
		dst         *int
	}{
		{"MaxConns", pb.MaxConns, ch.MaxConns, &out.MaxConns},
		{"MaxStmts", pb.MaxStmts, ch.MaxStmts, &out.MaxStmts},
		{"MaxRowBytes", pb.MaxRowBytes, ch.MaxRowBytes, &out.MaxRowBytes},
		{"MaxValueBytes", pb.MaxValueBytes, ch.MaxValueBytes, &out.MaxValueBytes},
		{"CacheKiB", pb.CacheKiB, ch.CacheKiB, &out.CacheKiB},
		{"MaxCallSteps", pb.MaxCallSteps, ch.MaxCallSteps, &out.MaxCallSteps},
	} {
		switch {
		case b.got < 0:
			return nil, fmt.Errorf("%w: %s %d is negative", environment.ErrInvalid, b.name, b.got)
		case b.got > b.parent:
			return nil, fmt.Errorf("%w: %s %d is more than the parent's %d", environment.ErrWiden, b.name, b.got, b.parent)
		case b.got == 0:
			*b.dst = b.parent
		default:
			*b.dst = b.got
		}
	}
	if ch.Dirs == nil {
		return out, nil
	}
	out.Dirs = make([]Dir, 0, len(ch.Dirs))
	names := map[string]bool{}
	for _, d := range ch.Dirs {
		if !validName(d.Name) || names[d.Name] {
			return nil, fmt.Errorf("%w: directory name %q is not a path element or is given twice", environment.ErrInvalid, d.Name)
		}
		names[d.Name] = true
		real, err := realDir(d.Path)
		if err != nil {
			return nil, fmt.Errorf("%w: directory %q: %v", environment.ErrInvalid, d.Path, err)
		}
		under := false
		for _, pd := range c.Dirs {
			if preal, err := realDir(pd.Path); err == nil && within(preal, real) {
				under = true
				break
			}
		}
		if !under {
			return nil, fmt.Errorf("%w: directory %q is not under one the parent preopens", environment.ErrWiden, d.Path)
		}
		// The resolved path: a symbolic link changed later cannot move the
		// child out of what was checked here.
		out.Dirs = append(out.Dirs, Dir{Name: d.Name, Path: real})
	}
	return out, nil
}

// realDir returns the absolute path of dir with its symbolic links
// resolved.
func realDir(dir string) (string, error) {
	real, err := filepath.EvalSymlinks(dir)
	if err != nil {
		return "", err
	}
	return filepath.Abs(real)
}

// within reports whether path is dir or below it; both are clean and
// absolute.
func within(dir, path string) bool {
	if dir == path {
		return true
	}
	if !strings.HasSuffix(dir, string(filepath.Separator)) {
		dir += string(filepath.Separator)
	}
	return strings.HasPrefix(path, dir)
}

// validName reports whether s is a path element a guest may use: no
// separators, no "." or "..", and only characters that mean nothing to
// SQLite's or the driver's name parsing ('?', '#', '%', ':' never
// appear, so no URI or query parameter can be smuggled in).
func validName(s string) bool {
	if s == "" || s == "." || s == ".." {
		return false
	}
	for i := 0; i < len(s); i++ {
		switch b := s[i]; {
		case 'a' <= b && b <= 'z', 'A' <= b && b <= 'Z', '0' <= b && b <= '9', b == '.', b == '_', b == '-':
		default:
			return false
		}
	}
	return true
}

// Errors of resolve, mapped to guest statuses by status.
var (
	errNoDir     = errors.New("ward: sqlite: no such preopened directory")
	errSymlink   = errors.New("ward: sqlite: symbolic link in the path")
	errBadPath   = errors.New("ward: sqlite: malformed path")
	errNotExists = errors.New("ward: sqlite: no such directory")
	errNotFile   = errors.New("ward: sqlite: not a regular file")
)

// Files SQLite keeps beside a database, which must not be symbolic links
// out of the directory either.
var sidecars = []string{"-journal", "-wal", "-shm"}

// resolve returns the host path of the database at guest path p, or an
// error if p is malformed or reaches outside c's directories: through
// "..", an absolute path, a URI, or a symbolic link anywhere below the
// preopened directory (the database itself, its journal files, the
// directories on the way). A link made between this check and SQLite's
// open is not caught: guests cannot make links (this module gives them no
// way), but another program on the host could.
func (c Config) resolve(p string) (string, error) {
	if len(p) == 0 || len(p) > MaxPathLen {
		return "", errBadPath
	}
	parts := strings.Split(p, "/")
	if len(parts) < 2 {
		return "", errBadPath
	}
	for _, e := range parts {
		if !validName(e) {
			return "", errBadPath
		}
	}
	var dir *Dir
	for i := range c.Dirs {
		if c.Dirs[i].Name == parts[0] {
			dir = &c.Dirs[i]
			break
		}
	}
	if dir == nil {
		return "", errNoDir
	}
	root, err := realDir(dir.Path)
	if err != nil {
		return "", errNoDir
	}
	cur := root
	for _, e := range parts[1 : len(parts)-1] {
		cur = filepath.Join(cur, e)
		fi, err := os.Lstat(cur)
		switch {
		case errors.Is(err, fs.ErrNotExist):
			return "", errNotExists
		case err != nil:
			return "", errBadPath
		case fi.Mode()&fs.ModeSymlink != 0:
			return "", errSymlink
		case !fi.IsDir():
			return "", errNotExists
		}
	}
	file := filepath.Join(cur, parts[len(parts)-1])
	if fi, err := os.Lstat(file); err == nil {
		if fi.Mode()&fs.ModeSymlink != 0 {
			return "", errSymlink
		}
		if !fi.Mode().IsRegular() {
			return "", errNotFile
		}
	} else if !errors.Is(err, fs.ErrNotExist) {
		return "", errBadPath
	}
	for _, s := range sidecars {
		if fi, err := os.Lstat(file + s); err == nil && !fi.Mode().IsRegular() {
			return "", errSymlink
		}
	}
	if !within(root, file) { // cannot happen with the checks above; kept as the invariant
		return "", errBadPath
	}
	return file, nil
}
