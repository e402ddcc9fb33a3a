// Command plugin is the Go guest of examples/goplugin: a plugin with one
// call, "upper", which answers its input upper-cased. Build it with
//
//	GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -o upper.wasm ./examples/goplugin/plugin
package main

import (
	"bytes"
	"errors"

	"github.com/wardrt/ward/guest"
)

// upper serves one call: the input is its first message, the reply its
// answer (guest.ServeJob does both). An empty input fails the call, to show
// what a plugin's error looks like to the host.
//
//go:wasmexport upper
func upper() {
	guest.ServeJob(func(in []byte) ([]byte, error) {
		if len(in) == 0 {
			return nil, errors.New("nothing to upper-case")
		}
		return bytes.ToUpper(in), nil
	})
}

// main is empty: a c-shared build is a reactor, whose exports the host
// calls after the Go runtime has started.
func main() {}
