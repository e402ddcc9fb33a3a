package runtime

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"sync"

	"github.com/wardrt/ward/internal/wasm"
)

// The compile cache (WithCacheDir) keeps the machine code of compiled
// modules on disk. The engine runs that code as is, so an entry is code
// execution for whoever can write it: each is authenticated with an
// HMAC-SHA256 before the engine sees it (docs/why.md, "The compile
// cache").
//
// An entry is cacheMagic, then the MAC, then the serialized module. The
// MAC covers cacheMagic, the engine's Fingerprint (wasmtime's version and
// the settings the code depends on), the module's SHA-256, and the
// serialized bytes: an entry cannot pass for another module's, another
// engine's, or another format's.
const (
	cacheMagic   = "ward compile cache v1\x00"
	cacheKeyFile = "ward-cache.key"
	cacheKeySize = 32
	minCacheKey  = 16
)

type compileCache struct {
	dir         string
	engine      *wasm.Engine
	fingerprint string
	log         *slog.Logger

	keyOnce sync.Once
	key     []byte // nil once keyOnce has run: the cache is off
}

func newCompileCache(dir string, key []byte, eng *wasm.Engine, log *slog.Logger) (*compileCache, error) {
	if key != nil && len(key) < minCacheKey {
		return nil, fmt.Errorf("ward: WithCacheKey: the key is %d bytes; use at least %d random bytes (32 is best)", len(key), minCacheKey)
	}
	return &compileCache{dir: dir, engine: eng, fingerprint: eng.Fingerprint(), log: log, key: key}, nil
}

// path is where the entry of the module with that hash lives. The name
// has the engine's fingerprint in it too, so that engines of another
// wasmtime or other settings sharing the directory keep entries of their
// own rather than refuse and overwrite each other's.
func (c *compileCache) path(hash [32]byte) string {
	fp := sha256.Sum256([]byte(c.fingerprint))
	return filepath.Join(c.dir, "ward-"+hex.EncodeToString(fp[:6])+"-"+hex.EncodeToString(hash[:])+".cwasm")
}

// macKey returns the key, reading or making the key file on first use;
// nil, after one warning, if that fails: the cache is then off.
func (c *compileCache) macKey() []byte {
	c.keyOnce.Do(func() {
		if c.key != nil {
			return
		}
		key, err := loadOrCreateKey(c.dir)
		if err != nil {
			c.log.Warn("ward: compile cache off: no key to authenticate its entries", "dir", c.dir, "err", err)
			return
		}
		path := filepath.Join(c.dir, cacheKeyFile)
		if fi, err := os.Stat(path); err == nil && fi.Mode().Perm()&0o077 != 0 {
			c.log.Warn("ward: the compile cache key file is open to other users, who could forge cache entries; make it mode 0600", "path", path, "mode", fi.Mode().Perm())
		}
		c.key = key
	})
	return c.key
}

// mac returns the HMAC of an entry of the module with that hash, with
// all but the code written: the caller writes the code.
func (c *compileCache) mac(key []byte, hash [32]byte) hash.Hash {
	h := hmac.New(sha256.New, key)
	h.Write([]byte(cacheMagic))
	h.Write(binary.BigEndian.AppendUint32(nil, uint32(len(c.fingerprint))))
	h.Write([]byte(c.fingerprint))
	h.Write(hash[:])
	return h
}

// macBuffers hold the buffers entries are read through to be checked:
// reused, they take no page faults, which cost more than the reading.
var macBuffers = sync.Pool{New: func() any { b := make([]byte, 1<<20); return &b }}

// errNotAuthentic is an entry's MAC or header that is wrong.
var errNotAuthentic = errors.New("not authentic")

// load returns the cached compilation of the module with that hash, or
// nil: none, the cache off, or an entry that does not authenticate or
// that the engine refuses (both logged; the caller compiles and stores
// again, which replaces it).
func (c *compileCache) load(hash [32]byte) *wasm.Module {
	key := c.macKey()
	if key == nil {
		return nil
	}
	path := c.path(hash)
	f, err := os.Open(path)
	if err != nil {
		if !errors.Is(err, fs.ErrNotExist) {
			c.log.Warn("ward: cannot read compiled module cache entry", "path", path, "err", err)
		}
		return nil
	}
	defer f.Close()
	// The code is checked where the engine will read it from, a copy no
	// one can change (DeserializeChecked), never in the file, which a
	// writer of the directory could change between check and use.
	head := make([]byte, len(cacheMagic)+sha256.Size)
	_, err = io.ReadFull(f, head)
	if err == nil && !bytes.Equal(head[:len(cacheMagic)], []byte(cacheMagic)) {
		err = errNotAuthentic
	}
	var wm *wasm.Module
	if err == nil {
		wm, err = c.engine.DeserializeChecked(f, func(code io.Reader) error {
			h := c.mac(key, hash)
			buf := macBuffers.Get().(*[]byte)
			_, err := io.CopyBuffer(h, code, *buf)
			macBuffers.Put(buf)
			if err != nil {
				return err
			}
			if !hmac.Equal(h.Sum(nil), head[len(cacheMagic):]) {
				return errNotAuthentic
			}
			return nil
		})
	}
	switch {
	case errors.Is(err, errNotAuthentic), errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF):
		c.log.Warn("ward: refusing a compiled module cache entry that does not authenticate (damaged, or written by someone without the key); compiling again", "path", path)
		return nil
	case err != nil:
		c.log.Warn("ward: ignoring unusable compiled module in cache; compiling again", "path", path, "err", err)
		return nil
	}
	return wm
}

// store writes the entry of wm, logging (not returning) failures: the
// cache only saves time.
func (c *compileCache) store(hash [32]byte, wm *wasm.Module) {
	key := c.macKey()
	if key == nil {
		return
	}
	path := c.path(hash)
	code, err := wm.Serialize()
	if err == nil {
		entry := make([]byte, 0, len(cacheMagic)+sha256.Size+len(code))
		entry = append(entry, cacheMagic...)
		h := c.mac(key, hash)
		h.Write(code)
		entry = h.Sum(entry)
		entry = append(entry, code...)
		err = writeAtomic(path, entry)
	}
	if err != nil {
		c.log.Warn("ward: cannot write compiled module cache", "path", path, "err", err)
	}
}

// writeAtomic writes through a temporary file and a rename, so a crash or
// a concurrent writer never leaves a truncated file for the next start.
func writeAtomic(path string, b []byte) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".ward-*.tmp")
	if err != nil {
		return err
	}
	if _, err := tmp.Write(b); err != nil {
		tmp.Close()
		os.Remove(tmp.Name())
		return err
	}
	if err := tmp.Close(); err != nil {
		os.Remove(tmp.Name())
		return err
	}
	return os.Rename(tmp.Name(), path)
}
