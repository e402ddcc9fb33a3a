package runtime

import (
	"context"
	"fmt"
	"log/slog"
	"time"
)

// EndKind classifies why a process ended, for counting (Stats.Ended) and
// for Event.
type EndKind int

// End kinds. A reason wrapping another is counted by its outermost type:
// a MemoryLimitError caused by a trap is EndMemoryLimit, not EndTrap.
const (
	EndNormal      EndKind = iota // Normal
	EndKilled                     // Killed: Kill or Runtime.Close
	EndLinked                     // a linked process's exit signal, including NoConnection
	EndTrap                       // *TrapError
	EndOutOfFuel                  // *FuelError
	EndMemoryLimit                // *MemoryLimitError
	EndExit                       // *ExitError: a nonzero exit code
	EndInstantiate                // *InstantiateError
	EndGoError                    // *GoError: a Go-native process failed
	EndOther                      // anything else
	NumEndKinds                   // the length of Stats.Ended
)

var endKindNames = [NumEndKinds]string{"normal", "killed", "linked", "trap", "out of fuel", "memory limit", "exit", "instantiate", "go error", "other"}

func (k EndKind) String() string {
	if k >= 0 && k < NumEndKinds {
		return endKindNames[k]
	}
	return fmt.Sprintf("EndKind(%d)", int(k))
}

// endKind classifies reason; viaLink is set when a linked process's exit
// signal ended the process.
func endKind(reason Reason, viaLink bool) EndKind {
	if viaLink {
		return EndLinked
	}
	switch reason.(type) {
	case normalReason:
		return EndNormal
	case killedReason:
		return EndKilled
	case *TrapError:
		return EndTrap
	case *FuelError:
		return EndOutOfFuel
	case *MemoryLimitError:
		return EndMemoryLimit
	case *ExitError:
		return EndExit
	case *InstantiateError:
		return EndInstantiate
	case *GoError:
		return EndGoError
	case *PurgedError:
		return EndKilled
	}
	return EndOther
}

// EventKind says what an Event reports.
type EventKind int

// Event kinds.
const (
	EventStart EventKind = iota // the process's goroutine began running it
	EventEnd                    // it ended; Reason and End say why
)

func (k EventKind) String() string {
	if k == EventStart {
		return "start"
	}
	return "end"
}

// Event reports a process starting or ending, to the function given to
// WithEvents.
type Event struct {
	Kind        EventKind
	Process     ProcessID
	Environment *Environment
	Module      string  // the module's name; "" for a Go-native process
	Entry       string  // the entry function, or "go:name" for a Go-native process
	Reason      Reason  // EventEnd only
	End         EndKind // EventEnd only: Reason's kind
	Time        time.Time
}

// WithEvents has fn called when each process starts and when it ends, to
// feed logs, metrics or traces. Every process, Go-native ones and the
// short-lived ones Runtime.Request makes included, gets one EventStart and
// then one EventEnd; a process killed before it ran gets both too.
//
// fn runs synchronously on the process's goroutine: EventStart before its
// code runs, EventEnd after its links and monitors are told and before
// Wait and Done return. So fn must be fast and must not block (hand the
// event to a buffered channel or a logger, nothing that waits on other
// processes), and it may be called from many goroutines at once. A panic
// in fn is recovered and logged, and the process carries on; fn must not
// call runtime.Goexit (t.FailNow in a test).
func WithEvents(fn func(Event)) Option { return func(o *options) { o.events = fn } }

// emit calls the events hook, if any, with e.
func (p *Process) emit(kind EventKind, reason Reason, end EndKind) {
	r := p.env.rt
	fn := r.opts.events
	if fn == nil {
		return
	}
	e := Event{Kind: kind, Process: p.id, Environment: p.env, Entry: p.entry, Reason: reason, End: end, Time: time.Now()}
	if p.mod != nil {
		e.Module = p.module().name
	}
	defer func() {
		if v := recover(); v != nil {
			r.log.LogAttrs(context.Background(), slog.LevelError, "ward: events hook panicked",
				slog.Uint64("pid", uint64(p.id)), slog.String("event", kind.String()), slog.Any("panic", v))
		}
	}()
	fn(e)
}
