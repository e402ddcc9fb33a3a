package runtime

import (
	"crypto/sha256"
	"errors"
	"strings"
	"testing"

	"github.com/bytecodealliance/wasmtime-go/v25"

	"github.com/wardrt/ward/environment"
	"github.com/wardrt/ward/internal/wasm"
)

// imageWAT is a reactor that stands for a Go guest (goLike adds the
// go:buildid section ward tells them by). Its _initialize burns fuel,
// changes a global of each type it has, rewrites a byte of its data
// segment, grows its memory and writes to the new page, and records the
// WASI argument count: everything an image must carry over. check verifies
// all of it (the exit code names what differs); write_secret changes all
// of it and, asked to, grows the memory again, which moves an image's
// mapping.
const imageWAT = `(module
  (import "ward_process" "exit" (func $exit (param i32)))
  (import "wasi_snapshot_preview1" "args_sizes_get" (func $args_sizes (param i32 i32) (result i32)))
  (memory (export "memory") 1)
  (global $counter (mut i32) (i32.const 5))
  (global $big (mut i64) (i64.const 0))
  (global $f (mut f64) (f64.const 0))
  (global $k i32 (i32.const 7))
  (data (i32.const 1024) "seed")
  (func (export "_initialize") (local $i i32)
    (loop $l
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br_if $l (i32.lt_u (local.get $i) (i32.const 100000))))
    (global.set $counter (i32.add (global.get $counter) (i32.const 10)))
    (global.set $big (i64.const 0x123456789))
    (global.set $f (f64.const 2.5))
    (i32.store8 (i32.const 1024) (i32.const 83))
    (drop (memory.grow (i32.const 2)))
    (i32.store (i32.const 131080) (i32.const 77))
    (drop (call $args_sizes (i32.const 2048) (i32.const 2052))))
  (func (export "check") (param $argc i32)
    (if (i32.ne (global.get $counter) (i32.const 15)) (then (call $exit (i32.const 1))))
    (if (i64.ne (global.get $big) (i64.const 0x123456789)) (then (call $exit (i32.const 2))))
    (if (f64.ne (global.get $f) (f64.const 2.5)) (then (call $exit (i32.const 2))))
    (if (i32.ne (global.get $k) (i32.const 7)) (then (call $exit (i32.const 2))))
    (if (i32.ne (i32.load8_u (i32.const 1024)) (i32.const 83)) (then (call $exit (i32.const 3))))
    (if (i32.ne (i32.load8_u (i32.const 1025)) (i32.const 101)) (then (call $exit (i32.const 3))))
    (if (i32.ne (memory.size) (i32.const 3)) (then (call $exit (i32.const 4))))
    (if (i32.ne (i32.load (i32.const 131080)) (i32.const 77)) (then (call $exit (i32.const 5))))
    (if (i32.ne (i32.load (i32.const 4096)) (i32.const 0)) (then (call $exit (i32.const 6))))
    (if (i32.ne (i32.load (i32.const 2048)) (local.get $argc)) (then (call $exit (i32.const 7))))
    (call $exit (i32.const 0)))
  (func (export "write_secret") (param $grow i32)
    (i32.store (i32.const 4096) (i32.const 0xdeadbeef))
    (i32.store8 (i32.const 1024) (i32.const 88))
    (global.set $counter (i32.const 99))
    (global.set $big (i64.const -1))
    (if (i32.eqz (local.get $grow)) (then
      (i32.store (i32.const 131080) (i32.const 1))
      (call $exit (i32.const 0))))
    (if (i32.ne (memory.grow (i32.const 1)) (i32.const 3)) (then (call $exit (i32.const 10))))
    (i32.store (i32.const 196616) (i32.const 0xabcdef))
    (if (i32.ne (i32.load (i32.const 131080)) (i32.const 77)) (then (call $exit (i32.const 8))))
    (if (i32.ne (i32.load (i32.const 4096)) (i32.const 0xdeadbeef)) (then (call $exit (i32.const 9))))
    (if (i32.ne (i32.load8_u (i32.const 1025)) (i32.const 101)) (then (call $exit (i32.const 9))))
    (call $exit (i32.const 0)))
)`

// goLike compiles wat and appends a go:buildid custom section carrying
// id, so that ward takes the module for a Go guest.
func goLike(t *testing.T, wat, id string) []byte {
	t.Helper()
	b, err := wasmtime.Wat2Wasm(wat)
	if err != nil {
		t.Fatal(err)
	}
	name := "go:buildid"
	body := append([]byte{byte(len(name))}, name...)
	body = append(body, id...)
	return append(append(b, 0, byte(len(body))), body...)
}

// runCheck runs the module's check export in env, expecting argc WASI
// arguments, and returns its exit code and the fuel it used.
func imageCheck(t *testing.T, env *Environment, m *Module, argc int32) (code int, fuel uint64) {
	t.Helper()
	p := spawn(t, env, m, "check", I32(argc))
	return exitCode(t, wait(t, p)), p.FuelUsed()
}

// A process started from the image sees what _initialize left (globals,
// memory contents and size) exactly as a process that ran _initialize
// itself, without paying its fuel.
func TestGoImageMatchesNormalStart(t *testing.T) {
	b := goLike(t, imageWAT, "image-test")
	withImage := newRuntime(t)
	m := load(t, withImage, "golike", b)
	size, ok := m.Preinitialized()
	if !ok || size != 3<<16 {
		t.Fatalf("Preinitialized() = %d, %v; want 3 pages, true", size, ok)
	}
	code, imageFuel := imageCheck(t, withImage.Environment(), m, 0)
	if code != 0 {
		t.Fatalf("from the image: check exited %d", code)
	}

	normal := newRuntime(t, WithGoImages(false))
	nm := load(t, normal, "golike", b)
	if _, ok := nm.Preinitialized(); ok {
		t.Fatal("WithGoImages(false): the module has an image")
	}
	code, normalFuel := imageCheck(t, normal.Environment(), nm, 0)
	if code != 0 {
		t.Fatalf("normal start: check exited %d", code)
	}
	t.Logf("fuel: %d from the image, %d with _initialize", imageFuel, normalFuel)
	if imageFuel >= 100000 || normalFuel < 100000 {
		t.Errorf("fuel: %d from the image, %d normally; want the image to skip the 100,000-iteration _initialize", imageFuel, normalFuel)
	}
}

// What one process of an image writes (memory, globals, memory grown past
// the image) is not seen by the next process of the same image.
func TestGoImageNoLeakBetweenProcesses(t *testing.T) {
	r := newRuntime(t)
	m := load(t, r, "golike", goLike(t, imageWAT, "image-leak"))
	// Without growing, the memory goes back to the image's pool, reset,
	// and the next process gets it; grown, it is unmapped.
	for i, grow := range []int32{0, 0, 1, 0, 1} {
		if code := exitCode(t, wait(t, spawn(t, r.Environment(), m, "write_secret", I32(grow)))); code != 0 {
			t.Fatalf("round %d: write_secret(grow %d) exited %d", i, grow, code)
		}
		if code, _ := imageCheck(t, r.Environment(), m, 0); code != 0 {
			t.Fatalf("round %d: after write_secret, check exited %d (6: the secret leaked, 1-5: state leaked)", i, code)
		}
	}
}

// A process whose WASI context differs from the pre-initialisation run's
// starts normally: _initialize then sees its own arguments.
func TestGoImageNotUsedWithWASIArgs(t *testing.T) {
	r := newRuntime(t)
	m := load(t, r, "golike", goLike(t, imageWAT, "image-args"))
	env, err := r.NewEnvironment(environment.Config{WASI: environment.WASI{Args: []string{"a", "b", "c"}}})
	if err != nil {
		t.Fatal(err)
	}
	code, fuel := imageCheck(t, env, m, 3)
	if code != 0 {
		t.Fatalf("with three WASI args: check exited %d", code)
	}
	if fuel < 100000 {
		t.Errorf("with WASI args the process used %d fuel: it did not run _initialize", fuel)
	}
}

// An image made from other bytes is refused, and the module keeps none.
func TestGoImageRefusesAnotherModulesImage(t *testing.T) {
	r := newRuntime(t)
	a := load(t, r, "a", goLike(t, imageWAT, "image-a"))
	if _, ok := a.Preinitialized(); !ok {
		t.Fatal("module a has no image")
	}
	b := goLike(t, imageWAT, "image-b")
	tmpl, err := r.compile("b", sha256Of(b), b)
	if err != nil {
		t.Fatal(err)
	}
	defer tmpl.m.Close()
	defer tmpl.image.Close()
	own := tmpl.image
	tmpl.image = nil
	if err := tmpl.setImage(a.code.image); !errors.Is(err, wasm.ErrImageMismatch) {
		t.Fatalf("b given a's image: %v, want ErrImageMismatch", err)
	}
	if tmpl.image != nil {
		t.Fatal("b kept a's image")
	}
	if err := tmpl.setImage(own); err != nil {
		t.Fatalf("b given its own image: %v", err)
	}
}

func sha256Of(b []byte) [32]byte { return sha256.Sum256(b) }

// A hot upgrade to a Go guest's version starts its new instance from the
// version's image: _initialize, here a 100,000-iteration loop, is not run
// again, and the new instance resumes with the state handed over.
func TestUpgradeIntoGoImage(t *testing.T) {
	r := newRuntime(t)
	ctx := testCtx(t)
	collector, reports := collect(t, r)
	p := spawn(t, r.Environment(), installVersion(t, r, 1), "main", I64(int64(collector.ID())))
	wat := strings.TrimSuffix(strings.TrimSpace(string(upgraderWAT(2))), ")") + `
  (func (export "_initialize") (local $i i32)
    (loop $l
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br_if $l (i32.lt_u (local.get $i) (i32.const 100000))))))`
	m := load(t, r, "svc", goLike(t, wat, "upgrade-v2"))
	defer m.Close()
	if _, ok := m.Preinitialized(); !ok {
		t.Fatal("version 2 has no image")
	}
	if err := r.Install(ctx, "svc", "2.0.0", m); err != nil {
		t.Fatal(err)
	}
	before := p.FuelUsed()
	if err := r.Send(ctx, p.ID(), Message{Tag: 2, Data: []byte("resume")}); err != nil {
		t.Fatal(err)
	}
	if m := next(t, reports); m.Tag != 21 {
		t.Fatalf("report %d, want v2's resume (21)", m.Tag)
	}
	if used := p.FuelUsed() - before; used >= 100000 {
		t.Errorf("the upgrade burned %d fuel: the new instance ran _initialize", used)
	}
}

// A process whose MaxMemory cannot hold the image's memory starts
// normally, and ends as it would without images: its _initialize cannot
// grow the memory past the limit, and its next store traps.
func TestGoImageLargerThanMaxMemory(t *testing.T) {
	b := goLike(t, imageWAT, "image-maxmem")
	var reasons [2]string
	for i, images := range []bool{true, false} {
		r := newRuntime(t, WithGoImages(images))
		m := load(t, r, "golike", b)
		env, err := r.NewEnvironment(environment.Config{MaxMemory: 2 << 16})
		if err != nil {
			t.Fatal(err)
		}
		reason := wait(t, spawn(t, env, m, "check", I32(0)))
		if reason.Normal() {
			t.Fatalf("images %v: check ran with a memory its MaxMemory does not hold", images)
		}
		reasons[i] = reason.Error()
	}
	if reasons[0] != reasons[1] {
		t.Errorf("with images: %s\nwithout: %s", reasons[0], reasons[1])
	}
}
