package abi_test

import (
	"strings"
	"testing"

	"github.com/wardrt/ward/internal/abi"
	"github.com/wardrt/ward/internal/tools/abigen/gen"
)

// root is the module root, seen from this package's directory (go test
// runs tests there).
const root = "../.."

// TestGeneratedFilesAreCurrent fails when docs/abi.md or guest/c/ward.h
// differ from what the table generates: someone changed abi.go without
// regenerating, or edited a generated file by hand.
func TestGeneratedFilesAreCurrent(t *testing.T) {
	files, err := gen.Generate(root, abi.Funcs)
	if err != nil {
		t.Fatal(err)
	}
	stale, err := gen.Stale(root, files)
	if err != nil {
		t.Fatal(err)
	}
	if len(stale) > 0 {
		t.Fatalf("%s out of date with internal/abi: run `%s` and commit the result",
			strings.Join(stale, " and "), gen.RegenerateCmd)
	}
}
