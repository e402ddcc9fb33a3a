package guest

import "github.com/wardrt/ward/internal/abi"

// Upgrade moves this process to the current version of its module, as
// Erlang's hot code upgrade does: the host drops this instance and starts
// the export entry (no params) of the current version in its place, with
// the same id, mailbox, registered names, links and monitors. state is
// all that crosses over; the new entry reads it with UpgradeState. On
// success Upgrade does not return. It returns ErrNotFound, and this
// process runs on, when there is no newer version to move to or it has no
// such entry; ErrInvalid for an entry name or state too long;
// ErrPermission or ErrLimit when the environment refuses the new version.
func Upgrade(entry string, state []byte) error {
	st := wardUpgrade(addrStr(entry), uint32(len(entry)), addrBytes(state), uint32(len(state)))
	if st == abi.OK {
		return nil // never: a successful upgrade does not return
	}
	return fail("upgrade to "+quote(entry), st)
}

// UpgradeState returns the state the previous version handed to Upgrade,
// and true, when this entry was started by an upgrade and has received no
// message since.
func UpgradeState() ([]byte, bool) {
	msgMu.Lock()
	defer msgMu.Unlock()
	if wardGetTag() != TagUpgrade {
		return nil, false
	}
	return current().Data, true
}
