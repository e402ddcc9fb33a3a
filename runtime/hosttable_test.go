package runtime

import (
	"testing"

	"github.com/wardrt/ward/internal/abi"
)

// TestEveryGoHostFuncHasAHandler checks goHost against the ABI table:
// every Impl Go function has a handler, and nothing else has one (C
// functions run in the shim, Hosted ones in their host modules).
func TestEveryGoHostFuncHasAHandler(t *testing.T) {
	inTable := map[string]bool{}
	for _, f := range abi.Funcs {
		key := f.Namespace + "." + f.Name
		_, has := goHost[key]
		switch {
		case f.Impl == abi.Go && !has:
			t.Errorf("%s is Impl Go but has no handler in goHost", key)
		case f.Impl != abi.Go && has:
			t.Errorf("%s has a handler in goHost but is not Impl Go", key)
		}
		inTable[key] = true
	}
	for key := range goHost {
		if !inTable[key] {
			t.Errorf("goHost serves %s, which is not in the ABI table", key)
		}
	}
}
