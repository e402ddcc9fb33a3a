package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// copyABI makes a module root in a temp dir holding only package abi's
// sources, which is all abigen reads besides abi.Funcs.
func copyABI(t *testing.T) string {
	t.Helper()
	root := t.TempDir()
	dst := filepath.Join(root, "internal", "abi")
	if err := os.MkdirAll(dst, 0o755); err != nil {
		t.Fatal(err)
	}
	src := filepath.Join("..", "..", "abi")
	entries, err := os.ReadDir(src)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if !strings.HasSuffix(e.Name(), ".go") || strings.HasSuffix(e.Name(), "_test.go") {
			continue
		}
		b, err := os.ReadFile(filepath.Join(src, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dst, e.Name()), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(root, "go.mod"), []byte("module example.com/x\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	return root
}

func TestCheckWriteCheck(t *testing.T) {
	root := copyABI(t)
	var out, errb bytes.Buffer

	if code := run([]string{"-check", "-root", root}, &out, &errb); code != 1 {
		t.Fatalf("-check on an empty root: exit %d, want 1; stderr %s", code, errb.String())
	}
	for _, p := range []string{"docs/abi.md", "guest/c/ward.h"} {
		if !strings.Contains(out.String(), p) {
			t.Errorf("-check output does not name %s:\n%s", p, out.String())
		}
		if _, err := os.Stat(filepath.Join(root, p)); err == nil {
			t.Errorf("-check wrote %s", p)
		}
	}

	out.Reset()
	if code := run([]string{"-root", root}, &out, &errb); code != 0 {
		t.Fatalf("generate: exit %d; stderr %s", code, errb.String())
	}
	if !strings.Contains(out.String(), "wrote docs/abi.md") || !strings.Contains(out.String(), "wrote guest/c/ward.h") {
		t.Errorf("generate output: %s", out.String())
	}
	first, err := os.ReadFile(filepath.Join(root, "guest", "c", "ward.h"))
	if err != nil {
		t.Fatal(err)
	}

	out.Reset()
	if code := run([]string{"-check", "-root", root}, &out, &errb); code != 0 || out.Len() != 0 {
		t.Fatalf("-check after generating: exit %d, output %q", code, out.String())
	}
	out.Reset()
	if code := run([]string{"-root", root}, &out, &errb); code != 0 || out.Len() != 0 {
		t.Fatalf("regenerating an unchanged table: exit %d, output %q (want no writes)", code, out.String())
	}

	// A hand edit is reported, and only that file.
	hdr := filepath.Join(root, "guest", "c", "ward.h")
	if err := os.WriteFile(hdr, append(first, "/* edited */\n"...), 0o644); err != nil {
		t.Fatal(err)
	}
	out.Reset()
	if code := run([]string{"-check", "-root", root}, &out, &errb); code != 1 {
		t.Fatalf("-check after an edit: exit %d, want 1", code)
	}
	if !strings.Contains(out.String(), "guest/c/ward.h") || strings.Contains(out.String(), "docs/abi.md") {
		t.Errorf("-check after editing the header: %q", out.String())
	}
}

func TestUnknownConstantFails(t *testing.T) {
	root := copyABI(t)
	extra := "package abi\n\n// Frobnicate is not a kind of constant abigen knows.\nconst Frobnicate = 3\n"
	if err := os.WriteFile(filepath.Join(root, "internal", "abi", "extra.go"), []byte(extra), 0o644); err != nil {
		t.Fatal(err)
	}
	var out, errb bytes.Buffer
	if code := run([]string{"-root", root}, &out, &errb); code != 1 {
		t.Fatalf("exit %d, want 1", code)
	}
	if !strings.Contains(errb.String(), "Frobnicate") {
		t.Errorf("error does not name the constant: %s", errb.String())
	}
}

func TestBadUsage(t *testing.T) {
	var out, errb bytes.Buffer
	if code := run([]string{"stray"}, &out, &errb); code != 2 {
		t.Errorf("stray argument: exit %d, want 2", code)
	}
	if code := run([]string{"-nope"}, &out, &errb); code != 2 {
		t.Errorf("unknown flag: exit %d, want 2", code)
	}
}
