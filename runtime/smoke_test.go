package runtime

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"testing"
	"time"
)

const smokeWAT = `(module
  (import "ward_process" "sleep_ms" (func $sleep (param i64)))
  (import "ward_process" "exit" (func $exit (param i32)))
  (memory (export "memory") 1)
  (func (export "run"))
  (func (export "spin") (loop $l (br $l)))
  (func (export "nap") (call $sleep (i64.const 100000)))
  (func (export "boom") unreachable)
  (func (export "bye") (param i32) (call $exit (local.get 0)))
)`

func TestSmoke(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	r, err := New(WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil))))
	if err != nil {
		t.Fatal(err)
	}
	m, err := r.LoadModule(ctx, "smoke", []byte(smokeWAT))
	if err != nil {
		t.Fatal(err)
	}
	env := r.Environment()
	wait := func(entry string, params ...Value) Reason {
		p, err := env.Spawn(ctx, m, entry, params...)
		if err != nil {
			t.Fatal(err)
		}
		reason, err := p.Wait(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return reason
	}
	if r := wait("run"); r != Normal {
		t.Fatalf("run: %v", r)
	}
	var te *TrapError
	if r := wait("boom"); !errors.As(r, &te) || te.Code != TrapUnreachableCodeReached {
		t.Fatalf("boom: %v", r)
	}
	var ee *ExitError
	if r := wait("bye", I32(3)); !errors.As(r, &ee) || ee.Code != 3 {
		t.Fatalf("bye: %v", r)
	}
	for _, entry := range []string{"spin", "nap"} {
		p, err := env.Spawn(ctx, m, entry)
		if err != nil {
			t.Fatal(err)
		}
		time.Sleep(10 * time.Millisecond)
		p.Kill()
		if r, _ := p.Wait(ctx); r != Killed {
			t.Fatalf("%s: %v", entry, r)
		}
	}
	if err := r.Close(ctx); err != nil {
		t.Fatal(err)
	}
}
