package main

import (
	"context"

	"github.com/wardrt/ward/hostapi"
)

// HostModule offers s to guests as the host-function namespace "kv":
//
//	put(key_ptr, key_len, val_ptr, val_len i32, ttl_ms i64) -> status i32
//	get(key_ptr, key_len, buf_ptr, buf_cap i32) -> len i64
//	del(key_ptr, key_len i32) -> status i32
//
// put and del return a Status code. get returns -1 when the key is missing
// or expired; otherwise the value's length n, having copied the value to
// buf_ptr only if n <= buf_cap. A guest that gets n > buf_cap (as
// snprintf's callers do) grows its buffer to n and asks again.
//
// Every pointer range is checked before anything else happens, so a range
// outside the guest's memory traps the calling guest, whatever the key:
// the handler returns the accessor's error, which ends that process with
// a *runtime.TrapError and touches neither the store nor other guests.
func HostModule(s *Store) hostapi.Module {
	i32, i64 := hostapi.I32, hostapi.I64
	return hostapi.Module{
		Namespace: "kv",
		Doc:       "An in-memory key-value store whose entries expire.",
		Funcs: []hostapi.Func{
			{
				Name: "put", Params: []hostapi.ValType{i32, i32, i32, i32, i64}, Results: []hostapi.ValType{i32},
				Doc: "Stores a copy of the value under key for ttl_ms milliseconds (0: no expiry).",
				Handler: func(_ context.Context, c *hostapi.Call) error {
					key, err := c.Read(c.Arg(0), c.Arg(1))
					if err != nil {
						return err
					}
					val, err := c.Read(c.Arg(2), c.Arg(3)) // a view: put copies it
					if err != nil {
						return err
					}
					c.Return(int64(s.Put(string(key), val, ttlOf(c.Arg(4)))))
					return nil
				},
			},
			{
				Name: "get", Params: []hostapi.ValType{i32, i32, i32, i32}, Results: []hostapi.ValType{i64},
				Doc: "Returns the value's length, -1 if missing; copies the value to buf only if it fits.",
				Handler: func(_ context.Context, c *hostapi.Call) error {
					key, err := c.Read(c.Arg(0), c.Arg(1))
					if err != nil {
						return err
					}
					buf, err := c.Read(c.Arg(2), c.Arg(3))
					if err != nil {
						return err
					}
					val, ok := s.Get(string(key))
					if !ok {
						c.Return(-1)
						return nil
					}
					if len(val) <= len(buf) {
						copy(buf, val)
					}
					c.Return(int64(len(val)))
					return nil
				},
			},
			{
				Name: "del", Params: []hostapi.ValType{i32, i32}, Results: []hostapi.ValType{i32},
				Doc: "Removes key; returns StatusNotFound if it was missing or expired.",
				Handler: func(_ context.Context, c *hostapi.Call) error {
					key, err := c.Read(c.Arg(0), c.Arg(1))
					if err != nil {
						return err
					}
					c.Return(int64(s.Del(string(key))))
					return nil
				},
			},
		},
	}
}
