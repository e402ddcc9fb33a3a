package runtime

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"

	"github.com/wardrt/ward/testdata"
)

func TestEveryTrapKindEndsOnlyItsProcess(t *testing.T) {
	r := newRuntime(t)
	env := r.Environment()
	traps := load(t, r, "traps", testdata.Traps)
	procs := load(t, r, "procs", testdata.Procs)
	bystander := spawn(t, env, procs, "sleep_forever")

	cases := []struct {
		entry string
		code  TrapCode
	}{
		{"unreachable", TrapUnreachableCodeReached},
		{"oob_load", TrapMemoryOutOfBounds},
		{"div_zero", TrapIntegerDivisionByZero},
		{"int_overflow", TrapIntegerOverflow},
		{"bad_conversion", TrapBadConversionToInteger},
		{"indirect_null", TrapIndirectCallToNull},
		{"bad_signature", TrapBadSignature},
		{"table_oob", TrapTableOutOfBounds},
	}
	for _, c := range cases {
		t.Run(c.entry, func(t *testing.T) {
			reason := wait(t, spawn(t, env, traps, c.entry))
			var te *TrapError
			if !errors.As(reason, &te) {
				t.Fatalf("reason %T %v, want *TrapError", reason, reason)
			}
			if te.Code != c.code || te.Entry != c.entry || te.Module != "traps" || reason.Normal() {
				t.Fatalf("got %+v, want code %v", te, c.code)
			}
			if len(te.Backtrace) == 0 || te.Backtrace[0].Func != c.entry {
				t.Fatalf("backtrace %v should start in %s", te.Backtrace, c.entry)
			}
		})
	}
	t.Run("stack overflow", func(t *testing.T) {
		m := load(t, r, "recurse", testdata.Recurse)
		var te *TrapError
		if reason := wait(t, spawn(t, env, m, "recurse", I64(0))); !errors.As(reason, &te) || te.Code != TrapStackOverflow {
			t.Fatalf("reason %v, want stack overflow", reason)
		}
	})
	t.Run("start function", func(t *testing.T) {
		m := load(t, r, "start_trap", testdata.StartTrap)
		var ie *InstantiateError
		var te *TrapError
		reason := wait(t, spawn(t, env, m, m.Exports()[0]))
		if !errors.As(reason, &ie) || !errors.As(reason, &te) || te.Code != TrapUnreachableCodeReached {
			t.Fatalf("reason %T %v, want an *InstantiateError wrapping the trap", reason, reason)
		}
	})
	t.Run("bad pointer to a host function", func(t *testing.T) {
		reason := wait(t, spawn(t, env, procs, "spawn_bad_ptr"))
		var te *TrapError
		if !errors.As(reason, &te) || te.Code != TrapNone || !strings.Contains(te.Message, "outside the caller's memory") {
			t.Fatalf("reason %T %v, want a host trap naming the bad pointer", reason, reason)
		}
	})
	if bystander.Reason() != nil {
		t.Fatalf("the bystander ended: %v", bystander.Reason())
	}
	bystander.Kill()
	if reason := wait(t, bystander); reason != Killed {
		t.Fatalf("bystander: %v", reason)
	}
}

// recordingHandler keeps the records a logger gets.
type recordingHandler struct {
	mu      sync.Mutex
	records []slog.Record
}

func (h *recordingHandler) Enabled(context.Context, slog.Level) bool { return true }
func (h *recordingHandler) Handle(_ context.Context, r slog.Record) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.records = append(h.records, r)
	return nil
}
func (h *recordingHandler) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h *recordingHandler) WithGroup(string) slog.Handler      { return h }

func TestTrapsAreLogged(t *testing.T) {
	h := &recordingHandler{}
	r := newRuntime(t, WithLogger(slog.New(h)))
	m := load(t, r, "traps", testdata.Traps)
	p := spawn(t, r.Environment(), m, "unreachable")
	wait(t, p)
	procs := load(t, r, "procs", testdata.Procs)
	killed := spawn(t, r.Environment(), procs, "sleep_forever")
	killed.Kill()
	wait(t, killed)

	h.mu.Lock()
	defer h.mu.Unlock()
	if len(h.records) != 1 {
		t.Fatalf("got %d log records, want 1 (the trap; kills are not failures)", len(h.records))
	}
	rec := h.records[0]
	attrs := map[string]string{}
	rec.Attrs(func(a slog.Attr) bool { attrs[a.Key] = a.Value.String(); return true })
	if rec.Level != slog.LevelWarn || attrs["pid"] != p.ID().String() || attrs["trap"] != "unreachable" || attrs["entry"] != "unreachable" {
		t.Fatalf("record %q %v", rec.Message, attrs)
	}
}
