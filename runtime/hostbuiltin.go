package runtime

import (
	"context"
	"fmt"

	"github.com/wardrt/ward/hostapi"
	"github.com/wardrt/ward/internal/abi"
	"github.com/wardrt/ward/internal/wasm"
)

// ward's own namespaces written on hostapi (abi.Builtin): ward_registry,
// ward_module and ward_environment. Every runtime links them ahead of the
// embedder's host modules, and serves them as it serves those
// (serveExternal), with three differences that keep what guests and
// embedders saw when they were served from goHost: their permissions are
// the environment's own (Environment.permits, not a module
// configuration), they hold the run slot as goHost's functions do and
// give it up only where they wait (a compile, another caller's
// get_or_spawn), and WithHostCallObserver does not time them. Their handlers are in hostreg.go, hostdyn.go and
// hostenv.go; the state of the last two, the handles a process holds, in
// handles.go. docs/why.md ("One host-module mechanism") has the figures.

// The module indexes of the built-in modules (extHandler.mod), below the
// embedder's. ward_module and ward_environment share modHandles, and so
// one state per process, a heldHandles, since MaxHandles bounds module
// and environment handles together; ward_registry has no state.
const (
	modHandles  = -1
	modRegistry = -2
)

// builtinFuncs and builtinHandlers are the built-in modules' functions,
// laid out as hostFuncs lays out the embedder's.
var (
	builtinFuncs    []wasm.HostFunc
	builtinHandlers []extHandler
)

func init() {
	for _, b := range []struct {
		mod int
		m   hostapi.Module
	}{
		{modRegistry, builtinModule(abi.NamespaceRegistry, nil, map[string]hostapi.Handler{
			"register": hostRegister, "unregister": hostUnregister, "lookup": hostLookup, "get_or_spawn": hostGetOrSpawn,
		})},
		{modHandles, builtinModule(abi.NamespaceModule, newHeldHandles, map[string]hostapi.Handler{
			"load": hostModuleLoad, "spawn": hostModuleSpawn, "drop": hostModuleDrop, "take": hostModuleTake,
		})},
		{modHandles, builtinModule(abi.NamespaceEnvironment, newHeldHandles, map[string]hostapi.Handler{
			"create": hostEnvCreate, "drop": hostEnvDrop,
		})},
	} {
		fs, hs := moduleFuncs(b.m, b.mod)
		for i := range hs {
			hs[i].builtin = true
		}
		builtinFuncs = append(builtinFuncs, fs...)
		builtinHandlers = append(builtinHandlers, hs...)
	}
}

// builtinModule makes one built-in module from the ABI table; a handler
// missing or too many is a bug of this package, found at its first test.
func builtinModule(ns string, newState func(context.Context, *hostapi.Call) (hostapi.State, error), handlers map[string]hostapi.Handler) hostapi.Module {
	m, err := hostapi.Builtin(ns, handlers)
	if err != nil {
		panic(fmt.Sprintf("ward: built-in host module: %v", err))
	}
	m.NewState = newState
	return m
}

// newHeldHandles makes a process's heldHandles at its first call of
// ward_module or ward_environment.
func newHeldHandles(_ context.Context, c *hostapi.Call) (hostapi.State, error) {
	return &heldHandles{p: callerProcess(c)}, nil
}

// callerProcess returns the process making a built-in call. hostapi gives
// handlers a Process interface; the runtime's own handlers assert it back
// to the runtime's view, which is how they reach the process and its
// environment while hostapi's public surface stays what a third party may
// use.
func callerProcess(c *hostapi.Call) *Process { return c.Process().(procView).p }

// caller returns the process making a ward_module or ward_environment
// call and the handles it holds, the modules' state.
func caller(c *hostapi.Call) (*Process, *heldHandles) {
	return callerProcess(c), c.State().(*heldHandles)
}

// moduleName is the namespace of the module at index mod, for logs.
func (r *Runtime) moduleName(mod int) string {
	switch mod {
	case modHandles:
		return abi.NamespaceModule + "/" + abi.NamespaceEnvironment
	case modRegistry:
		return abi.NamespaceRegistry
	}
	return r.opts.hostModules[mod].Namespace
}
