package supervisor_test

import (
	"fmt"
	"testing"

	"github.com/wardrt/ward/runtime"
	"github.com/wardrt/ward/supervisor"
)

// sleeperWAT sleeps until killed; version makes each version's bytes
// differ.
func sleeperWAT(version int) []byte {
	return fmt.Appendf(nil, `(module
		(import "ward_process" "sleep_ms" (func $sleep (param i64)))
		(global (export "version") i32 (i32.const %d))
		(func (export "serve") (loop $l (call $sleep (i64.const 3600000)) (br $l))))`, version)
}

func install(t *testing.T, rt *runtime.Runtime, version int) *runtime.Module {
	t.Helper()
	ctx := testCtx(t)
	m, err := rt.LoadModule(ctx, "svc", sleeperWAT(version))
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	must(t, rt.Install(ctx, "svc", fmt.Sprintf("%d.0.0", version), m))
	cur, _, _ := rt.Current("svc")
	return cur
}

// A child naming its module by name and constraint restarts on the
// version current at the restart.
func TestChildRestartsOnTheCurrentVersion(t *testing.T) {
	f := newFixture(t)
	v1 := install(t, f.rt, 1)
	rec := &recorder{}
	sup := supervisor.New("s", options(supervisor.OneForOne, rec))
	must(t, sup.Add(supervisor.ChildSpec{Name: "svc", Wasm: &supervisor.Wasm{Env: f.env, ModuleName: "svc", Version: "^1 || ^2", Entry: "serve"}}))
	serve(t, sup)
	rec.wait(t, 1, supervisor.EventStarted, "svc")
	first := child(t, sup, "svc").Process
	if first.Module() != v1 {
		t.Fatalf("the child runs %v, want v1", first.Module())
	}

	v2 := install(t, f.rt, 2)
	if first.Reason() != nil {
		t.Fatal("installing v2 ended the child on v1, which is only old now")
	}
	first.Kill() // a crash
	rec.wait(t, 1, supervisor.EventRestarted, "svc")
	again := child(t, sup, "svc").Process
	if again == nil || again == first || again.Module() != v2 {
		t.Fatalf("the restarted child runs %v, want v2", again.Module())
	}

	// A constraint that only the old version matches keeps restarts on it.
	install(t, f.rt, 3)
	if _, err := f.rt.Resolve("svc", "^1 || ^2"); err != nil {
		t.Fatal(err)
	}
	again.Kill()
	rec.wait(t, 2, supervisor.EventRestarted, "svc")
	if p := child(t, sup, "svc").Process; p.Module() != v2 {
		t.Fatalf("the child restarted on %v, want v2, the version its constraint matches", p.Module())
	}
}
