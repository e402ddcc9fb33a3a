// Package hoststub makes stand-ins for ward's own host modules, for tests:
// the runtime links a hosted function (abi.Hosted) only when its module is
// registered, and tests of the ABI table or of the runtime's interpreter
// need every function of the table linked without the modules themselves
// (which import the runtime, and test their own calls).
package hoststub

import (
	"context"

	"github.com/wardrt/ward/hostapi"
	"github.com/wardrt/ward/internal/abi"
)

// Modules returns a module for each hosted namespace of the ABI table,
// in table order, whose handlers do nothing. With no configuration, the
// functions that need a permission are refused before a handler runs.
func Modules() ([]hostapi.Module, error) {
	stub := func(context.Context, *hostapi.Call) error { return nil }
	byNS := map[string]map[string]hostapi.Handler{}
	var order []string
	for _, f := range abi.Funcs {
		if f.Impl != abi.Hosted {
			continue
		}
		if byNS[f.Namespace] == nil {
			byNS[f.Namespace] = map[string]hostapi.Handler{}
			order = append(order, f.Namespace)
		}
		byNS[f.Namespace][f.Name] = stub
	}
	var mods []hostapi.Module
	for _, ns := range order {
		m, err := hostapi.Builtin(ns, byNS[ns])
		if err != nil {
			return nil, err
		}
		mods = append(mods, m)
	}
	return mods, nil
}
