package runtime

import (
	"cmp"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/fxamacker/cbor/v2"
	gocmp "github.com/google/go-cmp/cmp"

	"github.com/wardrt/ward/environment"
	"github.com/wardrt/ward/guest"
	"github.com/wardrt/ward/internal/abi"
	"github.com/wardrt/ward/testdata"
)

// Environments made by guests (ward_environment), with the loader guest
// of dynload_test.go.

func TestGuestNarrowerEnvironment(t *testing.T) {
	ends := make(chan Event, 16)
	r := newRuntime(t, grantAll(), WithEvents(func(e Event) {
		if e.Kind == EventEnd && strings.HasPrefix(e.Module, "guest-") {
			ends <- e
		}
	}))
	enc := func(c guestEnvConfig) []byte {
		b, err := cbor.Marshal(c)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	env := envWith(t, r, environment.Config{})
	childEnd := func() Event {
		select {
		case e := <-ends:
			return e
		case <-time.After(testTimeout):
			t.Fatal("no child ended")
		}
		return Event{}
	}
	// BigMem needs 64 MiB to instantiate: in the caller's environment
	// it runs, in one narrowed to 1 MiB it cannot.
	for _, c := range []struct {
		max  uint64
		fits bool
	}{{0, true}, {1 << 20, false}} {
		m := loader(t, r, testdata.BigMem, enc(guestEnvConfig{MaxMemory: c.max}))
		if st := status(t, env, m, "create_spawn"); st != abi.OK {
			t.Fatalf("create_spawn with MaxMemory %d: %d", c.max, st)
		}
		e := childEnd()
		if e.Environment.Parent() != env {
			t.Fatalf("the child ran in %v, not in a child of the caller's environment", e.Environment)
		}
		if want := cmp.Or(c.max, env.Config().MaxMemory); e.Environment.Config().MaxMemory != want {
			t.Fatalf("the child's environment has MaxMemory %d, want %d", e.Environment.Config().MaxMemory, want)
		}
		if c.fits != e.Reason.Normal() || !c.fits && !errors.Is(e.Reason, ErrMemoryLimit) {
			t.Fatalf("with MaxMemory %d the child ended with %v", c.max, e.Reason)
		}
	}

	// A module a guest compiled passes the import checks of the
	// environment it is spawned in like any other.
	noMessages := loader(t, r, wat2wasm(t, waitChildWAT), enc(guestEnvConfig{Namespaces: []string{"ward_process"}}))
	if st := status(t, env, noMessages, "create_spawn"); st != abi.ErrPermission {
		t.Fatalf("spawning a module whose imports the environment denies: %d, want ErrPermission", st)
	}
	narrowParent := envWith(t, r, environment.Config{MaxMemory: 128 << 20})
	wide := loader(t, r, testdata.Trivial, enc(guestEnvConfig{MaxMemory: 256 << 20}))
	if st := status(t, narrowParent, wide, "create"); st != abi.ErrPermission {
		t.Fatalf("widening MaxMemory: %d, want ErrPermission", st)
	}
	allow := loader(t, r, testdata.Trivial, enc(guestEnvConfig{CompileModules: uint8(environment.Allow)}))
	noCompile := envWith(t, r, environment.Config{Permissions: environment.Permissions{CompileModules: environment.Deny}})
	if st := status(t, noCompile, allow, "create"); st != abi.ErrPermission {
		t.Fatalf("granting a permission the parent lacks: %d, want ErrPermission", st)
	}
	for name, cfg := range map[string][]byte{
		"not CBOR":       {0xff, 0x00},
		"an unknown key": []byte("\xa1\x63Foo\x01"),
		"a bad page":     enc(guestEnvConfig{MaxMemory: 1000}),
		"a negative":     enc(guestEnvConfig{MaxProcesses: -1}),
	} {
		bad := loader(t, r, testdata.Trivial, cfg)
		if st := status(t, env, bad, "create"); st != abi.ErrInvalid {
			t.Fatalf("%s: %d, want ErrInvalid", name, st)
		}
	}
}

func TestGuestEnvironmentsAreBounded(t *testing.T) {
	r := newRuntime(t, grantAll())
	m := loader(t, r, testdata.Trivial, []byte{0xa0})
	env := envWith(t, r, environment.Config{MaxHandles: 7})
	if st := status(t, env, m, "create_forever"); st != abi.ErrLimit {
		t.Fatalf("create loop: %d, want ErrLimit", st)
	}
	if n := r.numHandles(); n != 0 {
		t.Fatalf("%d handles after the creator ended", n)
	}
	if got := env.MemoryInUse(); got != 0 {
		t.Fatalf("MemoryInUse %d after the creator ended, want 0", got)
	}
}

func TestGuestSDKEnvironmentConfig(t *testing.T) {
	in := guest.EnvironmentConfig{
		MaxMemory: 1 << 20, MaxTotalMemory: 2 << 20, MaxFuel: 3, MaxWallTime: 1500 * time.Microsecond,
		MaxProcesses: 4, MaxMailboxMessages: 5, MaxMailboxBytes: 6, MaxTimers: 7, MaxTimerBytes: 8,
		MaxLinks: 9, MaxMonitors: 10, MaxNames: 11, MaxEnvironmentNames: 12, MaxModuleBytes: 13,
		MaxHandles: 14, Namespaces: []string{"ward_*"},
		DenySpawn: true, DenyCreateEnvironments: true, DenyCompileModules: true,
	}
	b, err := in.MarshalCBOR()
	if err != nil {
		t.Fatal(err)
	}
	got, err := decodeEnvConfig(b)
	if err != nil {
		t.Fatal(err)
	}
	deny := environment.Deny
	want := environment.Config{
		MaxMemory: 1 << 20, MaxTotalMemory: 2 << 20, MaxFuel: 3, MaxWallTime: 2 * time.Millisecond,
		MaxProcesses: 4, MaxMailboxMessages: 5, MaxMailboxBytes: 6, MaxTimers: 7, MaxTimerBytes: 8,
		MaxLinks: 9, MaxMonitors: 10, MaxNames: 11, MaxEnvironmentNames: 12, MaxModuleBytes: 13,
		MaxHandles: 14, Namespaces: []string{"ward_*"},
		Permissions: environment.Permissions{Spawn: deny, CreateEnvironments: deny, CompileModules: deny},
	}
	if diff := gocmp.Diff(want, got); diff != "" {
		t.Fatalf("decoded config differs (-want +got):\n%s", diff)
	}
	// Every field of environment.Config that a guest may set is above:
	// one added there and not here fails this count.
	if n := reflect.TypeOf(guest.EnvironmentConfig{}).NumField(); n != 19 {
		t.Fatalf("guest.EnvironmentConfig has %d fields; update this test and the decoder", n)
	}
	empty, err := guest.EnvironmentConfig{}.MarshalCBOR()
	if err != nil || len(empty) != 1 || empty[0] != 0xa0 {
		t.Fatalf("the zero config encodes as %x %v, want an empty map", empty, err)
	}
}

func TestGuestMadeEnvironmentEndsWithItsParent(t *testing.T) {
	r := newRuntime(t, grantAll())
	m := loader(t, r, wat2wasm(t, waitChildWAT), []byte{0xa0})
	env := envWith(t, r, environment.Config{})
	creator := spawn(t, env, m, "create_spawn_hold")
	waitFor(t, testTimeout, "the child in the guest's environment", func() bool { return env.NumProcesses() == 2 })
	if n := r.numHandles(); n != 2 {
		t.Fatalf("%d handles, want the module and the environment", n)
	}
	if err := env.Close(testCtx(t)); err != nil {
		t.Fatal(err)
	}
	if reason := wait(t, creator); reason != Killed {
		t.Fatalf("creator: %v", reason)
	}
	if n := env.NumProcesses(); n != 0 {
		t.Fatalf("%d processes after Close", n)
	}
	if n := r.numHandles(); n != 0 {
		t.Fatalf("%d handles after Close", n)
	}
	if got := env.MemoryInUse(); got != 0 {
		t.Fatalf("MemoryInUse %d after Close, want 0", got)
	}
	if n := r.Stats().Modules; n != 1 {
		t.Fatalf("%d modules after Close, want the loader's alone", n)
	}
}
