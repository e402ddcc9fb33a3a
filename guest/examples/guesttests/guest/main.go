//go:build wasip1

// Command guest is a Go guest whose test exports guesttests_test.go runs
// with guesttest: the guest-side half of testing a guest the Go way.
package main

import (
	"fmt"
	"strings"
)

// title is the guest code under test.
func title(s string) string {
	words := strings.Fields(s)
	for i, w := range words {
		words[i] = strings.ToUpper(w[:1]) + w[1:]
	}
	return strings.Join(words, " ")
}

// A test export fails by panicking: the Go runtime prints the panic to
// stderr and traps, and guesttest shows both.
//
//go:wasmexport test_title
func testTitle() {
	if got, want := title("hello  wasm world"), "Hello Wasm World"; got != want {
		panic(fmt.Sprintf("title = %q, want %q", got, want))
	}
}

// What a test prints is shown with go test -v, and always on failure.
//
//go:wasmexport test_output
func testOutput() {
	fmt.Println("title(ward) =", title("ward"))
}

// panics is not a test (no test_ prefix); the host test spawns it to check
// that a panic's message reaches the guest's stderr.
//
//go:wasmexport panics
func panics() {
	panic("the guest gave up")
}

func main() {}
