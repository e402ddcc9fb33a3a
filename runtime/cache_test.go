package runtime

import (
	"bytes"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/wardrt/ward/testdata"
)

// authenticates reports whether m's cache entry in r's cache directory
// passes r's key.
func authenticates(t *testing.T, r *Runtime, m *Module) bool {
	t.Helper()
	b, err := os.ReadFile(r.cache.path(m.hash))
	if err != nil {
		t.Fatal(err)
	}
	head := len(cacheMagic) + 32
	if len(b) < head || string(b[:len(cacheMagic)]) != cacheMagic {
		return false
	}
	h := r.cache.mac(r.cache.macKey(), m.hash)
	h.Write(b[head:])
	return bytes.Equal(h.Sum(nil), b[len(cacheMagic):head])
}

// warnings returns the messages of h's records at Warn.
func warnings(h *recordingHandler) []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []string
	for _, r := range h.records {
		if r.Level == slog.LevelWarn {
			out = append(out, r.Message)
		}
	}
	return out
}

// A cache entry that does not authenticate is refused before the engine
// sees it, logged, compiled again and rewritten.
func TestCacheRefusesForgedEntries(t *testing.T) {
	dir := t.TempDir()
	first := newRuntime(t, WithCacheDir(dir))
	procs := load(t, first, "procs", testdata.Procs)
	trivial := load(t, first, "trivial", testdata.Trivial)
	path := first.cache.path(procs.hash)
	good, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	other, err := os.ReadFile(first.cache.path(trivial.hash))
	if err != nil {
		t.Fatal(err)
	}
	if !authenticates(t, first, procs) {
		t.Fatal("a fresh entry does not authenticate")
	}
	// One byte of machine code, far from wasmtime's own headers: the
	// engine would load it, so only the MAC can catch it.
	flipped := append([]byte(nil), good...)
	flipped[len(flipped)*2/3] ^= 0x01

	cases := map[string][]byte{
		"flipped byte":          flipped,
		"another module's":      other,
		"truncated":             good[:len(good)-100],
		"only the code, no MAC": good[len(cacheMagic)+32:],
	}
	for name, entry := range cases {
		t.Run(name, func(t *testing.T) {
			if err := os.WriteFile(path, entry, 0o644); err != nil {
				t.Fatal(err)
			}
			h := &recordingHandler{}
			r := newRuntime(t, WithCacheDir(dir), WithLogger(slog.New(h)))
			m := load(t, r, "procs", testdata.Procs)
			checkRuns(t, r, m)
			w := warnings(h)
			if len(w) != 1 || !strings.Contains(w[0], "does not authenticate") {
				t.Fatalf("warnings %q, want one about an entry that does not authenticate", w)
			}
			if !authenticates(t, r, m) {
				t.Fatal("the entry was not rewritten")
			}
		})
	}

	// With another key, every entry is foreign.
	h := &recordingHandler{}
	r := newRuntime(t, WithCacheDir(dir), WithCacheKey(bytes.Repeat([]byte{7}, 32)), WithLogger(slog.New(h)))
	load(t, r, "procs", testdata.Procs)
	if w := warnings(h); len(w) != 1 || !strings.Contains(w[0], "does not authenticate") {
		t.Fatalf("entry made with another key: warnings %q", w)
	}
}

func TestCacheKeyFile(t *testing.T) {
	dir := t.TempDir()
	h := &recordingHandler{}
	r := newRuntime(t, WithCacheDir(dir), WithLogger(slog.New(h)))
	m := load(t, r, "procs", testdata.Procs)
	fi, err := os.Stat(filepath.Join(dir, cacheKeyFile))
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 || fi.Size() != cacheKeySize {
		t.Fatalf("key file: mode %v, %d bytes; want 0600, %d", fi.Mode().Perm(), fi.Size(), cacheKeySize)
	}
	// Another runtime reads the same key: the entry is a hit, no warning.
	again := newRuntime(t, WithCacheDir(dir), WithLogger(slog.New(h)))
	load(t, again, "procs", testdata.Procs)
	if w := warnings(h); len(w) != 0 {
		t.Fatalf("warnings %q", w)
	}
	if !authenticates(t, again, m) {
		t.Fatal("the second runtime's key differs")
	}

	// A key of one's own keeps the key file out of the directory.
	own := t.TempDir()
	r2 := newRuntime(t, WithCacheDir(own), WithCacheKey(bytes.Repeat([]byte{1}, 32)))
	load(t, r2, "procs", testdata.Procs)
	if _, err := os.Stat(filepath.Join(own, cacheKeyFile)); !os.IsNotExist(err) {
		t.Fatalf("WithCacheKey, yet a key file: %v", err)
	}
	if _, err := New(WithCacheDir(own), WithCacheKey([]byte("short"))); err == nil {
		t.Fatal("New accepted a 5-byte cache key")
	}
}

// Without a key the cache is off, with one warning, and loads still work.
func TestCacheOffWithoutKey(t *testing.T) {
	notADir := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(notADir, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	h := &recordingHandler{}
	r := newRuntime(t, WithCacheDir(notADir), WithLogger(slog.New(h)))
	checkRuns(t, r, load(t, r, "procs", testdata.Procs))
	load(t, r, "trivial", testdata.Trivial)
	if w := warnings(h); len(w) != 1 || !strings.Contains(w[0], "compile cache off") {
		t.Fatalf("warnings %q, want one saying the cache is off", w)
	}
}

// A key file others can read is used, with a warning: they could forge.
func TestCacheKeyFileOpenToOthersIsReported(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, cacheKeyFile), bytes.Repeat([]byte{3}, cacheKeySize), 0o644); err != nil {
		t.Fatal(err)
	}
	h := &recordingHandler{}
	r := newRuntime(t, WithCacheDir(dir), WithLogger(slog.New(h)))
	m := load(t, r, "procs", testdata.Procs)
	if w := warnings(h); len(w) != 1 || !strings.Contains(w[0], "other users") {
		t.Fatalf("warnings %q, want one about the key file's mode", w)
	}
	if !authenticates(t, r, m) || !bytes.Equal(r.cache.macKey(), bytes.Repeat([]byte{3}, cacheKeySize)) {
		t.Fatal("the existing key was not used")
	}
	// A key file of the wrong size turns the cache off rather than
	// guessing.
	bad := t.TempDir()
	if err := os.WriteFile(filepath.Join(bad, cacheKeyFile), []byte("short"), 0o600); err != nil {
		t.Fatal(err)
	}
	h2 := &recordingHandler{}
	r2 := newRuntime(t, WithCacheDir(bad), WithLogger(slog.New(h2)))
	load(t, r2, "procs", testdata.Procs)
	if w := warnings(h2); len(w) != 1 || !strings.Contains(w[0], "compile cache off") {
		t.Fatalf("warnings %q, want the cache off", w)
	}
}

// Runtimes starting together on a new directory agree on one key.
func TestCacheKeyCreatedOnce(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "cache")
	keys := make([][]byte, 8)
	errs := make([]error, len(keys))
	var wg sync.WaitGroup
	for i := range keys {
		wg.Go(func() { keys[i], errs[i] = loadOrCreateKey(dir) })
	}
	wg.Wait()
	for i := range keys {
		if errs[i] != nil || !bytes.Equal(keys[i], keys[0]) || len(keys[i]) != cacheKeySize {
			t.Fatalf("key %d: %x, %v; key 0: %x", i, keys[i], errs[i], keys[0])
		}
	}
	left, _ := filepath.Glob(filepath.Join(dir, ".ward-key-*"))
	if len(left) != 0 {
		t.Fatalf("temporary key files left: %q", left)
	}
}

// An engine with other code settings keeps entries of its own: no
// warning, and the first engine's entry is left alone.
func TestCacheEntriesPerEngine(t *testing.T) {
	dir := t.TempDir()
	first := newRuntime(t, WithCacheDir(dir))
	m := load(t, first, "procs", testdata.Procs)
	h := &recordingHandler{}
	other := newRuntime(t, WithCacheDir(dir), WithLogger(slog.New(h)))
	other.cache.fingerprint += "; another setting"
	m2 := load(t, other, "procs", testdata.Procs)
	if w := warnings(h); len(w) != 0 {
		t.Fatalf("warnings %q", w)
	}
	if first.cache.path(m.hash) == other.cache.path(m2.hash) {
		t.Fatal("two engine fingerprints share a cache entry")
	}
	if !authenticates(t, first, m) || !authenticates(t, other, m2) {
		t.Fatal("an engine's entry was overwritten")
	}
}
