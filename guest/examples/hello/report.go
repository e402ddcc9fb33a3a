// Command hello is a complete Go guest for ward, and the host program that
// runs it.
//
// Built for wasip1 (main.go), it is a module whose processes find each
// other through the registry, talk by request and reply with CBOR-typed
// messages, watch one another end through a monitor and a link, and set
// timers. go generate builds it, with the standard toolchain, to the
// committed hello.wasm:
//
//	GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -trimpath -buildvcs=false -o hello.wasm .
//
// Built for the host (host.go), it loads hello.wasm into a ward runtime,
// spawns the module's "main" export with the id of a Go-native process and
// prints the Report that process receives:
//
//	go run ./guest/examples/hello
package main

// main.go is the guest; build it (go generate runs on the host, and skips
// files built only for wasip1, hence this line here).
//go:generate go run ../../internal/wasmbuild -o hello.wasm .

import "github.com/wardrt/ward/guest"

// Report is what the guest's main export sends the host, CBOR-encoded: one
// field per thing it did. Guest and host share this declaration.
type Report struct {
	Self        guest.ProcessID // main's own id
	Greeter     guest.ProcessID // from GetOrSpawn("greeter", "1.0.0", "greeter")
	LookedUp    guest.ProcessID // from Lookup("greeter", "^1"): the same process
	Greeting    string          // the greeter's reply to "ward"
	GreeterDown string          // how the monitored greeter ended
	CrashExit   string          // how the linked crasher ended, from its TagExit message
	CrashText   string          // the runtime's text for that reason
	Ticks       int             // SendAfter messages that arrived (one of two; the other was cancelled)
	Cancelled   bool            // whether CancelTimer stopped the second timer
}

// Tags of this program's own messages.
const (
	tagTick   = 1
	tagReport = 2
)
