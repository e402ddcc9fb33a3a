package runtime

import (
	"errors"
	"fmt"
	"testing"

	"github.com/wardrt/ward/internal/abi"
)

// waiterWAT is a guest whose main waits for one message; version makes
// the bytes of each version differ.
func waiterWAT(version int) []byte {
	return fmt.Appendf(nil, `(module
		(import "ward_message" "receive" (func $recv (param i32 i32 i64) (result i32)))
		(memory (export "memory") 1)
		(global (export "version") i32 (i32.const %d))
		(func (export "main") (drop (call $recv (i32.const 0) (i32.const 0) (i64.const -1)))))`, version)
}

func TestInstallKeepsCurrentAndOldAndPurgesTheThird(t *testing.T) {
	r := newRuntime(t)
	ctx := testCtx(t)
	env := r.Environment()
	install := func(version string, n int) {
		t.Helper()
		m := load(t, r, "plugin", waiterWAT(n))
		if err := r.Install(ctx, "plugin", version, m); err != nil {
			t.Fatal(err)
		}
		m.Close() // the runtime keeps its own handle
	}
	if _, _, ok := r.Current("plugin"); ok {
		t.Fatal("a current version before any install")
	}
	install("1.0.0", 1)
	v1, ver, ok := r.Current("plugin")
	if !ok || ver != "1.0.0" {
		t.Fatalf("Current = %v %q %v", v1, ver, ok)
	}
	onV1 := spawn(t, env, v1, "main")

	install("2.0.0", 2)
	v2, ver, _ := r.Current("plugin")
	if ver != "2.0.0" || v2.code == v1.code {
		t.Fatalf("Current after the second install: %q", ver)
	}
	onV2 := spawn(t, env, v2, "main")
	for _, c := range []struct {
		constraint string
		want       *Module
	}{{"", v2}, {"^2", v2}, {"^1", v1}, {"<3", v2}} {
		if got, err := r.Resolve("plugin", c.constraint); err != nil || got != c.want {
			t.Errorf("Resolve(%q) = %v, %v", c.constraint, got, err)
		}
	}
	if _, err := r.Resolve("plugin", "^3"); !errors.Is(err, ErrNoVersion) {
		t.Errorf("Resolve(^3) = %v, want ErrNoVersion", err)
	}
	if onV1.Reason() != nil {
		t.Fatalf("a process on the old version ended: %v", onV1.Reason())
	}

	install("3.0.0", 3)
	reason := onV1.Reason() // Install waits for the purge
	if reason == nil {
		t.Fatal("Install returned before the purged process ended")
	}
	var pe *PurgedError
	if !errors.As(reason, &pe) || !errors.Is(reason, ErrPurged) || pe.Version != "1.0.0" || pe.Name != "plugin" {
		t.Fatalf("the process on v1 ended with %v, want a purge of plugin@1.0.0", reason)
	}
	if k := reasonKind(reason); k != abi.ReasonPurged {
		t.Fatalf("guests see reason kind %d, want ReasonPurged", k)
	}
	if onV2.Reason() != nil {
		t.Fatalf("the process on v2, now old, ended: %v", onV2.Reason())
	}
	if _, err := r.Resolve("plugin", "^1"); !errors.Is(err, ErrNoVersion) {
		t.Fatalf("v1 still resolves after its purge: %v", err)
	}
	// v1's code is gone: only v2's and v3's are left.
	if n := r.Stats().Modules; n != 2 {
		t.Fatalf("%d modules after the purge, want 2", n)
	}
	onV2.Kill()
	onV2.Wait(ctx)
}

func TestInstallRefusals(t *testing.T) {
	r := newRuntime(t)
	ctx := testCtx(t)
	m := load(t, r, "a", waiterWAT(1))
	defer m.Close()
	if err := r.Install(ctx, "a", "not-a-version", m); !errors.Is(err, ErrBadVersion) {
		t.Errorf("bad version: %v", err)
	}
	if err := r.Install(ctx, "a", "1.0.0", m); err != nil {
		t.Fatal(err)
	}
	if err := r.Install(ctx, "b", "1.0.0", m); !errors.Is(err, ErrInstalled) {
		t.Errorf("the same module under a second name: %v", err)
	}
	again := load(t, r, "a", waiterWAT(1))
	defer again.Close()
	if err := r.Install(ctx, "a", "1.1.0", again); !errors.Is(err, ErrInstalled) {
		t.Errorf("the same bytes as a second version: %v", err)
	}
	other := load(t, r, "a", waiterWAT(2))
	if err := r.Install(ctx, "a", "1.0.0", other); !errors.Is(err, ErrInstalled) {
		t.Errorf("the current version again: %v", err)
	}
	other.Close()
	if err := r.Install(ctx, "a", "1.2.0", other); !errors.Is(err, ErrModuleClosed) {
		t.Errorf("a closed module: %v", err)
	}
	cur, _, _ := r.Current("a")
	if err := cur.Close(); !errors.Is(err, ErrInstalled) {
		t.Errorf("closing the runtime's handle: %v", err)
	}
	spawn(t, r.Environment(), cur, "main").Kill() // it still spawns
	if _, err := r.Resolve("a", "not a constraint"); !errors.Is(err, ErrBadVersion) {
		t.Errorf("bad constraint: %v", err)
	}
}
