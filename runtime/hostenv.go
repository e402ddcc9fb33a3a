package runtime

import (
	"context"
	"encoding/binary"
	"errors"

	"github.com/wardrt/ward/environment"
	"github.com/wardrt/ward/hostapi"
	"github.com/wardrt/ward/internal/abi"
)

// Guest host functions of the ward_environment namespace: environments
// narrower than the caller's, held by handle (handles.go), to spawn into
// with ward_module.spawn. The config they read is in envconfig.go.

func hostEnvCreate(_ context.Context, c *hostapi.Call) error {
	p, h := caller(c)
	raw, errCfg := c.Read(c.Arg(0), c.Arg(1))
	out, errOut := c.Read(c.Arg(2), 8)
	if errCfg != nil || errOut != nil {
		return errors.New("config or handle pointer outside the caller's memory")
	}
	if len(raw) > abi.MaxEnvironmentConfigSize {
		c.Return(abi.ErrInvalid)
		return nil
	}
	var cfg environment.Config // no config: inherit everything
	var err error
	if len(raw) > 0 {
		cfg, err = decodeEnvConfig(raw)
	}
	if err != nil {
		c.Return(abi.ErrInvalid)
		return nil
	}
	// The handle is taken first, so that a guest at its MaxHandles makes
	// no environment at all: a dropped one would hold C memory (its
	// budget) until a collection, which Go heap use does not bring on.
	d := &p.env.rt.dyn
	entry := &handleEntry{kind: handleEnv, cost: envHandleCost}
	t, err := d.add(h, entry)
	if err != nil {
		c.Return(abi.ErrLimit)
		return nil
	}
	child, err := p.env.NewChild(cfg)
	if err != nil {
		_ = d.drop(h, t, handleEnv)
		c.Return(envStatus(err))
		return nil
	}
	d.mu.Lock()
	entry.env = child
	d.mu.Unlock()
	binary.LittleEndian.PutUint64(out, t)
	c.Return(abi.OK)
	return nil
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

func hostEnvDrop(_ context.Context, c *hostapi.Call) error {
	p, h := caller(c)
	c.Return(handleStatus(p.env.rt.dyn.drop(h, uint64(c.Arg(0)), handleEnv)))
	return nil
}
