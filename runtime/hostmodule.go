package runtime

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/wardrt/ward/hostapi"
	"github.com/wardrt/ward/internal/abi"
	"github.com/wardrt/ward/internal/errs"
	"github.com/wardrt/ward/internal/wasm"
)

// extHandler is one function of a host module, as the runtime serves it.
type extHandler struct {
	name     string // "namespace.name", for traps
	nresults int
	handler  hostapi.Handler
	mod      int // the module's index in the runtime's options.hostModules
	newState func(context.Context, *hostapi.Call) (hostapi.State, error)
	perm     string  // Func.Permission
	refused  []int64 // Func.Refused
}

// hostFuncs validates host modules and lays out their functions for the
// engine's linker.
func hostFuncs(mods []hostapi.Module) ([]wasm.HostFunc, []extHandler, error) {
	reserved := map[string]bool{abi.NamespaceWASI: true}
	for _, f := range abi.Funcs {
		if f.Impl != abi.Hosted { // ward's own modules, written on hostapi
			reserved[f.Namespace] = true
		}
	}
	var funcs []wasm.HostFunc
	var handlers []extHandler
	for i, m := range mods {
		if err := m.Validate(); err != nil {
			return nil, nil, errs.Wrap(err, "host module")
		}
		if reserved[m.Namespace] || strings.HasPrefix(m.Namespace, "ward_") && !m.MatchesTable() {
			return nil, nil, fmt.Errorf("ward: host module namespace %q is taken or reserved (ward_* and WASI are ward's)", m.Namespace)
		}
		reserved[m.Namespace] = true
		for _, f := range m.Funcs {
			funcs = append(funcs, wasm.HostFunc{Namespace: m.Namespace, Name: f.Name, Params: f.Params, Results: f.Results})
			handlers = append(handlers, extHandler{
				name: m.Namespace + "." + f.Name, nresults: len(f.Results), handler: f.Handler,
				mod: i, newState: m.NewState, perm: f.Permission, refused: f.Refused,
			})
		}
	}
	return funcs, handlers, nil
}

// serveExternal runs a host module's handler on this goroutine while the
// guest waits. A panic or an error traps the guest; a kill cancels ctx.
func (p *Process) serveExternal(wp *wasm.Proc, h *extHandler) bool {
	_, args := wp.HostCall()
	call := hostapi.NewCall(args, wp.Memory(), procView{p})
	var refused bool
	var err error
	if obs := p.env.rt.opts.hostCallObserver; obs != nil {
		p.unslotted(func() {
			start := time.Now()
			refused, err = p.callHandler(h, call)
			obs(h.name, time.Since(start))
		})
	} else {
		p.unslotted(func() { refused, err = p.callHandler(h, call) }) // a handler may block on I/O
	}
	if p.killed.Load() {
		return false
	}
	if refused {
		if h.refused == nil {
			wp.Trap(fmt.Sprintf("permission denied: %s needs %s", h.name, h.perm))
		} else {
			wp.Return(h.refused...)
		}
		return true
	}
	if err != nil {
		wp.Trap(h.name + ": " + strings.TrimPrefix(err.Error(), errs.Prefix))
		return true
	}
	var res [hostapi.MaxResults]int64
	copy(res[:], call.Results())
	wp.Return(res[:h.nresults]...)
	return true
}

// callHandler checks h's permission, makes the module's state on the
// process's first call, and runs the handler. A panic in any of them (they
// are the module's code) is an error, which traps the guest.
func (p *Process) callHandler(h *extHandler, call *hostapi.Call) (refused bool, err error) {
	defer func() {
		if v := recover(); v != nil {
			err = fmt.Errorf("handler panicked: %v", v)
		}
	}()
	cfg := p.env.hostCfgs[h.mod]
	if h.perm != "" && (cfg == nil || !cfg.Permits(h.perm)) {
		return true, nil
	}
	pc := p.procContext()
	call.SetState(nil, cfg)
	if h.newState != nil {
		st, err := pc.state(p, h, call)
		if err != nil {
			return false, err
		}
		call.SetState(st, cfg)
	}
	return false, h.handler(pc, call)
}

// hostContext returns a context that carries the values of the context
// the process was spawned with and ends when the process is ending. It is
// made on first use: most processes never call a host module.
func (p *Process) hostContext() context.Context { return p.procContext() }

// procContext is hostContext as the process's own type, which holds its
// host modules' states.
func (p *Process) procContext() *processContext {
	p.ctxMu.Lock()
	defer p.ctxMu.Unlock()
	pc, ok := p.ctx.(*processContext)
	if !ok {
		pc = newProcessContext(p.ctx)
		p.ctx = pc
		if p.killed.Load() {
			pc.cancel()
		}
	}
	return pc
}

// spawnValues returns a context with the values of the one the process
// was spawned with, that never ends: for its log lines and its children.
func (p *Process) spawnValues() context.Context {
	p.ctxMu.Lock()
	defer p.ctxMu.Unlock()
	return valuesOf(p.ctx)
}

// processContext is a process's own context: it ends with the process
// and carries the values of the spawn's context, kept apart as base so
// that what the process spawns inherits those values directly. A chain of
// processes each spawning the next then holds one context, not a chain as
// long as the line of processes.
type processContext struct {
	context.Context // context.WithCancel(base)
	base            context.Context
	cancel          context.CancelFunc
	// states are the host modules' states for the process, in the order
	// made (hoststate.go). Only the process's goroutine touches them: host
	// module calls are never served by a borrower (handoff.go).
	states []moduleState
}

func newProcessContext(spawnCtx context.Context) *processContext {
	base := valuesOf(spawnCtx)
	ctx, cancel := context.WithCancel(base)
	return &processContext{Context: ctx, base: base, cancel: cancel}
}

// valuesOf keeps ctx's values and drops its deadline and cancellation: a
// process outlives the call that spawned it. A nil ctx has no values.
func valuesOf(ctx context.Context) context.Context {
	switch c := ctx.(type) {
	case nil:
		return context.Background()
	case *processContext:
		return c.base
	}
	if ctx.Done() == nil { // already never ends: Background, WithoutCancel
		return ctx
	}
	return context.WithoutCancel(ctx)
}

// procView is what handlers see of the calling process.
type procView struct{ p *Process }

func (v procView) ID() uint64      { return uint64(v.p.id) }
func (v procView) Names() []string { return v.p.names() }
func (v procView) Send(to uint64, tag int64, data []byte) error {
	q := v.p.env.rt.lookup(ProcessID(to))
	if q == nil {
		return v.p.env.rt.sendTo(v.p.id, ProcessID(to), Message{Tag: tag, Data: data})
	}
	return q.deliver(Message{Sender: uint64(v.p.id), Tag: tag, Data: data})
}
