package cluster

import "sync/atomic"

// Stats counts what a node's transport did, for tests and metrics.
type Stats struct {
	FramesIn  uint64 // frames accepted and applied
	FramesOut uint64 // frames published
	// BatchesOut counts the NATS messages that carried more than one
	// frame (batch.go).
	BatchesOut uint64
	Dropped    Drops // frames not applied, by cause
	Downs      Downs // sessions ended, by cause
	// KillsRefused and LinksRefused count remote kills and links the
	// environment rules did not allow.
	KillsRefused, LinksRefused uint64
}

// Drops counts dropped frames by cause.
type Drops struct {
	Malformed    uint64 // not a frame
	Version      uint64 // a wire format this node does not speak
	Misrouted    uint64 // addressed to another node
	UnknownNode  uint64 // from a node number with no registration
	OldEpoch     uint64 // from an earlier Join of its node
	BadSignature uint64 // not signed (or MACed) with its node's keys
	Replay       uint64 // a number already seen in its session, or a reset of a session already over
	StaleSession uint64 // from a session that had ended
	Gap          uint64 // frames missing before it: the session ended
	Left         uint64 // from a node that said bye
}

// Downs counts ended sessions by cause.
type Downs struct {
	Heartbeat, Bye, Gap, SlowConsumer, Disconnect, Reset, Rejoin, Deregistered uint64
}

type counters struct {
	framesIn, framesOut        atomic.Uint64
	batchesOut                 atomic.Uint64
	drops                      [dropCauses]atomic.Uint64
	downs                      [len(causeNames)]atomic.Uint64
	killsRefused, linksRefused atomic.Uint64
}

// Stats returns the node's counters.
func (n *Node) Stats() Stats {
	c := &n.stats
	d := func(x dropCause) uint64 { return c.drops[x].Load() }
	w := func(x downCause) uint64 { return c.downs[x].Load() }
	return Stats{
		FramesIn: c.framesIn.Load(), FramesOut: c.framesOut.Load(), BatchesOut: c.batchesOut.Load(),
		Dropped: Drops{
			Malformed: d(dropMalformed), Version: d(dropVersion), Misrouted: d(dropMisrouted),
			UnknownNode: d(dropUnknownNode), OldEpoch: d(dropOldEpoch), BadSignature: d(dropBadSignature),
			Replay: d(dropReplay), StaleSession: d(dropStaleSession), Gap: d(dropGap), Left: d(dropLeft),
		},
		Downs: Downs{
			Heartbeat: w(causeHeartbeat), Bye: w(causeBye), Gap: w(causeGap), SlowConsumer: w(causeSlowConsumer),
			Disconnect: w(causeDisconnect), Reset: w(causeReset), Rejoin: w(causeRejoin), Deregistered: w(causeDeregistered),
		},
		KillsRefused: c.killsRefused.Load(), LinksRefused: c.linksRefused.Load(),
	}
}
