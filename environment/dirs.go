package environment

import (
	"fmt"
	"path"
	"path/filepath"
	"strings"
)

// normalizeDirs returns a copy of dirs with every HostPath absolute and
// clean and every GuestPath filled in and clean. It does this before any
// check so that "/data/../etc" is judged as "/etc", and a relative path by
// where it points now rather than wherever the runtime's working directory
// is at spawn time. An empty HostPath is left for validate to report.
func normalizeDirs(dirs []Dir) ([]Dir, error) {
	if dirs == nil {
		return nil, nil
	}
	out := make([]Dir, len(dirs))
	for i, d := range dirs {
		if d.HostPath != "" {
			if d.GuestPath == "" {
				d.GuestPath = filepath.ToSlash(filepath.Clean(d.HostPath))
			}
			abs, err := filepath.Abs(d.HostPath)
			if err != nil {
				return nil, fmt.Errorf("%w: WASI.Dirs[%d]: HostPath %q: %v", ErrInvalid, i, d.HostPath, err)
			}
			d.HostPath = abs
		}
		if d.GuestPath != "" {
			// Guests see WASI paths, which use forward slashes on every host.
			d.GuestPath = path.Clean(d.GuestPath)
		}
		out[i] = d
	}
	return out, nil
}

// validateDirs records what is wrong with already normalized dirs.
func validateDirs(p *problems, who string, dirs []Dir) {
	guests := make(map[string]int, len(dirs))
	for i, d := range dirs {
		switch {
		case d.HostPath == "":
			p.add(ErrInvalid, "%sWASI.Dirs[%d]: HostPath is empty", who, i)
		case strings.ContainsRune(d.HostPath, 0):
			p.add(ErrInvalid, "%sWASI.Dirs[%d]: HostPath %q contains NUL", who, i, d.HostPath)
		case !filepath.IsAbs(d.HostPath) || filepath.Clean(d.HostPath) != d.HostPath:
			p.add(ErrInvalid, "%sWASI.Dirs[%d]: HostPath %q is not absolute and clean%s", who, i, d.HostPath, notEffective)
		}
		switch j, dup := guests[d.GuestPath]; {
		case d.GuestPath == "":
			// Normalizing fills it in from HostPath, so it can only be
			// empty along with HostPath (already reported) or in a
			// hand-built parent.
			if d.HostPath != "" {
				p.add(ErrInvalid, "%sWASI.Dirs[%d]: GuestPath is empty%s", who, i, notEffective)
			}
		case strings.ContainsRune(d.GuestPath, 0):
			p.add(ErrInvalid, "%sWASI.Dirs[%d]: GuestPath %q contains NUL", who, i, d.GuestPath)
		case dup:
			p.add(ErrInvalid, "%sWASI.Dirs[%d]: GuestPath %q is also that of WASI.Dirs[%d]; a guest could reach only one of them", who, i, d.GuestPath, j)
		default:
			guests[d.GuestPath] = i
		}
	}
}

// within reports whether dir is parent or lies inside it. Both are absolute
// and clean. Comparing whole path elements is what keeps "/database" from
// counting as inside "/data". It is lexical: a symbolic link inside parent
// that points elsewhere is not detected here.
func within(dir, parent string) bool {
	if dir == parent {
		return true
	}
	prefix := parent
	if !strings.HasSuffix(prefix, string(filepath.Separator)) {
		prefix += string(filepath.Separator)
	}
	return strings.HasPrefix(dir, prefix)
}

// hostPaths lists the HostPaths of dirs, for error messages.
func hostPaths(dirs []Dir) []string {
	paths := make([]string, len(dirs))
	for i, d := range dirs {
		paths[i] = d.HostPath
	}
	return paths
}
