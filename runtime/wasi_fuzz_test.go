package runtime

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/wardrt/ward/testdata"
)

// FuzzWASIShadows calls the WASI functions ward shadows (poll_oneoff,
// random_get, fd_renumber) from hostile_wasi with the fuzzer's arguments.
// The host must survive every call, and the process must end as a guest
// can end: normally, with an exit code (the errno), with a trap (a bad
// pointer), or killed when it waits past the guard (a long clock wait).
func FuzzWASIShadows(f *testing.F) {
	f.Add(uint8(0), uint32(0), uint32(0), uint32(0xFFFFFFFF), uint32(0))
	f.Add(uint8(0), uint32(1024), uint32(2048), uint32(1), uint32(4000))
	f.Add(uint8(0), uint32(4000), uint32(0), uint32(2), uint32(3))
	f.Add(uint8(1), uint32(0), uint32(1<<30), uint32(0), uint32(0))
	f.Add(uint8(1), uint32(65535), uint32(1), uint32(0), uint32(0))
	f.Add(uint8(2), uint32(1), uint32(1), uint32(0), uint32(0))
	f.Add(uint8(3), uint32(1), uint32(0), uint32(1000), uint32(1))
	f.Add(uint8(3), uint32(0), uint32(0xFFFFFFFF), uint32(0xFFFFFFFF), uint32(1))
	f.Add(uint8(4), uint32(1), uint32(0), uint32(0), uint32(0))
	r, err := New(WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil))))
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := r.Close(ctx); err != nil {
			f.Errorf("Close: %v", err)
		}
	})
	m, err := r.LoadModule(context.Background(), "hostile_wasi", testdata.HostileWASI)
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, fn uint8, a, b, c, d uint32) {
		var entry string
		var params []Value
		switch fn % 5 {
		case 0:
			entry, params = "poll", []Value{I32(int32(a)), I32(int32(b)), I32(int32(c)), I32(int32(d))}
		case 1:
			entry, params = "random", []Value{I32(int32(a)), I32(int32(b))}
		case 2:
			entry, params = "renumber", []Value{I32(int32(a)), I32(int32(b))}
		case 3:
			timeout := int64(uint64(b)<<32 | uint64(c))
			entry, params = "poll_clock", []Value{I32(int32(a)), I64(timeout), I32(int32(d)), I64(int64(a) * 31)}
		case 4:
			entry, params = "poll_fd", []Value{I32(int32(a)), I32(int32(b))}
		}
		p, err := r.Environment().Spawn(context.Background(), m, entry, params...)
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		reason, err := p.Wait(ctx)
		cancel()
		if err != nil {
			p.Kill() // a long wait: Kill must end it
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			reason, err = p.Wait(ctx)
			cancel()
			if err != nil {
				t.Fatalf("%s%v: not ended 10 s after Kill", entry, params)
			}
			if reason != Killed {
				t.Fatalf("%s%v: killed, ended %v", entry, params, reason)
			}
			return
		}
		var ee *ExitError
		var te *TrapError
		if reason != Normal && !errors.As(reason, &ee) && !errors.As(reason, &te) {
			t.Fatalf("%s%v: ended %v (%T), want normal, an exit or a trap", entry, params, reason, reason)
		}
	})
}
