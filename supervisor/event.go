package supervisor

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/wardrt/ward/runtime"
)

// EventKind says what happened to a child or a supervisor.
type EventKind int

// The events a supervisor reports.
const (
	// EventStarted: a child started for the first time.
	EventStarted EventKind = iota + 1
	// EventExited: a child ended; Reason says why. Stopped is set when the
	// supervisor stopped it (shutdown, TerminateChild, a sibling's restart).
	EventExited
	// EventRestarted: a child started again; Delay is the backoff it
	// waited and Restarts counts its restarts so far.
	EventRestarted
	// EventStartFailed: a child's spawn or OnStart hook failed; Err says
	// why. A failed restart counts towards the intensity like a crash.
	EventStartFailed
	// EventKilled: a process child did not stop within its Shutdown after
	// its Stop function asked, and was killed.
	EventKilled
	// EventAbandoned: a child did not stop (see StopError); Err is the
	// *StopError.
	EventAbandoned
	// EventGaveUp: the supervisor exceeded its restart intensity (or
	// could not restart at all: runtime.ErrClosed or
	// runtime.ErrEnvironmentClosed), stopped its children
	// and is ending; Err is what Serve returns, an *IntensityError.
	EventGaveUp
)

var eventNames = map[EventKind]string{
	EventStarted:     "started",
	EventExited:      "exited",
	EventRestarted:   "restarted",
	EventStartFailed: "start failed",
	EventKilled:      "killed after shutdown timeout",
	EventAbandoned:   "abandoned: did not stop",
	EventGaveUp:      "gave up",
}

// String returns a short description: "started", "exited", ...
func (k EventKind) String() string {
	if s, ok := eventNames[k]; ok {
		return s
	}
	return fmt.Sprintf("EventKind(%d)", int(k))
}

// Event is one thing that happened in a supervisor, as passed to
// Options.OnEvent and logged.
type Event struct {
	Kind       EventKind
	Supervisor string
	Child      string            // empty for EventGaveUp
	Process    runtime.ProcessID // the child's process; 0 for a Service
	Reason     runtime.Reason    // EventExited: why the child ended
	Stopped    bool              // EventExited: the supervisor stopped it
	Err        error             // EventStartFailed, EventAbandoned, EventGaveUp
	Restarts   int               // EventRestarted: the child's restarts so far
	Delay      time.Duration     // EventRestarted: the backoff waited
}

func (s *Supervisor) emit(e Event) {
	e.Supervisor = s.name
	level, msg := slog.LevelInfo, "ward supervisor: child "+e.Kind.String()
	attrs := []slog.Attr{slog.String("supervisor", s.name)}
	if e.Child != "" {
		attrs = append(attrs, slog.String("child", e.Child))
	}
	if e.Process != 0 {
		attrs = append(attrs, slog.Uint64("pid", uint64(e.Process)))
	}
	switch e.Kind {
	case EventExited:
		attrs = append(attrs, slog.String("reason", e.Reason.Error()))
		switch {
		case e.Stopped:
			level = slog.LevelDebug
			attrs = append(attrs, slog.Bool("stopped", true))
		case !e.Reason.Normal():
			level = slog.LevelWarn
		}
	case EventRestarted:
		attrs = append(attrs, slog.Int("restarts", e.Restarts), slog.Duration("delay", e.Delay))
	case EventStartFailed, EventKilled, EventAbandoned:
		level = slog.LevelWarn
	case EventGaveUp:
		level, msg = slog.LevelError, "ward supervisor: gave up"
	}
	if e.Err != nil {
		attrs = append(attrs, slog.String("error", e.Err.Error()))
	}
	s.log.LogAttrs(context.Background(), level, msg, attrs...)
	if s.opts.OnEvent != nil {
		s.opts.OnEvent(e)
	}
}
