package runtime

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/wardrt/ward/environment"
	"github.com/wardrt/ward/hostapi"
	"github.com/wardrt/ward/internal/abi"
	"github.com/wardrt/ward/internal/errs"
	"github.com/wardrt/ward/internal/wasm"
)

// extHandler is one function of a host module, as the runtime serves it.
type extHandler struct {
	name     string // "namespace.name", for traps
	nparams  int
	nresults int
	handler  hostapi.Handler
	// mod is the module's index in the runtime's options.hostModules,
	// under which a process keeps its state and an environment its
	// configuration; below 0 for the built-in modules (hostbuiltin.go).
	mod      int
	newState func(context.Context, *hostapi.Call) (hostapi.State, error)
	perm     string  // Func.Permission
	refused  []int64 // Func.Refused
	// builtin marks the runtime's own modules' functions: perm is an
	// abi.Permission of the environment, and the handler is called holding
	// the run slot and is not observed (hostbuiltin.go says why).
	builtin bool
}

// hostFuncs validates host modules and lays out their functions for the
// engine's linker, after the built-in modules' functions.
func hostFuncs(mods []hostapi.Module) ([]wasm.HostFunc, []extHandler, error) {
	reserved := map[string]bool{abi.NamespaceWASI: true}
	for _, f := range abi.Funcs {
		if f.Impl != abi.Hosted { // ward's own, built in or served in C or Go
			reserved[f.Namespace] = true
		}
	}
	funcs := append([]wasm.HostFunc(nil), builtinFuncs...)
	handlers := append([]extHandler(nil), builtinHandlers...)
	for i, m := range mods {
		if err := m.Validate(); err != nil {
			return nil, nil, errs.Wrap(err, "host module")
		}
		if reserved[m.Namespace] || strings.HasPrefix(m.Namespace, "ward_") && !m.MatchesTable() {
			return nil, nil, fmt.Errorf("ward: host module namespace %q is taken or reserved (ward_* and WASI are ward's)", m.Namespace)
		}
		reserved[m.Namespace] = true
		fs, hs := moduleFuncs(m, i)
		funcs, handlers = append(funcs, fs...), append(handlers, hs...)
	}
	return funcs, handlers, nil
}

// moduleFuncs lays out a valid module's functions; mod is its index.
func moduleFuncs(m hostapi.Module, mod int) ([]wasm.HostFunc, []extHandler) {
	var funcs []wasm.HostFunc
	var handlers []extHandler
	for _, f := range m.Funcs {
		funcs = append(funcs, wasm.HostFunc{Namespace: m.Namespace, Name: f.Name, Params: f.Params, Results: f.Results})
		handlers = append(handlers, extHandler{
			name: m.Namespace + "." + f.Name, nparams: len(f.Params), nresults: len(f.Results), handler: f.Handler,
			mod: mod, newState: m.NewState, perm: f.Permission, refused: f.Refused,
		})
	}
	return funcs, handlers
}

// serveExternal runs a host module's handler on this goroutine while the
// guest waits. A panic or an error traps the guest; a kill cancels ctx.
func (p *Process) serveExternal(wp *wasm.Proc, h *extHandler) bool {
	// The call, its arguments included, lives in the process's context:
	// a process makes one host call at a time, and a Call per call would
	// be an allocation on every one. Only this goroutine ever sets p.ctx
	// (procContext), so it may read it without the lock once it is set.
	pc, ok := p.ctx.(*processContext)
	if !ok {
		pc = p.procContext()
	}
	if pc.calls == nil {
		pc.calls = new(hostCall)
	}
	args := pc.calls.args[:h.nparams]
	for i := range args {
		args[i] = wp.HostArg(i)
	}
	call := &pc.calls.call
	call.Reset(args, wp.Memory(), procView{p})
	var refused bool
	var err error
	if h.builtin {
		// ward's own: they give up the run slot themselves where they wait.
		refused, err = p.callHandler(pc, h, call)
	} else if obs := p.env.rt.opts.hostCallObserver; obs != nil {
		p.unslotted(func() {
			start := time.Now()
			refused, err = p.callHandler(pc, h, call)
			obs(h.name, time.Since(start))
		})
	} else {
		p.unslotted(func() { refused, err = p.callHandler(pc, h, call) }) // a handler may block on I/O
	}
	var res [hostapi.MaxResults]int64
	copy(res[:], call.Results())
	call.Reset(nil, nil, nil) // the memory may go with the process; the call must not keep it
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
	wp.Return(res[:h.nresults]...)
	return true
}

// callHandler checks h's permission, makes the module's state on the
// process's first call, and runs the handler. A panic in any of them (they
// are the module's code) is an error, which traps the guest.
func (p *Process) callHandler(pc *processContext, h *extHandler, call *hostapi.Call) (refused bool, err error) {
	defer func() {
		if v := recover(); v != nil {
			err = fmt.Errorf("handler panicked: %v", v)
		}
	}()
	var cfg environment.HostConfig
	if h.builtin {
		if !p.env.permits(abi.Permission(h.perm)) {
			return true, nil
		}
	} else if cfg = p.env.hostCfgs[h.mod]; h.perm != "" && (cfg == nil || !cfg.Permits(h.perm)) {
		return true, nil
	}
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
	// calls holds the host module call being served (serveExternal), made
	// at the first: also the process goroutine's alone.
	calls *hostCall
}

// hostCall is where a process's host module calls are served.
type hostCall struct {
	call hostapi.Call
	args [hostapi.MaxParams]int64
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
