package hostapi

import (
	"fmt"
	"slices"

	"github.com/wardrt/ward/internal/abi"
)

// Builtin returns the module of one of ward's own hosted namespaces
// (ward_net, ward_sqlite, ...): its functions as ward's ABI table declares
// them (names, signatures, docs, permissions; a refused call returns the
// ABI's ErrPermission status), served by handlers, one per function. It
// is how ward's host modules are written on hostapi while the C header,
// the Go guest SDK and the reference page still come from the one table.
// The caller adds NewState, DefaultConfig and the rest.
//
// The runtime makes its own built-in modules (ward_module,
// ward_environment) with it too; those it links itself, and refuses from
// WithHostModule.
func Builtin(namespace string, handlers map[string]Handler) (Module, error) {
	m := Module{Namespace: namespace}
	for _, f := range abi.Funcs {
		if f.Namespace != namespace {
			continue
		}
		if f.Impl != abi.Hosted && f.Impl != abi.Builtin {
			return Module{}, fmt.Errorf("%w: %s.%s is not a hosted function", ErrInvalidModule, namespace, f.Name)
		}
		h, ok := handlers[f.Name]
		if !ok {
			return Module{}, fmt.Errorf("%w: %s.%s has no handler", ErrInvalidModule, namespace, f.Name)
		}
		fn := Func{Name: f.Name, Doc: f.Doc, Handler: h, Permission: string(f.Permission)}
		for _, p := range f.Params {
			fn.Params = append(fn.Params, p.Type)
		}
		for _, r := range f.Results {
			fn.Results = append(fn.Results, r.Type)
		}
		if f.Permission != "" && len(f.Results) == 1 {
			fn.Refused = []int64{abi.ErrPermission}
		}
		m.Funcs = append(m.Funcs, fn)
	}
	if len(m.Funcs) == 0 {
		return Module{}, fmt.Errorf("%w: ward's ABI table has no namespace %q", ErrInvalidModule, namespace)
	}
	for name := range handlers {
		if !slices.ContainsFunc(m.Funcs, func(f Func) bool { return f.Name == name }) {
			return Module{}, fmt.Errorf("%w: %s.%s is not in ward's ABI table", ErrInvalidModule, namespace, name)
		}
	}
	return m, nil
}

// MatchesTable reports whether m is exactly a hosted namespace of ward's
// ABI table: the same functions with the same signatures. The runtime
// accepts a module in a ward_ namespace only then.
func (m Module) MatchesTable() bool {
	n := 0
	for _, f := range abi.Funcs {
		if f.Namespace != m.Namespace {
			continue
		}
		n++
		g, ok := m.Func(f.Name)
		if !ok || f.Impl != abi.Hosted || len(g.Params) != len(f.Params) || len(g.Results) != len(f.Results) {
			return false
		}
		for i, p := range f.Params {
			if g.Params[i] != p.Type {
				return false
			}
		}
		for i, r := range f.Results {
			if g.Results[i] != r.Type {
				return false
			}
		}
	}
	return n > 0 && n == len(m.Funcs)
}
