package errs

import (
	"errors"
	"testing"
)

func TestWrapSaysWardOnce(t *testing.T) {
	base := errors.New("ward: environment closed")
	err := Wrap(Wrap(base, "spawning %s", "serve"), "call")
	if got, want := err.Error(), "ward: call: spawning serve: environment closed"; got != want {
		t.Fatalf("%q, want %q", got, want)
	}
	if !errors.Is(err, base) {
		t.Fatal("the wrapped error does not unwrap to its cause")
	}
	if got := Wrap(errors.New("EOF"), "read").Error(); got != "ward: read: EOF" {
		t.Fatalf("an error without the prefix: %q", got)
	}
}

func TestErrorfSaysWardOnce(t *testing.T) {
	closed := errors.New("ward: runtime closed")
	missing := errors.New("ward: name not found")
	err := Errorf("ward: lookup %s: %w (%w)", "svc", closed, missing)
	if got, want := err.Error(), "ward: lookup svc: runtime closed (name not found)"; got != want {
		t.Fatalf("%q, want %q", got, want)
	}
	if !errors.Is(err, closed) || !errors.Is(err, missing) {
		t.Fatal("the error does not match both causes")
	}
}
