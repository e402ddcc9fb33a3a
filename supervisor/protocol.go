package supervisor

import (
	"context"
	"errors"
	"fmt"

	"github.com/wardrt/ward/runtime"
)

// Request is a request to a supervisor running as a process, sent as a
// CBOR-encoded message (runtime.EncodeMessage) with any tag of zero or
// more; the Response comes back to the sender under the same tag. See the
// package documentation for the operations.
type Request struct {
	Op   string `cbor:"op"`             // "which_children", "start_child", "terminate_child", "restart_child", "delete_child"
	Name string `cbor:"name,omitempty"` // the child, for terminate, restart and delete
	Args []Arg  `cbor:"args,omitempty"` // start_child: the dynamic child's extra arguments
}

// Arg is one argument of a start_child request: a map with exactly one of
// the keys "i32", "i64", "f32", "f64".
type Arg struct {
	I32 *int32   `cbor:"i32,omitempty"`
	I64 *int64   `cbor:"i64,omitempty"`
	F32 *float32 `cbor:"f32,omitempty"`
	F64 *float64 `cbor:"f64,omitempty"`
}

// ArgI32 returns an i32 argument.
func ArgI32(v int32) Arg { return Arg{I32: &v} }

// ArgI64 returns an i64 argument.
func ArgI64(v int64) Arg { return Arg{I64: &v} }

// ArgF32 returns an f32 argument.
func ArgF32(v float32) Arg { return Arg{F32: &v} }

// ArgF64 returns an f64 argument.
func ArgF64(v float64) Arg { return Arg{F64: &v} }

func (a Arg) value() (runtime.Value, bool) {
	n := 0
	var v runtime.Value
	if a.I32 != nil {
		n, v = n+1, runtime.I32(*a.I32)
	}
	if a.I64 != nil {
		n, v = n+1, runtime.I64(*a.I64)
	}
	if a.F32 != nil {
		n, v = n+1, runtime.F32(*a.F32)
	}
	if a.F64 != nil {
		n, v = n+1, runtime.F64(*a.F64)
	}
	return v, n == 1
}

// Response answers a Request. When OK is false, Code names the error (see
// the package documentation) and Error describes it.
type Response struct {
	OK       bool          `cbor:"ok"`
	Code     string        `cbor:"code,omitempty"`
	Error    string        `cbor:"error,omitempty"`
	Name     string        `cbor:"name,omitempty"`     // start_child, restart_child: the child
	PID      uint64        `cbor:"pid,omitempty"`      // start_child, restart_child: its process, 0 for a Service
	Children []ChildRecord `cbor:"children,omitempty"` // which_children
}

// ChildRecord is one child in a which_children Response.
type ChildRecord struct {
	Name     string `cbor:"name"`
	PID      uint64 `cbor:"pid,omitempty"` // 0 for a Service or a child not running
	State    string `cbor:"state"`         // "running", "restarting", "stopped"
	Restart  string `cbor:"restart"`       // "permanent", "transient", "temporary"
	Restarts int    `cbor:"restarts"`
	Dynamic  bool   `cbor:"dynamic,omitempty"`
	Reason   string `cbor:"reason,omitempty"` // why it last ended
}

// Error codes of a Response, and the errors they stand for.
var codes = []struct {
	code string
	err  error
}{
	{"no_child", ErrNoChild},
	{"duplicate", ErrDuplicateChild},
	{"strategy", ErrStrategy},
	{"child_running", ErrChildRunning},
	{"not_running", ErrNotRunning},
	{"not_stopped", ErrNotStopped},
	{"invalid", ErrInvalidSpec},
	{"bad_request", errBadRequest},
}

var errBadRequest = errors.New("bad request")

// codeOf returns the Response code for err: one of codes, "start_failed"
// for a *StartError, "error" otherwise.
func codeOf(err error) string {
	for _, c := range codes {
		if errors.Is(err, c.err) {
			return c.code
		}
	}
	var se *StartError
	if errors.As(err, &se) {
		return "start_failed"
	}
	return "error"
}

// RemoteError is a failed Response as an error: errors.Is matches it
// against the error its Code stands for (ErrNoChild for "no_child", ...).
type RemoteError struct {
	Code    string
	Message string
}

// Error returns the supervisor's description of the failure.
func (e *RemoteError) Error() string { return e.Message }

// Is matches the sentinel error of the code.
func (e *RemoteError) Is(target error) bool {
	for _, c := range codes {
		if c.code == e.Code && c.err == target {
			return true
		}
	}
	return false
}

// Call sends req from the Go-native process self to the supervisor process
// sup and waits for its Response. A Response that is not OK is returned
// with a *RemoteError.
func Call(ctx context.Context, self *runtime.Self, sup runtime.ProcessID, req Request) (Response, error) {
	m, err := runtime.EncodeMessage(0, req)
	if err != nil {
		return Response{}, err
	}
	reply, err := self.Request(ctx, sup, m)
	if err != nil {
		return Response{}, err
	}
	var resp Response
	if err := runtime.DecodeMessage(reply, &resp); err != nil {
		return Response{}, err
	}
	if !resp.OK {
		return resp, &RemoteError{Code: resp.Code, Message: resp.Error}
	}
	return resp, nil
}

// answer serves requests from the process's mailbox until ctx ends.
func (s *Supervisor) answer(ctx context.Context, self *runtime.Self) {
	for {
		m, err := self.Receive(ctx)
		if err != nil {
			return
		}
		if m.Tag < 0 {
			continue // a signal; the supervisor neither traps exits nor monitors
		}
		resp := s.handle(ctx, m)
		if m.Sender == 0 {
			continue // sent from outside any process: nowhere to reply
		}
		out, err := runtime.EncodeMessage(m.Tag, resp)
		if err == nil {
			_ = self.Reply(m, out) // the sender may have ended
		}
	}
}

func (s *Supervisor) handle(ctx context.Context, m runtime.Message) Response {
	var req Request
	if err := runtime.DecodeMessage(m, &req); err != nil {
		return failure(fmt.Errorf("%w: %w", errBadRequest, err))
	}
	switch req.Op {
	case "which_children":
		infos := s.WhichChildren()
		resp := Response{OK: true, Children: make([]ChildRecord, len(infos))}
		for i, c := range infos {
			r := ChildRecord{
				Name: c.Name, State: c.State.String(), Restart: c.Restart.String(),
				Restarts: c.Restarts, Dynamic: c.Dynamic,
			}
			if c.Process != nil {
				r.PID = uint64(c.Process.ID())
			}
			if c.Reason != nil {
				r.Reason = c.Reason.Error()
			}
			resp.Children[i] = r
		}
		return resp
	case "start_child":
		args := make([]runtime.Value, len(req.Args))
		for i, a := range req.Args {
			v, ok := a.value()
			if !ok {
				return failure(fmt.Errorf("%w: argument %d needs exactly one of i32, i64, f32, f64", errBadRequest, i))
			}
			args[i] = v
		}
		return started(s.StartDynamic(ctx, args...))
	case "restart_child":
		return started(s.RestartChild(ctx, req.Name))
	case "terminate_child":
		return done(s.TerminateChild(ctx, req.Name))
	case "delete_child":
		return done(s.DeleteChild(ctx, req.Name))
	}
	return failure(fmt.Errorf("%w: unknown op %q", errBadRequest, req.Op))
}

func failure(err error) Response {
	return Response{Code: codeOf(err), Error: err.Error()}
}

func done(err error) Response {
	if err != nil {
		return failure(err)
	}
	return Response{OK: true}
}

func started(c ChildInfo, err error) Response {
	if err != nil {
		return failure(err)
	}
	resp := Response{OK: true, Name: c.Name}
	if c.Process != nil {
		resp.PID = uint64(c.Process.ID())
	}
	return resp
}
