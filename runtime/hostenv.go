package runtime

import (
	"encoding/binary"
	"errors"

	"github.com/wardrt/ward/environment"
	"github.com/wardrt/ward/internal/abi"
	"github.com/wardrt/ward/internal/wasm"
)

// Guest host functions of the ward_environment namespace: environments
// narrower than the caller's, held by handle (handles.go), to spawn into
// with ward_module.spawn. The config they read is in envconfig.go.

func hostEnvCreate(p *Process, wp *wasm.Proc) bool {
	mem := wp.Memory()
	raw, okCfg := guestBytes(mem, wp.HostArg(0), wp.HostArg(1))
	out, okOut := guestBytes(mem, wp.HostArg(2), 8)
	if !okCfg || !okOut {
		wp.Trap("ward_environment.create: config or handle pointer outside the caller's memory")
		return true
	}
	if len(raw) > abi.MaxEnvironmentConfigSize {
		wp.Return(abi.ErrInvalid)
		return true
	}
	var cfg environment.Config // no config: inherit everything
	var err error
	if len(raw) > 0 {
		cfg, err = decodeEnvConfig(raw)
	}
	if err != nil {
		wp.Return(abi.ErrInvalid)
		return true
	}
	// The handle is taken first, so that a guest at its MaxHandles makes
	// no environment at all: a dropped one would hold C memory (its
	// budget) until a collection, which Go heap use does not bring on.
	d := &p.env.rt.dyn
	entry := &handleEntry{kind: handleEnv, cost: envHandleCost}
	t, err := d.add(p, entry)
	if err != nil {
		wp.Return(abi.ErrLimit)
		return true
	}
	child, err := p.env.NewChild(cfg)
	if err != nil {
		_ = d.drop(p, t, handleEnv)
		wp.Return(envStatus(err))
		return true
	}
	d.mu.Lock()
	entry.env = child
	d.mu.Unlock()
	binary.LittleEndian.PutUint64(out, t)
	wp.Return(abi.OK)
	return true
}

// envStatus maps NewChild's error to a guest status.
func envStatus(err error) int64 {
	switch {
	case errors.Is(err, environment.ErrWiden):
		// Asking for more than the caller has is asking for authority.
		return abi.ErrPermission
	case errors.Is(err, ErrClosed), errors.Is(err, ErrEnvironmentClosed):
		return abi.ErrClosed
	}
	return abi.ErrInvalid
}

func hostEnvDrop(p *Process, wp *wasm.Proc) bool {
	wp.Return(handleStatus(p.env.rt.dyn.drop(p, uint64(wp.HostArg(0)), handleEnv)))
	return true
}
