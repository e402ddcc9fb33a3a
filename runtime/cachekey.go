package runtime

import (
	"crypto/rand"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// loadOrCreateKey reads the cache directory's key file, making it first
// if there is none. A new key is written to a temporary file and linked
// into place, which fails if the file exists, so two runtimes starting
// together agree on one key and neither reads a half-written file.
func loadOrCreateKey(dir string) ([]byte, error) {
	path := filepath.Join(dir, cacheKeyFile)
	for range 2 {
		b, err := os.ReadFile(path)
		if err == nil {
			if len(b) != cacheKeySize {
				return nil, fmt.Errorf("ward: cache key file %s is %d bytes, want %d; remove it to make a new key (the entries are then compiled again)", path, len(b), cacheKeySize)
			}
			return b, nil
		}
		if !errors.Is(err, fs.ErrNotExist) {
			return nil, err
		}
		key := make([]byte, cacheKeySize)
		rand.Read(key)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return nil, err
		}
		tmp, err := os.CreateTemp(dir, ".ward-key-*.tmp") // 0600, O_EXCL
		if err != nil {
			return nil, err
		}
		_, err = tmp.Write(key)
		if err == nil {
			err = tmp.Sync()
		}
		if cerr := tmp.Close(); err == nil {
			err = cerr
		}
		if err == nil {
			err = os.Link(tmp.Name(), path)
			if err != nil && !errors.Is(err, fs.ErrExist) {
				// A file system without hard links: create in place.
				// A runtime reading it half-written finds it short
				// and runs without the cache, once.
				err = writeExclusive(path, key)
			}
		}
		os.Remove(tmp.Name())
		if err == nil {
			return key, nil
		}
		if !errors.Is(err, fs.ErrExist) {
			return nil, err
		}
		// Another runtime made it first: read theirs.
	}
	return nil, fmt.Errorf("ward: cache key file %s keeps changing", path)
}

// writeExclusive creates path, which must not exist, holding b.
func writeExclusive(path string, b []byte) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	_, err = f.Write(b)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}
