package guest_test

import (
	"github.com/wardrt/ward/guest"
)

// A plugin host inside a guest: it compiles a plugin it was sent as bytes,
// runs it in an environment narrower than its own (16 MiB of memory, no
// compiling or making environments of its own), and hands the module to a
// worker, which holds it from then on.
func ExampleLoadModule() {
	msg, err := guest.Receive()
	if err != nil {
		return
	}
	plugin, err := guest.LoadModule(msg.Data)
	if err != nil {
		return // ErrPermission, ErrLimit, ErrInvalid: see LoadModule
	}
	defer plugin.Drop()
	sandbox, err := guest.NewEnvironment(guest.EnvironmentConfig{
		MaxMemory:              16 << 20,
		MaxProcesses:           4,
		DenyCompileModules:     true,
		DenyCreateEnvironments: true,
	})
	if err != nil {
		return
	}
	defer sandbox.Drop() // processes running there run on
	if _, err := plugin.SpawnIn(sandbox, "run"); err != nil {
		return
	}
	// Another process takes the module by its token.
	worker, err := guest.Lookup("worker", "^1")
	if err != nil {
		return
	}
	_ = guest.SendValue(worker, 1, plugin.Token()) // the worker calls guest.TakeModule
}
