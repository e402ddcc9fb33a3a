package environment

import (
	"errors"
	"reflect"
	"slices"
	"testing"
)

func TestAllows(t *testing.T) {
	tests := []struct {
		namespaces []string
		namespace  string
		want       bool
	}{
		{DefaultNamespaces, "ward_process", true},
		{DefaultNamespaces, "ward_", true}, // the prefix itself matches
		{DefaultNamespaces, "wasi_snapshot_preview1", true},
		{DefaultNamespaces, "ward", false},
		{DefaultNamespaces, "wasi_snapshot_preview2", false},
		{DefaultNamespaces, "env", false},
		{DefaultNamespaces, "", false},
		{[]string{"ward_process"}, "ward_process", true},
		{[]string{"ward_process"}, "ward_processes", false}, // exact names are not prefixes
		{[]string{"ward_process"}, "ward_proces", false},
		{[]string{"*"}, "anything", true},
		{[]string{"*"}, "", true},
		{[]string{}, "ward_process", false},
		{nil, "ward_process", false}, // not effective: fail closed
	}
	for _, tt := range tests {
		c := Config{Namespaces: tt.namespaces}
		if got := c.Allows(tt.namespace); got != tt.want {
			t.Errorf("Namespaces %q: Allows(%q) = %v, want %v", tt.namespaces, tt.namespace, got, tt.want)
		}
	}
}

// covered decides whether a child's namespaces stay within the parent's;
// Narrow's tests cover it through errors, this covers its edges directly.
func TestCovered(t *testing.T) {
	tests := []struct {
		parent []string
		entry  string
		want   bool
	}{
		{[]string{"ward_*"}, "ward_process", true},
		{[]string{"ward_*"}, "ward_*", true},
		{[]string{"ward_*"}, "ward_p*", true},
		{[]string{"ward_p*"}, "ward_*", false},
		{[]string{"*"}, "*", true},
		{[]string{"ward_*"}, "*", false},
		{[]string{"ward_process"}, "ward_process*", false},
		{[]string{"ward_process", "ward_message"}, "ward_*", false},
		{[]string{"ward_process"}, "ward_process", true},
		{[]string{}, "ward_process", false},
	}
	for _, tt := range tests {
		if got := covered(tt.parent, tt.entry); got != tt.want {
			t.Errorf("covered(%q, %q) = %v, want %v", tt.parent, tt.entry, got, tt.want)
		}
	}
}

func TestCheckImports(t *testing.T) {
	root, err := Root(Config{})
	if err != nil {
		t.Fatalf("Root: %v", err)
	}
	allowed := []Import{
		{"ward_process", "spawn"},
		{"ward_message", "send"},
		{"wasi_snapshot_preview1", "fd_write"},
	}
	if err := root.CheckImports(allowed); err != nil {
		t.Errorf("CheckImports(allowed imports) = %v, want nil", err)
	}
	if err := root.CheckImports(nil); err != nil {
		t.Errorf("CheckImports(nil) = %v, want nil", err)
	}

	// ward_net would be allowed: "ward_*" covers every ward namespace.
	imports := slices.Concat(allowed, []Import{{"ward_net", "connect"}, {"env", "abort"}, {"wasi_snapshot_preview2", "x"}})
	err = root.CheckImports(imports)
	const want = `ward: import "env"."abort" is not allowed in this environment (allowed namespaces: ward_*, wasi_snapshot_preview1)`
	if err == nil || err.Error() != want {
		t.Fatalf("CheckImports error = %v\nwant %s", err, want)
	}
	if !errors.Is(err, ErrNamespaceDenied) {
		t.Error("errors.Is(err, ErrNamespaceDenied) = false")
	}
	if errors.Is(err, ErrInvalid) || errors.Is(err, ErrWiden) {
		t.Error("a denied import also matches ErrInvalid or ErrWiden")
	}
	var denied *DeniedError
	if !errors.As(err, &denied) {
		t.Fatalf("errors.As(err, *DeniedError) = false for %T", err)
	}
	if denied.Import != (Import{"env", "abort"}) {
		t.Errorf("DeniedError.Import = %v, want the first disallowed import", denied.Import)
	}
	if !reflect.DeepEqual(denied.Allowed, root.Namespaces) {
		t.Errorf("DeniedError.Allowed = %q, want %q", denied.Allowed, root.Namespaces)
	}
	denied.Allowed[0] = "changed"
	if root.Namespaces[0] != "ward_*" {
		t.Error("changing DeniedError.Allowed changed the environment")
	}
}

func TestCheckImportsNarrowed(t *testing.T) {
	root, err := Root(Config{})
	if err != nil {
		t.Fatalf("Root: %v", err)
	}
	c, err := root.Narrow(Config{Namespaces: []string{"ward_process", "ward_message"}})
	if err != nil {
		t.Fatalf("Narrow: %v", err)
	}
	err = c.CheckImports([]Import{{"ward_process", "spawn"}, {"ward_net", "connect"}})
	const want = `ward: import "ward_net"."connect" is not allowed in this environment (allowed namespaces: ward_process, ward_message)`
	if err == nil || err.Error() != want {
		t.Errorf("CheckImports error = %v\nwant %s", err, want)
	}
}

func TestCheckImportsNoneAllowed(t *testing.T) {
	c, err := Root(Config{Namespaces: []string{}})
	if err != nil {
		t.Fatalf("Root: %v", err)
	}
	err = c.CheckImports([]Import{{"wasi_snapshot_preview1", "fd_write"}})
	const want = `ward: import "wasi_snapshot_preview1"."fd_write" is not allowed in this environment (allowed namespaces: none)`
	if err == nil || err.Error() != want {
		t.Errorf("CheckImports error = %v\nwant %s", err, want)
	}
}

// Wasm names may hold anything; the message must still be one unambiguous
// line.
func TestImportStringQuotes(t *testing.T) {
	got := Import{Module: "a\"b", Name: "new\nline"}.String()
	if want := `"a\"b"."new\nline"`; got != want {
		t.Errorf("String() = %s, want %s", got, want)
	}
}
