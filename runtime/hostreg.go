package runtime

import (
	"context"
	"encoding/binary"
	"errors"

	"github.com/wardrt/ward/hostapi"
	"github.com/wardrt/ward/internal/abi"
	"github.com/wardrt/ward/registry"
)

// Guest host functions of the ward_registry namespace: names in the
// caller's own environment.

// guestStrings reads pairs of (ptr, len) arguments starting at argument
// first. A status other than OK (a string longer than MaxNameLen) refuses
// the call; an error (a range outside memory) traps the caller.
func guestStrings(c *hostapi.Call, first, n int) ([]string, int64, error) {
	out := make([]string, n)
	for i := range out {
		b, err := c.Read(c.Arg(first+2*i), c.Arg(first+2*i+1))
		if err != nil {
			return nil, 0, errors.New("string outside the caller's memory")
		}
		if len(b) > abi.MaxNameLen {
			return nil, abi.ErrInvalid, nil
		}
		out[i] = string(b)
	}
	return out, abi.OK, nil
}

func registryStatus(err error) int64 {
	switch {
	case err == nil:
		return abi.OK
	case errors.Is(err, registry.ErrTaken):
		return abi.ErrTaken
	case errors.Is(err, registry.ErrNotFound):
		return abi.ErrNotFound
	case errors.Is(err, registry.ErrBadName), errors.Is(err, registry.ErrBadVersion):
		return abi.ErrInvalid
	case errors.Is(err, ErrTooManyNames):
		return abi.ErrLimit
	}
	return statusOf(err)
}

func hostRegister(_ context.Context, c *hostapi.Call) error {
	p := callerProcess(c)
	s, st, err := guestStrings(c, 0, 2)
	if err != nil || st != abi.OK {
		c.Return(st)
		return err
	}
	c.Return(registryStatus(p.env.Register(s[0], s[1], p)))
	return nil
}

func hostUnregister(_ context.Context, c *hostapi.Call) error {
	p := callerProcess(c)
	s, st, err := guestStrings(c, 0, 2)
	if err != nil || st != abi.OK {
		c.Return(st)
		return err
	}
	c.Return(registryStatus(p.env.Unregister(s[0], s[1])))
	return nil
}

func hostLookup(_ context.Context, c *hostapi.Call) error {
	p := callerProcess(c)
	idOut, err := c.Read(c.Arg(4), 8)
	if err != nil {
		return errors.New("id pointer outside the caller's memory")
	}
	s, st, err := guestStrings(c, 0, 2)
	if err != nil || st != abi.OK {
		c.Return(st)
		return err
	}
	q, _, err := p.env.Lookup(s[0], s[1])
	if err == nil {
		binary.LittleEndian.PutUint64(idOut, uint64(q.id))
	}
	c.Return(registryStatus(err))
	return nil
}

func hostGetOrSpawn(ctx context.Context, c *hostapi.Call) error {
	p := callerProcess(c)
	idOut, err := c.Read(c.Arg(6), 8)
	if err != nil {
		return errors.New("id pointer outside the caller's memory")
	}
	s, st, err := guestStrings(c, 0, 3)
	if err != nil || st != abi.OK {
		c.Return(st)
		return err
	}
	var q *Process
	p.unslotted(func() { // may wait for another caller's spawn
		q, _, err = p.env.getOrSpawn(ctx, s[0], s[1], p.module(), s[2], nil, p.id)
	})
	if p.killed.Load() {
		return nil // serveExternal sees the kill
	}
	if err == nil {
		binary.LittleEndian.PutUint64(idOut, uint64(q.id))
	}
	c.Return(registryStatus(err))
	return nil
}
