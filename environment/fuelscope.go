package environment

import "fmt"

// FuelScope says what MaxFuel bounds: a process's whole life, or each
// message it handles.
type FuelScope uint8

const (
	// FuelInherit takes the parent's scope; in a root it means FuelPerLife.
	FuelInherit FuelScope = iota
	// FuelPerLife makes MaxFuel all the fuel a process may burn, from its
	// spawn to its end: right for a process that does one job.
	FuelPerLife
	// FuelPerMessage refills a process's fuel to MaxFuel each time a
	// message from another process becomes its current one (a receive,
	// or a send_receive's reply): right for a long-lived server, whose
	// every request then gets MaxFuel and no more. A process's messages
	// to itself, timers included, refill nothing, so a process cannot
	// keep itself going; fuel then bounds work per message, not a life,
	// which is MaxWallTime's job. A child of a FuelPerMessage environment
	// may ask for FuelPerLife; the reverse widens.
	FuelPerMessage
)

// String returns "inherit", "per life" or "per message".
func (s FuelScope) String() string {
	switch s {
	case FuelInherit:
		return "inherit"
	case FuelPerLife:
		return "per life"
	case FuelPerMessage:
		return "per message"
	}
	return fmt.Sprintf("FuelScope(%d)", uint8(s))
}
