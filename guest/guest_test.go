package guest

import (
	"encoding/binary"
	"errors"
	"testing"
	"time"

	"github.com/wardrt/ward/internal/abi"
)

// Every status code of the ABI maps to its sentinel error, and an *Error
// for it matches that sentinel and no other.
func TestErrorsMatchStatuses(t *testing.T) {
	sentinels := map[int32]error{
		abi.ErrLimit:      ErrLimit,
		abi.ErrPermission: ErrPermission,
		abi.ErrNotFound:   ErrNotFound,
		abi.ErrInvalid:    ErrInvalid,
		abi.ErrClosed:     ErrClosed,
		abi.ErrTimeout:    ErrTimeout,
		abi.ErrTaken:      ErrTaken,
	}
	for st, want := range sentinels {
		err := fail("spawn \"x\"", st)
		if !errors.Is(err, want) {
			t.Errorf("status %d: %v does not match %v", st, err, want)
		}
		for other, s := range sentinels {
			if other != st && errors.Is(err, s) {
				t.Errorf("status %d: %v also matches %v", st, err, s)
			}
		}
		var e *Error
		if !errors.As(err, &e) || e.Status != st {
			t.Errorf("status %d: %#v is not an *Error with that status", st, err)
		}
		if got, want := err.Error(), "ward: spawn \"x\": "+want.Error(); got != want {
			t.Errorf("status %d: message %q, want %q", st, got, want)
		}
	}
	// The highest status the table defines has a sentinel: a new status
	// code in the ABI needs one here.
	if len(statusErrs) != abi.ErrTaken+1 {
		t.Errorf("statusErrs covers statuses up to %d, the ABI's go up to %d", len(statusErrs)-1, abi.ErrTaken)
	}
	err := fail("op", 42)
	if err == nil || err.Error() != "ward: op: status 42" {
		t.Errorf("unknown status: %v", err)
	}
	for _, s := range sentinels {
		if errors.Is(err, s) {
			t.Errorf("unknown status matches %v", s)
		}
	}
}

func TestParseExit(t *testing.T) {
	data := binary.LittleEndian.AppendUint64(nil, 42)
	data = binary.LittleEndian.AppendUint32(data, abi.ReasonExitCode)
	data = append(data, "process 42 exited with code 3"...)
	e, ok := ParseExit(Message{Tag: TagExit, Sender: 42, Data: data})
	if !ok || e != (ExitSignal{From: 42, Kind: ReasonExitCode, Text: "process 42 exited with code 3"}) {
		t.Errorf("ParseExit = %+v, %v", e, ok)
	}
	if _, ok := ParseExit(Message{Tag: TagDown, Data: data}); ok {
		t.Error("ParseExit accepted a TagDown message")
	}
	if _, ok := ParseExit(Message{Tag: TagExit, Data: data[:11]}); ok {
		t.Error("ParseExit accepted 11 bytes")
	}
	if e, ok := ParseExit(Message{Tag: TagExit, Data: data[:12]}); !ok || e.Text != "" {
		t.Errorf("ParseExit without text = %+v, %v", e, ok)
	}
}

func TestParseDown(t *testing.T) {
	data := binary.LittleEndian.AppendUint64(nil, 7)
	data = binary.LittleEndian.AppendUint64(data, 42)
	data = binary.LittleEndian.AppendUint32(data, abi.ReasonNoProc)
	data = append(data, "noproc"...)
	d, ok := ParseDown(Message{Tag: TagDown, Sender: 42, Data: data})
	if !ok || d != (Down{Ref: 7, Process: 42, Kind: ReasonNoProc, Text: "noproc"}) {
		t.Errorf("ParseDown = %+v, %v", d, ok)
	}
	if _, ok := ParseDown(Message{Tag: TagExit, Data: data}); ok {
		t.Error("ParseDown accepted a TagExit message")
	}
	if _, ok := ParseDown(Message{Tag: TagDown, Data: data[:19]}); ok {
		t.Error("ParseDown accepted 19 bytes")
	}
}

func TestReasonKinds(t *testing.T) {
	for k := ReasonNormal; k <= ReasonGoError; k++ {
		if reasonNames[k] == "" {
			t.Errorf("reason kind %d has no name", k)
		}
	}
	if ReasonKind(99).String() != "reason 99" {
		t.Errorf("unknown kind: %q", ReasonKind(99).String())
	}
	if !ReasonNormal.Normal() || ReasonKilled.Normal() {
		t.Error("Normal() is wrong")
	}
}

func TestTypedMessages(t *testing.T) {
	type point struct{ X, Y int }
	b, err := Encode(point{1, -2})
	if err != nil {
		t.Fatal(err)
	}
	var p point
	if err := (Message{Data: b}).Decode(&p); err != nil || p != (point{1, -2}) {
		t.Errorf("Decode = %+v, %v", p, err)
	}
	if err := (Message{Data: []byte{0xff}}).Decode(&p); err == nil {
		t.Error("Decode of garbage succeeded")
	}
}

func TestMillis(t *testing.T) {
	for _, c := range []struct {
		d    time.Duration
		want int64
	}{
		{Forever, -1}, {-time.Hour, -1}, {0, 0}, {time.Nanosecond, 1},
		{time.Millisecond, 1}, {1500 * time.Microsecond, 2}, {time.Second, 1000},
	} {
		if got := millis(c.d); got != c.want {
			t.Errorf("millis(%v) = %d, want %d", c.d, got, c.want)
		}
	}
}
