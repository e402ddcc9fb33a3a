//go:build wasip1

package main

import (
	"time"

	"github.com/wardrt/ward/guest"
)

// greeter answers one greeting request, then returns (a normal exit).
//
//go:wasmexport greeter
func greeter() {
	req, err := guest.Receive()
	if err != nil {
		guest.Exit(2)
	}
	var name string
	if err := req.Decode(&name); err != nil {
		guest.Exit(3)
	}
	if err := guest.ReplyValue(req, "hello, "+name); err != nil {
		guest.Exit(4)
	}
}

// crash exits with the code it is given, which is abnormal unless 0.
//
//go:wasmexport crash
func crash(code int32) { guest.Exit(code) }

// run does the conversation and reports it to the process reportTo. The
// exit status says how far it got: 0 is all of it.
//
//go:wasmexport main
func run(reportTo int64) {
	r := Report{Self: guest.Self()}
	code := converse(&r)
	if err := guest.SendValue(guest.ProcessID(reportTo), tagReport, r); err != nil && code == 0 {
		code = 20
	}
	guest.Exit(code)
}

func converse(r *Report) int32 {
	// One greeter per environment, at version 1.0.0: spawned by the first
	// caller, found by the others.
	g, err := guest.GetOrSpawn("greeter", "1.0.0", "greeter")
	if err != nil {
		return 1
	}
	r.Greeter = g
	if r.LookedUp, err = guest.Lookup("greeter", "^1"); err != nil {
		return 2
	}
	ref := guest.Monitor(g)
	if err := guest.RequestValue(g, "ward", &r.Greeting, 5*time.Second); err != nil {
		return 3
	}
	m, err := guest.ReceiveTimeout(5*time.Second, guest.TagDown)
	if err != nil {
		return 4
	}
	if d, ok := guest.ParseDown(m); ok && d.Ref == ref {
		r.GreeterDown = d.Kind.String()
	}

	// A linked process that exits with code 7: trapping exits turns its
	// end into a message instead of taking this process down with it.
	guest.TrapExit(true)
	c, err := guest.SpawnLink("crash", guest.I32(7))
	if err != nil {
		return 5
	}
	m, err = guest.ReceiveTimeout(5*time.Second, guest.TagExit)
	if err != nil {
		return 6
	}
	if e, ok := guest.ParseExit(m); ok && e.From == c {
		r.CrashExit, r.CrashText = e.Kind.String(), e.Text
	}

	// Timers: one to fire, one cancelled before it can.
	self := guest.Self()
	if _, err := guest.SendAfter(self, tagTick, nil, 10*time.Millisecond); err != nil {
		return 7
	}
	t, err := guest.SendAfter(self, tagTick, nil, time.Hour)
	if err != nil {
		return 8
	}
	r.Cancelled = guest.CancelTimer(t) == nil
	for {
		if _, err := guest.ReceiveTimeout(100*time.Millisecond, tagTick); err != nil {
			break
		}
		r.Ticks++
	}
	return 0
}

func main() {}
