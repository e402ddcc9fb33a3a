package runtime

import (
	"context"
	"fmt"
	"log/slog"
	"maps"

	"github.com/wardrt/ward/environment"
	"github.com/wardrt/ward/hostapi"
)

// moduleState is one host module's state for one process.
type moduleState struct {
	mod   int // index in the runtime's options.hostModules
	state hostapi.State
}

// state returns the process's state in h's module, made on its first call
// there. A module's calls are few per process next to the work they do,
// and a process uses few modules, so a scan beats a map.
func (pc *processContext) state(p *Process, h *extHandler, c *hostapi.Call) (hostapi.State, error) {
	for _, s := range pc.states {
		if s.mod == h.mod {
			return s.state, nil
		}
	}
	st, err := h.newState(pc, c)
	if err != nil {
		return nil, err
	}
	if st == nil {
		return nil, fmt.Errorf("ward: %s's NewState returned no state and no error", p.env.rt.moduleName(h.mod))
	}
	pc.states = append(pc.states, moduleState{h.mod, st})
	return st, nil
}

// closeHostStates closes the host modules' states the process made, the
// newest first, as a stack of deferred closes would: a later module may
// use what an earlier one gave it. It runs as the process ends, on its
// goroutine, holding no run slot, before Wait returns.
func (p *Process) closeHostStates() {
	p.ctxMu.Lock()
	pc, _ := p.ctx.(*processContext)
	var states []moduleState
	if pc != nil {
		states, pc.states = pc.states, nil
	}
	p.ctxMu.Unlock()
	if len(states) == 0 {
		return
	}
	ctx := pc.base
	for i := len(states) - 1; i >= 0; i-- {
		p.closeHostState(ctx, states[i])
	}
}

// closeHostState closes one state; a panic there is the module's bug, so
// it is logged and the other states are still closed.
func (p *Process) closeHostState(ctx context.Context, s moduleState) {
	defer func() {
		if v := recover(); v != nil {
			ns := p.env.rt.moduleName(s.mod)
			p.env.rt.log.LogAttrs(ctx, slog.LevelError, "ward: host module state's Close panicked",
				slog.Uint64("pid", uint64(p.id)), slog.String("module", ns), slog.Any("panic", v))
		}
	}()
	s.state.Close(ctx)
}

// withHostDefaults returns a root's host configurations with each
// module's DefaultConfig where the root sets none, so that every
// environment has a configuration for every module that has one, and a
// child can narrow it.
func withHostDefaults(host map[string]environment.HostConfig, mods []hostapi.Module) map[string]environment.HostConfig {
	out := maps.Clone(host)
	for _, m := range mods {
		if m.DefaultConfig != nil && out[m.Namespace] == nil {
			if out == nil {
				out = map[string]environment.HostConfig{}
			}
			out[m.Namespace] = m.DefaultConfig
		}
	}
	return out
}

// hostConfigs lays out an environment's host configurations by module
// index, so a host call finds its module's without a map lookup.
func hostConfigs(rt *Runtime, cfg environment.Config) []environment.HostConfig {
	mods := rt.opts.hostModules
	if len(mods) == 0 {
		return nil
	}
	out := make([]environment.HostConfig, len(mods))
	for i, m := range mods {
		out[i] = cfg.Host[m.Namespace]
	}
	return out
}
