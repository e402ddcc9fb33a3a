// Package guest is the Go SDK for ward guests: Go programs, built with the
// standard toolchain, that run as ward processes. It binds every host
// function of ward's guest ABI (the namespaces ward_process, ward_message,
// ward_registry, ward_module and ward_environment): this process, spawning,
// messages with tags and timeouts, request and reply, links, monitors, the
// registry, timers, typed messages in CBOR, modules compiled from bytes
// (LoadModule) and narrower environments (NewEnvironment).
//
// # Building a guest
//
// A guest is a WASI reactor: a package main whose entry points are
// //go:wasmexport functions, built as a c-shared module.
//
//	GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -o app.wasm .
//
// The host loads app.wasm and spawns processes on its exports
// (runtime.Environment.Spawn); the guest spawns more with Spawn. Before the
// entry export, every new process runs the module's _initialize, which
// starts the Go runtime and runs package initialisation; main must exist
// but is never called. An entry's parameters are i32 or i64 (int32, uint32,
// int64, uint64); returning from it ends the process normally.
//
// # A complete program
//
// A greeter answers one request; main spawns it, asks it for a greeting,
// sends the greeting to the process whose id it was given, and exits with
// a status that says how far it got.
//
//	package main
//
//	import (
//		"time"
//
//		"github.com/wardrt/ward/guest"
//	)
//
//	//go:wasmexport greeter
//	func greeter() {
//		req, err := guest.Receive()
//		if err != nil {
//			guest.Exit(1)
//		}
//		var name string
//		if req.Decode(&name) != nil {
//			guest.Exit(2)
//		}
//		guest.ReplyValue(req, "hello, "+name)
//	}
//
//	//go:wasmexport main
//	func run(reportTo int64) {
//		g, err := guest.Spawn("greeter")
//		if err != nil {
//			guest.Exit(1)
//		}
//		var greeting string
//		if err := guest.RequestValue(g, "ward", &greeting, 5*time.Second); err != nil {
//			guest.Exit(2)
//		}
//		if err := guest.SendValue(guest.ProcessID(reportTo), 1, greeting); err != nil {
//			guest.Exit(3)
//		}
//	}
//
//	func main() {}
//
// The host side spawns main with the id of a Go-native process that waits
// for the greeting:
//
//	rt, _ := runtime.New(runtime.WithMemoryReserve(64 << 20))
//	mod, _ := rt.LoadModule(ctx, "app", wasmBytes)
//	got := make(chan string, 1)
//	sink, _ := rt.Environment().SpawnGo(ctx, "sink", func(ctx context.Context, self *runtime.Self) error {
//		m, err := self.Receive(ctx, 1)
//		var s string
//		if err == nil {
//			err = runtime.DecodeMessage(m, &s)
//		}
//		got <- s
//		return err
//	})
//	p, _ := rt.Environment().Spawn(ctx, mod, "main", runtime.I64(int64(sink.ID())))
//	reason, _ := p.Wait(ctx) // runtime.Normal
//	fmt.Println(<-got)       // hello, ward
//
// guest/examples/hello is this program grown to use the registry, a
// monitor, a link and timers, with the host program that runs it and a
// test.
//
// # Processes
//
// Each process is its own Wasm instance with its own memory, so its own Go
// runtime and its own package variables: processes share nothing and talk
// only by messages. Goroutines belong to the process that started them and
// run only while its entry function runs; when the entry returns (or the
// process calls Exit) the process ends, goroutines and all. A panic traps
// the process (reason kind ReasonTrap) and its message goes to the
// environment's stderr.
//
// Blocking SDK calls (Receive, Request, Sleep) park the process in the
// host without holding a thread, and cost nothing while they wait.
// time.Sleep and other WASI waits work too but hold a host thread for
// their duration; prefer Sleep. Any goroutine may call the SDK, but a
// process is one thread: while one goroutine waits in a host call, none of
// the process's other goroutines runs.
//
// # Messages
//
// A message is bytes and a tag. Senders choose tags (>= 0); Receive can
// filter on up to MaxReceiveTags of them and leaves other messages in the
// mailbox, in order. The runtime's own messages use negative tags: TagExit
// (a linked process ended while this one traps exits; ParseExit) and
// TagDown (a monitored process ended; ParseDown). Request sends under a
// fresh tag (UniqueTag) and waits for the reply under the same tag, which
// Reply sends.
//
// SendValue, RequestValue, ReplyValue and Message.Decode carry Go values as
// CBOR (RFC 8949), the encoding runtime.EncodeMessage and
// runtime.DecodeMessage use on the host, so guest and host can share type
// declarations.
//
// # Errors
//
// Host functions report failures as status codes; the SDK returns them as
// *Error, which matches one of ErrLimit, ErrPermission, ErrNotFound,
// ErrInvalid, ErrClosed, ErrTimeout and ErrTaken with errors.Is.
//
// # Costs
//
// A minimal Go guest is about 2 MB of Wasm and takes about a second to
// compile when a runtime first loads it (runtime.WithCacheDir keeps the
// compiled code across restarts). Every process then runs the Go runtime's
// initialisation, a few milliseconds, and starts with about 2.5 MiB of
// memory, which Go grows 4 MiB at a time: give the runtime a memory reserve
// (runtime.WithMemoryReserve) so growth does not copy the memory each time.
// Where processes must be cheaper (one per request, say), write the guest
// in C (guest/c) or WAT.
//
// # Other platforms
//
// Only guest builds (GOOS=wasip1) reach the host: elsewhere the package
// compiles, so that documentation and tools work, but calling into the
// host panics. ParseExit, ParseDown, Encode, Message.Decode and the error
// values work everywhere.
package guest
