package runtime

import (
	"encoding/binary"
	"errors"
	"testing"

	"github.com/wardrt/ward/environment"
)

// fuelWAT's serve answers each request after counting down from the i64
// the request holds: a server whose every request costs what it asks.
// selfish keeps itself busy with messages to itself.
const fuelWAT = `(module
  (import "ward_message" "receive" (func $receive (param i32 i32 i64) (result i32)))
  (import "ward_message" "read_data" (func $read (param i32 i32) (result i32)))
  (import "ward_message" "get_tag" (func $tag (result i64)))
  (import "ward_message" "sender" (func $sender (result i64)))
  (import "ward_message" "create_data" (func $create (param i64)))
  (import "ward_message" "send" (func $send (param i64) (result i32)))
  (import "ward_process" "self" (func $self (result i64)))
  (memory (export "memory") 1)
  (func $burn (param $n i64)
    (loop $l
      (local.set $n (i64.sub (local.get $n) (i64.const 1)))
      (br_if $l (i64.gt_s (local.get $n) (i64.const 0)))))
  (func (export "serve")
    (loop $l
      (drop (call $receive (i32.const 0) (i32.const 0) (i64.const -1)))
      (drop (call $read (i32.const 0) (i32.const 8)))
      (call $burn (i64.load (i32.const 0)))
      (call $create (call $tag))
      (drop (call $send (call $sender)))
      (br $l)))
  (func (export "burn") (param i64) (call $burn (local.get 0)))
  (func (export "selfish")
    (loop $l
      (call $create (i64.const 1))
      (drop (call $send (call $self)))
      (drop (call $receive (i32.const 0) (i32.const 0) (i64.const -1)))
      (call $burn (i64.const 1000))
      (br $l))))`

func work(n int64) []byte { return binary.LittleEndian.AppendUint64(nil, uint64(n)) }

// TestFuelUsed checks that a process's fuel is readable, grows with the
// work it does, and stays readable after it ends.
func TestFuelUsed(t *testing.T) {
	r := newRuntime(t)
	m := load(t, r, "fuel", []byte(fuelWAT))
	used := func(n int64) uint64 {
		p := spawn(t, r.Environment(), m, "burn", I64(n))
		if reason := wait(t, p); !reason.Normal() {
			t.Fatalf("burn(%d) ended with %v", n, reason)
		}
		return p.FuelUsed()
	}
	small, big := used(1_000), used(100_000)
	if small < 1_000 || big < 100_000 {
		t.Fatalf("burning 1,000 and 100,000 iterations used %d and %d fuel: less than one an iteration", small, big)
	}
	if big < 50*small {
		t.Fatalf("100 times the work used %d fuel against %d", big, small)
	}
}

// TestFuelPerMessage checks that a long-lived server lives on a budget per
// request: FuelPerLife ends it once its requests together pass MaxFuel,
// FuelPerMessage serves them all and still ends a request that loops, and
// a process's messages to itself do not refill it.
func TestFuelPerMessage(t *testing.T) {
	const maxFuel, perRequest, requests = 200_000, 10_000, 30
	r := newRuntime(t, WithRootEnvironment(environment.Config{FuelScope: environment.FuelPerMessage}))
	ctx := testCtx(t)
	m := load(t, r, "fuel", []byte(fuelWAT))
	envWith := func(scope environment.FuelScope) *Environment {
		env, err := r.NewEnvironment(environment.Config{MaxFuel: maxFuel, FuelScope: scope})
		if err != nil {
			t.Fatal(err)
		}
		return env
	}

	t.Run("per life", func(t *testing.T) {
		p := spawn(t, envWith(environment.FuelPerLife), m, "serve")
		var err error
		for i := 0; i < requests && err == nil; i++ {
			_, err = p.Call(ctx, work(perRequest))
		}
		if !errors.Is(err, ErrOutOfFuel) {
			t.Fatalf("%d requests of %d iterations on %d fuel for life: %v, want ErrOutOfFuel", requests, perRequest, maxFuel, err)
		}
	})
	t.Run("per message", func(t *testing.T) {
		p := spawn(t, envWith(environment.FuelPerMessage), m, "serve")
		for i := range requests {
			if _, err := p.Call(ctx, work(perRequest)); err != nil {
				t.Fatalf("request %d: %v", i, err)
			}
		}
		if used := p.FuelUsed(); used <= maxFuel {
			t.Fatalf("the server used %d fuel over %d requests, not past one tank of %d", used, requests, maxFuel)
		}
		_, err := p.Call(ctx, work(1<<40))
		var fe *FuelError
		if !errors.As(err, &fe) || fe.Limit != maxFuel {
			t.Fatalf("a request that loops: %v, want a *FuelError with limit %d", err, maxFuel)
		}
	})
	t.Run("messages to itself", func(t *testing.T) {
		p := spawn(t, envWith(environment.FuelPerMessage), m, "selfish")
		if reason := wait(t, p); !errors.Is(reason, ErrOutOfFuel) {
			t.Fatalf("a process feeding itself messages ended with %v, want ErrOutOfFuel", reason)
		}
	})
}
