//go:build !wasip1

package guest

import "testing"

// Off wasip1, calls into the host panic with a message saying why.
func TestHostCallsPanicOffWasm(t *testing.T) {
	defer func() {
		if r := recover(); r != notGuest {
			t.Errorf("recovered %v, want %q", r, notGuest)
		}
	}()
	Self()
}
