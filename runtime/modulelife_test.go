package runtime

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/wardrt/ward/testdata"
)

// A closed handle spawns nothing, its processes run on, and the code goes
// with the last of them.
func TestModuleCloseFreesWithLastProcess(t *testing.T) {
	r := newRuntime(t)
	ctx := testCtx(t)
	m := load(t, r, "wait", []byte(`(module
		(import "ward_message" "receive" (func $recv (param i32 i32 i64) (result i32)))
		(memory (export "memory") 1)
		(func (export "main") (drop (call $recv (i32.const 0) (i32.const 0) (i64.const -1)))))`))
	p := spawn(t, r.Environment(), m, "main")
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	if err := m.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	_, err := r.Environment().Spawn(ctx, m, "main")
	if !errors.Is(err, ErrModuleClosed) {
		t.Fatalf("spawn from a closed module: %v, want ErrModuleClosed", err)
	}
	if n := r.Stats().Modules; n != 1 {
		t.Fatalf("%d modules while a process runs the closed one, want 1", n)
	}
	if err := r.Send(ctx, p.ID(), Message{Tag: 1}); err != nil {
		t.Fatal(err)
	}
	if reason, _ := p.Wait(ctx); !reason.Normal() {
		t.Fatalf("process ended with %v", reason)
	}
	if n := r.Stats().Modules; n != 0 {
		t.Fatalf("%d modules after the last process ended, want 0", n)
	}
	// Loading the bytes again compiles them again, and works.
	m2 := load(t, r, "trivial", testdata.Trivial)
	defer m2.Close()
	if reason, err := r.Environment().Run(ctx, m2, "run"); err != nil || !reason.Normal() {
		t.Fatalf("run after reload: %v %v", reason, err)
	}
}

// Two handles on the same bytes share code: closing one leaves the other
// usable.
func TestModuleHandlesShareCode(t *testing.T) {
	r := newRuntime(t)
	ctx := testCtx(t)
	a := load(t, r, "a", testdata.Trivial)
	b := load(t, r, "b", testdata.Trivial)
	a.Close()
	if reason, err := r.Environment().Run(ctx, b, "run"); err != nil || !reason.Normal() {
		t.Fatalf("run from the open handle: %v %v", reason, err)
	}
	if n := r.Stats().Modules; n != 1 {
		t.Fatalf("%d modules, want 1", n)
	}
	b.Close()
	if n := r.Stats().Modules; n != 0 {
		t.Fatalf("%d modules after both closed, want 0", n)
	}
}

// A runtime that loads, runs and retires modules for a long time does not
// grow: 10k cycles (1k with -short), each of different bytes, so each
// compiles, spawns and frees anew.
func TestModuleLoadCloseCyclesKeepRSSFlat(t *testing.T) {
	if raceDetector {
		t.Skip("the race detector's shadow memory grows with every allocation")
	}
	r := newRuntime(t)
	ctx := testCtx(t)
	env, err := r.NewEnvironment(r.Environment().Config())
	if err != nil {
		t.Fatal(err)
	}
	cycle := func(i int) {
		m, err := r.LoadModule(ctx, "cycle", fmt.Appendf(nil, `(module
			(memory (export "memory") 1)
			(func (export "main") (result i32) (i32.const %d)))`, i))
		if err != nil {
			t.Fatal(err)
		}
		if reason, err := env.Run(ctx, m, "main"); err != nil || !reason.Normal() {
			t.Fatalf("cycle %d: %v %v", i, reason, err)
		}
		if err := m.Close(); err != nil {
			t.Fatal(err)
		}
	}
	n := 10000
	if testing.Short() {
		n = 1000
	}
	const warm = 500
	for i := range warm {
		cycle(i)
	}
	before := rssKiB(t)
	start := time.Now()
	for i := warm; i < warm+n; i++ {
		cycle(i)
	}
	after := rssKiB(t)
	t.Logf("%d cycles in %v; RSS %d KiB -> %d KiB", n, time.Since(start), before, after)
	if st := r.Stats(); st.Modules != 0 {
		t.Fatalf("%d modules left after closing all", st.Modules)
	}
	if after-before > 20<<10 {
		t.Fatalf("RSS grew by %d KiB over %d load/close cycles", after-before, n)
	}
	if n := countImportChecks(env); n > importSweepEvery+1 {
		t.Fatalf("the environment caches %d import checks of freed modules", n)
	}
}

func countImportChecks(e *Environment) int {
	n := 0
	e.importOK.Range(func(any, any) bool { n++; return true })
	return n
}
