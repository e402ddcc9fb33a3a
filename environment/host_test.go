package environment

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
)

// grants is a HostConfig that grants a set of permissions: a child may
// keep any of its parent's and no others.
type grants []string

func (g grants) Permits(perm string) bool { return slices.Contains(g, perm) }

func (g grants) Narrow(child HostConfig) (HostConfig, error) {
	c, ok := child.(grants)
	if !ok {
		return nil, fmt.Errorf("%w: %T is not a grants", ErrInvalid, child)
	}
	for _, perm := range c {
		if !g.Permits(perm) {
			return nil, fmt.Errorf("%w: %q is not granted to the parent", ErrWiden, perm)
		}
	}
	return c, nil
}

func TestHostConfigNarrows(t *testing.T) {
	root, err := Root(Config{Host: map[string]HostConfig{"kv": grants{"read", "write"}, "gone": nil}})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := root.Host["gone"]; ok {
		t.Fatal("a nil entry in a root must mean none")
	}

	inherit, err := root.Narrow(Config{})
	if err != nil || !inherit.Host["kv"].Permits("write") {
		t.Fatalf("a child without Host must inherit the parent's: %v %v", inherit.Host, err)
	}

	narrow, err := root.Narrow(Config{Host: map[string]HostConfig{"kv": grants{"read"}}})
	if err != nil {
		t.Fatal(err)
	}
	if !narrow.Host["kv"].Permits("read") || narrow.Host["kv"].Permits("write") {
		t.Fatalf("narrowed: %v", narrow.Host)
	}
	if !root.Host["kv"].Permits("write") {
		t.Fatal("narrowing a child changed its parent")
	}

	// A grandchild cannot take back what its parent gave up, and every
	// problem is listed at once with the other fields'.
	_, err = narrow.Narrow(Config{MaxProcesses: 1 << 30, Host: map[string]HostConfig{"kv": grants{"write"}, "net": grants{}}})
	if !errors.Is(err, ErrWiden) {
		t.Fatalf("widening: %v", err)
	}
	for _, want := range []string{`Host["kv"]: "write" is not granted`, `Host["net"] is set but the parent has no configuration`, "MaxProcesses"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not say %q", err, want)
		}
	}
	if strings.Count(err.Error(), "ward: ") != 1 {
		t.Errorf("error %q must say ward: once", err)
	}

	_, err = root.Narrow(Config{Host: map[string]HostConfig{"kv": wrongType{}}})
	if !errors.Is(err, ErrInvalid) || errors.Is(err, ErrWiden) {
		t.Fatalf("another module's configuration: %v", err)
	}
}

type wrongType struct{}

func (wrongType) Permits(string) bool                     { return true }
func (wrongType) Narrow(c HostConfig) (HostConfig, error) { return c, nil }
