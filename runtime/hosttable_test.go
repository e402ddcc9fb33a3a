package runtime

import (
	"strings"
	"testing"

	"github.com/wardrt/ward/internal/abi"
)

// TestEveryGoHostFuncHasAHandler checks goHost and the built-in modules
// against the ABI table: every Impl Go function has a handler in goHost,
// every Impl Builtin one in builtinHandlers, and nothing else has one (C
// functions run in the shim, Hosted ones in their host modules).
func TestEveryGoHostFuncHasAHandler(t *testing.T) {
	builtin := map[string]bool{}
	for _, h := range builtinHandlers {
		if builtin[h.name] {
			t.Errorf("%s has two built-in handlers", h.name)
		}
		builtin[h.name] = true
		handles := strings.HasPrefix(h.name, abi.NamespaceModule+".") || strings.HasPrefix(h.name, abi.NamespaceEnvironment+".")
		switch {
		case !h.builtin:
			t.Errorf("%s is not marked built in", h.name)
		case handles && (h.mod != modHandles || h.newState == nil):
			t.Errorf("%s: mod %d, state %v; want the process's handles", h.name, h.mod, h.newState != nil)
		case !handles && (h.mod != modRegistry || h.newState != nil):
			t.Errorf("%s: mod %d, state %v; want ward_registry's, without state", h.name, h.mod, h.newState != nil)
		}
	}
	inTable := map[string]bool{}
	for _, f := range abi.Funcs {
		key := f.Namespace + "." + f.Name
		_, has := goHost[key]
		switch {
		case f.Impl == abi.Go && !has:
			t.Errorf("%s is Impl Go but has no handler in goHost", key)
		case f.Impl != abi.Go && has:
			t.Errorf("%s has a handler in goHost but is not Impl Go", key)
		case f.Impl == abi.Builtin && !builtin[key]:
			t.Errorf("%s is Impl Builtin but no built-in module serves it", key)
		case f.Impl != abi.Builtin && builtin[key]:
			t.Errorf("a built-in module serves %s, which is not Impl Builtin", key)
		}
		inTable[key] = true
	}
	for key := range goHost {
		if !inTable[key] {
			t.Errorf("goHost serves %s, which is not in the ABI table", key)
		}
	}
	for key := range builtin {
		if !inTable[key] {
			t.Errorf("a built-in module serves %s, which is not in the ABI table", key)
		}
	}
}
