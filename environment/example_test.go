package environment_test

import (
	"errors"
	"fmt"
	"os"

	"github.com/wardrt/ward/environment"
)

// A host builds a root environment, then hands a plugin a narrower one.
func Example() {
	root, err := environment.Root(environment.Config{
		WASI: environment.WASI{Stdout: os.Stdout},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("root memory:", root.MaxMemory>>20, "MiB")
	fmt.Println("root may spawn:", root.Permissions.Spawn.Allowed())

	plugin, err := root.Narrow(environment.Config{
		MaxMemory:   64 << 20,
		MaxFuel:     10_000_000,
		Namespaces:  []string{"ward_message", "wasi_snapshot_preview1"},
		Permissions: environment.Permissions{Spawn: environment.Deny},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("plugin memory:", plugin.MaxMemory>>20, "MiB")
	fmt.Println("plugin may spawn:", plugin.Permissions.Spawn.Allowed())
	fmt.Println("plugin may compile:", plugin.Permissions.CompileModules.Allowed())
	fmt.Println("plugin may import ward_process:", plugin.Allows("ward_process"))
	fmt.Println("plugin writes to the host's stdout:", plugin.WASI.Stdout == os.Stdout)
	// Output:
	// root memory: 256 MiB
	// root may spawn: true
	// plugin memory: 64 MiB
	// plugin may spawn: false
	// plugin may compile: false
	// plugin may import ward_process: false
	// plugin writes to the host's stdout: true
}

// A child cannot ask for more than its parent; the error says what and by
// how much.
func ExampleConfig_Narrow() {
	parent, err := environment.Root(environment.Config{
		MaxProcesses: 100,
		Permissions:  environment.Permissions{CompileModules: environment.Deny},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	_, err = parent.Narrow(environment.Config{MaxProcesses: 1000})
	fmt.Println(err)
	fmt.Println(errors.Is(err, environment.ErrWiden))

	_, err = parent.Narrow(environment.Config{
		Permissions: environment.Permissions{CompileModules: environment.Allow},
	})
	fmt.Println(err)
	// Output:
	// ward: a child environment would widen its parent: MaxProcesses 1000 is more than the parent's 100
	// true
	// ward: a child environment would widen its parent: Permissions.CompileModules is allow but the parent's is deny
}

// The runtime checks a module's imports before instantiating it.
func ExampleConfig_CheckImports() {
	env, err := environment.Root(environment.Config{})
	if err != nil {
		fmt.Println(err)
		return
	}
	err = env.CheckImports([]environment.Import{
		{Module: "ward_process", Name: "spawn"},
		{Module: "env", Name: "abort"},
	})
	fmt.Println(err)

	var denied *environment.DeniedError
	if errors.As(err, &denied) {
		fmt.Println("refused namespace:", denied.Import.Module)
	}
	// Output:
	// ward: import "env"."abort" is not allowed in this environment (allowed namespaces: ward_*, wasi_snapshot_preview1)
	// refused namespace: env
}

// Patterns end in "*" and match by prefix.
func ExampleConfig_Allows() {
	env, err := environment.Root(environment.Config{
		Namespaces: []string{"ward_*", "wasi_snapshot_preview1"},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, ns := range []string{"ward_registry", "wasi_snapshot_preview1", "wasi_snapshot_preview2", "env"} {
		fmt.Println(ns, env.Allows(ns))
	}
	// Output:
	// ward_registry true
	// wasi_snapshot_preview1 true
	// wasi_snapshot_preview2 false
	// env false
}

// Root refuses what cannot be enforced as written, instead of rounding it.
func ExampleRoot() {
	_, err := environment.Root(environment.Config{MaxMemory: 100_000_000})
	fmt.Println(err)
	fmt.Println(errors.Is(err, environment.ErrInvalid))
	// Output:
	// ward: invalid environment configuration: MaxMemory 100000000 is not a whole number of 65536-byte Wasm pages (99942400 is)
	// true
}
