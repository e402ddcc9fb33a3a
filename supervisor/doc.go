// Package supervisor runs supervision trees, as in Erlang/OTP, over ward
// processes and plain Go services.
//
// A Supervisor starts its children in order, watches them, restarts them
// by its Strategy (OneForOne, OneForAll, RestForOne, SimpleOneForOne) and
// each child's Restart type (Permanent, Transient, Temporary), and stops
// them in reverse order. A child is a Wasm process (ChildSpec.Wasm), any
// other ward process (ChildSpec.Spawn, for example a Go-native one), or a
// Go Service: anything with Serve(ctx) error, as in
// github.com/thejerf/suture. A *Supervisor is a Service, so trees nest.
//
//	sup := supervisor.New("plugins", supervisor.Options{Strategy: supervisor.OneForOne})
//	sup.Add(supervisor.ChildSpec{
//		Name: "resize",
//		Wasm: &supervisor.Wasm{Env: env, Module: mod, Entry: "serve"},
//	})
//	sup.Add(supervisor.ChildSpec{Name: "metrics", Service: metrics})
//	err := sup.Serve(ctx) // until ctx ends, or it gives up
//
// A Wasm child may name its module by an installed name and a semver
// constraint instead (Wasm.ModuleName and Version; see
// runtime.Runtime.Install): each start and restart takes the version
// current then, so a child that fails after an upgrade comes back on the
// new version.
//
// # Order
//
// Children start in the order they were added: each child's spawn (or
// Serve call, on a goroutine of its own) is made once the previous child's
// start, OnStart hook included, has returned. What the children then do
// runs concurrently; a child that must wait until its predecessor is ready
// can be made to by that predecessor's OnStart. They stop in reverse
// order, each stop waited for before the next. A OneForAll or RestForOne
// restart stops the children it takes down in reverse order and starts
// them again in order.
//
// # Restarts
//
// A child that ends is restarted according to its Restart type: always
// (Permanent), after an abnormal end only (Transient: a process Reason that
// is not runtime.Normal, a Service that returned an error or panicked), or
// never (Temporary). A restart waits a backoff first (Backoff: 10 ms
// doubling to 1 s per child by default, with jitter). More than Intensity
// restarts within Period (default 5 in 5 s) and the supervisor gives up:
// it stops every child and Serve returns an *IntensityError
// (errors.Is(err, ErrIntensity)). A supervisor that is a child of another
// then fails in its turn, and counts against its parent's intensity.
//
// # Stopping
//
// Each child has a Shutdown grace period (default 5 s). A process child
// is asked to stop by its Stop function (or killed at once without one,
// since a Wasm guest has no cancellation signal; for a Go-native process,
// Kill is the request, as it cancels its ctx), then killed when the grace
// period has passed. A Service is asked by cancelling its ctx; Go cannot
// kill a goroutine, so a Service that ignores its ctx past its grace
// period is reported (EventAbandoned, a *StopError) and left running.
//
// # Events
//
// Every start, exit (with its reason), restart, kill, failure to start and
// giving up is logged to Options.Logger and passed to Options.OnEvent.
//
// # A supervisor as a process
//
// SpawnProcess runs a supervisor as a Go-native ward process: it has a
// process id that other processes can link to, monitor and message. It
// answers requests sent to it as CBOR-encoded messages (the Request and
// Response types; runtime.EncodeMessage and runtime.DecodeMessage), with
// the Response sent back to the sender under the request's tag, so
// runtime.Self.Request and Call fit. Requests are maps with an "op" key:
//
//	{"op": "which_children"}
//	    -> {"ok": true, "children": [{"name": "worker-1", "pid": 12,
//	        "state": "running", "restart": "transient", "restarts": 0,
//	        "dynamic": true}, ...]}
//	{"op": "start_child", "args": [{"i32": 7}, {"i64": 1000}]}
//	    SimpleOneForOne only: StartDynamic with those arguments
//	    -> {"ok": true, "name": "worker-2", "pid": 13}
//	{"op": "terminate_child", "name": "worker-2"} -> {"ok": true}
//	{"op": "restart_child", "name": "db"}         -> {"ok": true, "name": "db", "pid": 14}
//	{"op": "delete_child", "name": "db"}          -> {"ok": true}
//
// A failed request gets {"ok": false, "code": CODE, "error": TEXT}, where
// CODE is one of no_child, duplicate, strategy, child_running,
// not_running, not_stopped, invalid, start_failed, bad_request or error.
// Call turns it into a *RemoteError that errors.Is matches against the
// package's errors (ErrNoChild for no_child, and so on).
//
// Any process that knows the supervisor's id can send these requests. Wasm
// guests will reach them through the host API once it offers supervisor
// functions; until then they can send the same messages with the
// ward_message functions.
//
// # Registered names
//
// A restarted process has a new id, so names registered for the old one
// must be registered again. ChildSpec.OnStart is called after every start
// and restart with the new process, and is where that belongs: call
// Environment.Register there. The runtime removes a process's names when
// it exits, so between the crash and the restart a lookup finds the next
// matching version, or nothing (examples/services shows this).
package supervisor
