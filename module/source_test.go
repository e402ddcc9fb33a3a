package module

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// hangGuard bounds waits that should end at once; it is not a speed check.
const hangGuard = 10 * time.Second

func open(t *testing.T, s Source, limit int64) ([]byte, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), hangGuard)
	defer cancel()
	return s.Open(ctx, limit)
}

func TestBytesSource(t *testing.T) {
	s := Bytes("tiny", tiny)
	if s.Name() != "tiny" {
		t.Fatalf("Name = %q", s.Name())
	}
	got, err := open(t, s, int64(len(tiny)))
	if err != nil || !bytes.Equal(got, tiny) {
		t.Fatalf("Open = %x, %v", got, err)
	}
	if _, err := open(t, s, int64(len(tiny)-1)); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("over the limit: %v, want ErrTooLarge", err)
	}
}

func TestFileSource(t *testing.T) {
	path := filepath.Join(t.TempDir(), "tiny.wasm")
	if err := os.WriteFile(path, tiny, 0o644); err != nil {
		t.Fatal(err)
	}
	s := File(path)
	if s.Name() != "tiny.wasm" {
		t.Fatalf("Name = %q", s.Name())
	}
	got, err := open(t, s, 1<<20)
	if err != nil || !bytes.Equal(got, tiny) {
		t.Fatalf("Open = %x, %v", got, err)
	}
	if _, err := open(t, s, 10); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("over the limit: %v, want ErrTooLarge", err)
	}
	if _, err := open(t, File(path+".missing"), 1<<20); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("missing file: %v", err)
	}
}

func TestReaderSource(t *testing.T) {
	s := Reader("r", bytes.NewReader(tiny))
	got, err := open(t, s, int64(len(tiny)))
	if err != nil || !bytes.Equal(got, tiny) {
		t.Fatalf("Open = %x, %v", got, err)
	}
	if _, err := open(t, s, 1<<20); err == nil || !strings.Contains(err.Error(), "once") {
		t.Fatalf("second Open: %v, want an error saying a Reader is read once", err)
	}
	if _, err := open(t, Reader("r", bytes.NewReader(tiny)), int64(len(tiny)-1)); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("over the limit: %v, want ErrTooLarge", err)
	}
	// An endless reader stops at the limit rather than filling memory.
	if _, err := open(t, Reader("zero", zeros{}), 1<<20); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("endless reader: %v, want ErrTooLarge", err)
	}
}

type zeros struct{}

func (zeros) Read(p []byte) (int, error) { clear(p); return len(p), nil }

func TestURLSource(t *testing.T) {
	_, priv := key(1)
	signed := mustSign(t, tiny, priv)
	mux := http.NewServeMux()
	mux.HandleFunc("/tiny.wasm", func(w http.ResponseWriter, r *http.Request) { w.Write(signed) })
	mux.HandleFunc("/missing.wasm", http.NotFound)
	srv := httptest.NewServer(mux)
	defer srv.Close()

	got, err := open(t, URL(srv.URL+"/tiny.wasm"), 1<<20)
	if err != nil || !bytes.Equal(got, signed) {
		t.Fatalf("Open = %x, %v", got, err)
	}
	_, err = open(t, URL(srv.URL+"/missing.wasm"), 1<<20)
	if err == nil || !strings.Contains(err.Error(), "404") {
		t.Fatalf("missing module: %v, want an error naming status 404", err)
	}
	for _, raw := range []string{"ftp://example.com/m.wasm", "file:///etc/passwd", "://nope"} {
		if _, err := open(t, URL(raw), 1<<20); err == nil || !strings.HasPrefix(err.Error(), "ward: ") {
			t.Fatalf("%s: %v, want a ward error", raw, err)
		}
	}
	if s := URL("https://user:secret@example.com/m.wasm?sig=secret2#x"); strings.Contains(s.Name(), "secret") || !strings.Contains(s.Name(), "example.com/m.wasm") {
		t.Fatalf("Name %q shows a secret, or not the module", s.Name())
	}
}

func TestURLSourceTLS(t *testing.T) {
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write(tiny) }))
	defer srv.Close()
	got, err := open(t, URL(srv.URL, Client(srv.Client())), 1<<20)
	if err != nil || !bytes.Equal(got, tiny) {
		t.Fatalf("Open = %x, %v", got, err)
	}
	// Without the test server's client, its certificate is not trusted.
	if _, err := open(t, URL(srv.URL), 1<<20); err == nil {
		t.Fatal("Open trusted the test server's self-signed certificate")
	}
}

func TestURLSourceTooLarge(t *testing.T) {
	const limit = 1 << 20
	release := make(chan struct{})
	handlerDone := make(chan struct{}, 2)
	mux := http.NewServeMux()
	// Streams without a Content-Length, well past the limit.
	mux.HandleFunc("/stream", func(w http.ResponseWriter, r *http.Request) {
		defer func() { handlerDone <- struct{}{} }()
		chunk := make([]byte, 64<<10)
		for i := 0; i < 4*limit/len(chunk); i++ {
			if _, err := w.Write(chunk); err != nil {
				return
			}
			w.(http.Flusher).Flush()
		}
	})
	// Announces a body over the limit, sends a little and holds: only a
	// client that refuses on the header returns before release.
	mux.HandleFunc("/announced", func(w http.ResponseWriter, r *http.Request) {
		defer func() { handlerDone <- struct{}{} }()
		w.Header().Set("Content-Length", strconv.Itoa(2*limit))
		w.Write(make([]byte, 100))
		w.(http.Flusher).Flush()
		select {
		case <-release:
		case <-r.Context().Done():
		}
	})
	srv := httptest.NewServer(mux)
	defer srv.Close()
	defer close(release)

	if _, err := open(t, URL(srv.URL+"/stream"), limit); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("streamed body over the limit: %v, want ErrTooLarge", err)
	}
	_, err := open(t, URL(srv.URL+"/announced"), limit)
	if !errors.Is(err, ErrTooLarge) || !strings.Contains(err.Error(), "Content-Length") {
		t.Fatalf("Content-Length over the limit: %v, want ErrTooLarge naming Content-Length", err)
	}
	for range 2 {
		select {
		case <-handlerDone:
		case <-time.After(hangGuard):
			t.Fatal("a handler still runs after the client gave up")
		}
	}
}

func TestURLSourceCancelled(t *testing.T) {
	handlerDone := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer close(handlerDone)
		w.Write(tiny[:4]) // headers and a few bytes, then nothing more
		w.(http.Flusher).Flush()
		select {
		case <-r.Context().Done():
		case <-time.After(hangGuard):
		}
	}))
	defer srv.Close()

	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	done := make(chan error, 1)
	go func() {
		_, err := URL(srv.URL).Open(ctx, 1<<20)
		done <- err
	}()
	select {
	case err := <-done:
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("Open: %v, want context.DeadlineExceeded", err)
		}
	case <-time.After(hangGuard):
		t.Fatal("Open did not return when its context ended")
	}
	select {
	case <-handlerDone:
	case <-time.After(hangGuard / 2):
		t.Fatal("the server's handler was not released when the client gave up")
	}

	// The source's own timeout cuts a request the same way.
	_, err := URL(srv.URL, Timeout(50*time.Millisecond)).Open(context.Background(), 1<<20)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Open with Timeout: %v, want context.DeadlineExceeded", err)
	}
}

func TestFetchDetached(t *testing.T) {
	pub, priv := key(1)
	sig, err := SignDetached(tiny, priv)
	if err != nil {
		t.Fatal(err)
	}
	files := map[string][]byte{"/m.wasm": tiny, "/m.wasm.sig": sig, "/big.sig": make([]byte, MaxSignatureSize+1)}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, ok := files[r.URL.Path]
		if !ok {
			http.NotFound(w, r)
			return
		}
		w.Write(b)
	}))
	defer srv.Close()
	ctx, cancel := context.WithTimeout(context.Background(), hangGuard)
	defer cancel()
	u := srv.URL + "/m.wasm"

	got, v, err := Fetch(ctx, Detached(URL(u), URL(u+".sig")), 1<<20, Ed25519(pub))
	if err != nil || !bytes.Equal(got, tiny) || v.ID != Fingerprint(pub) {
		t.Fatalf("Fetch = %x, %v, %v", got, v, err)
	}
	if _, _, err := Fetch(ctx, URL(u), 1<<20, Ed25519(pub)); !errors.Is(err, ErrNotSigned) {
		t.Fatalf("without the detached signature: %v, want ErrNotSigned", err)
	}
	if _, _, err := Fetch(ctx, Detached(URL(u), URL(srv.URL+"/none.sig")), 1<<20, Ed25519(pub)); err == nil || !strings.Contains(err.Error(), "404") {
		t.Fatalf("missing signature file: %v, want the 404", err)
	}
	if _, _, err := Fetch(ctx, Detached(URL(u), URL(srv.URL+"/big.sig")), 1<<20, Ed25519(pub)); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("oversized signature file: %v, want ErrTooLarge", err)
	}
	// Without a verifier, Fetch only reads.
	if got, v, err := Fetch(ctx, URL(u), 1<<20, nil); err != nil || !bytes.Equal(got, tiny) || v != (Verified{}) {
		t.Fatalf("Fetch without a verifier = %x, %v, %v", got, v, err)
	}
}

var _ io.Reader = zeros{}
