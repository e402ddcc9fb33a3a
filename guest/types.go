package guest

import (
	"encoding/binary"
	"strconv"

	"github.com/wardrt/ward/internal/abi"
)

// ProcessID identifies a process within its runtime. Ids are never reused;
// 0 is no process (the sender of a message from outside any process).
type ProcessID uint64

func (id ProcessID) String() string { return strconv.FormatUint(uint64(id), 10) }

// MonitorRef identifies one monitor (see Monitor).
type MonitorRef uint64

// TimerID identifies a pending SendAfter.
type TimerID int64

// Message is one message received from the mailbox.
type Message struct {
	// Tag is what receives filter on. Tags >= 0 are the senders' own;
	// the runtime's messages have TagExit and TagDown.
	Tag int64
	// Sender is the process that sent the message, 0 when it came from
	// outside any process. For TagExit and TagDown it is the process that
	// ended.
	Sender ProcessID
	// Data is the message's bytes; the message owns them.
	Data []byte
}

// Tags of the messages the runtime itself sends; processes cannot send
// negative tags.
const (
	// TagExit: a linked process ended while this one traps exits (see
	// TrapExit and ParseExit).
	TagExit int64 = abi.TagExit
	// TagDown: a monitored process ended (see Monitor and ParseDown).
	TagDown int64 = abi.TagDown
	// TagUpgrade: the current message when an entry starts after an
	// upgrade, holding the old version's state (see Upgrade and
	// UpgradeState).
	TagUpgrade int64 = abi.TagUpgrade
)

// Limits of the ABI.
const (
	MaxMessageSize = abi.MaxMessageSize // bytes in one message
	MaxReceiveTags = abi.MaxReceiveTags // tags one receive filters on
	MaxSpawnParams = abi.MaxSpawnParams // parameters of a spawned export
	MaxNameLen     = abi.MaxNameLen     // bytes of an export name, registered name or version
)

// ReasonKind says how a process ended, as exit and down messages carry it.
type ReasonKind uint32

// Reason kinds.
const (
	ReasonNormal       ReasonKind = abi.ReasonNormal       // returned from its entry, or exited with code 0
	ReasonKilled       ReasonKind = abi.ReasonKilled       // killed; cannot be trapped
	ReasonTrap         ReasonKind = abi.ReasonTrap         // a Wasm trap (a Go panic in a Go guest)
	ReasonOutOfFuel    ReasonKind = abi.ReasonOutOfFuel    // burned its environment's fuel
	ReasonMemoryLimit  ReasonKind = abi.ReasonMemoryLimit  // ended at its environment's memory limit
	ReasonExitCode     ReasonKind = abi.ReasonExitCode     // exited with a nonzero code
	ReasonInstantiate  ReasonKind = abi.ReasonInstantiate  // could not be instantiated or initialised
	ReasonNoProc       ReasonKind = abi.ReasonNoProc       // was not alive when monitored
	ReasonGoError      ReasonKind = abi.ReasonGoError      // a Go-native process returned an error or panicked
	ReasonNoConnection ReasonKind = abi.ReasonNoConnection // its node left the cluster or was lost
	ReasonPurged       ReasonKind = abi.ReasonPurged       // ran an old module version that a newer installation purged
)

var reasonNames = [...]string{
	ReasonNormal:       "normal",
	ReasonKilled:       "killed",
	ReasonTrap:         "trap",
	ReasonOutOfFuel:    "out of fuel",
	ReasonMemoryLimit:  "memory limit",
	ReasonExitCode:     "exit code",
	ReasonInstantiate:  "instantiate",
	ReasonNoProc:       "noproc",
	ReasonGoError:      "go error",
	ReasonNoConnection: "noconnection",
	ReasonPurged:       "purged",
}

func (k ReasonKind) String() string {
	if int(k) < len(reasonNames) {
		return reasonNames[k]
	}
	return "reason " + strconv.FormatUint(uint64(k), 10)
}

// Normal reports whether the kind is a normal end. Only a normal end of a
// linked process leaves this one running when it does not trap exits.
func (k ReasonKind) Normal() bool { return k == ReasonNormal }

// ExitSignal is the content of a TagExit message: a linked process ended
// while this one traps exits.
type ExitSignal struct {
	From ProcessID  // the linked process
	Kind ReasonKind // how it ended
	Text string     // the runtime's description of its reason
}

// Down is the content of a TagDown message: a monitored process ended.
type Down struct {
	Ref     MonitorRef // what Monitor returned
	Process ProcessID  // the monitored process
	Kind    ReasonKind // how it ended; ReasonNoProc if it was not alive
	Text    string     // the runtime's description of its reason
}

// ParseExit reads a TagExit message: the peer's id (u64 LE), its reason
// kind (u32 LE), then the reason's text. It reports false for any other
// message.
func ParseExit(m Message) (ExitSignal, bool) {
	if m.Tag != TagExit || len(m.Data) < 12 {
		return ExitSignal{}, false
	}
	return ExitSignal{
		From: ProcessID(binary.LittleEndian.Uint64(m.Data)),
		Kind: ReasonKind(binary.LittleEndian.Uint32(m.Data[8:])),
		Text: string(m.Data[12:]),
	}, true
}

// ParseDown reads a TagDown message: the monitor reference (u64 LE), the
// process's id (u64 LE), its reason kind (u32 LE), then the reason's text.
// It reports false for any other message.
func ParseDown(m Message) (Down, bool) {
	if m.Tag != TagDown || len(m.Data) < 20 {
		return Down{}, false
	}
	return Down{
		Ref:     MonitorRef(binary.LittleEndian.Uint64(m.Data)),
		Process: ProcessID(binary.LittleEndian.Uint64(m.Data[8:])),
		Kind:    ReasonKind(binary.LittleEndian.Uint32(m.Data[16:])),
		Text:    string(m.Data[20:]),
	}, true
}
