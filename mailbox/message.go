package mailbox

// Message is one message in a mailbox.
type Message struct {
	// Sender is the process id of the sender, or 0 when the message was
	// sent from outside any process (by the embedding program, say).
	Sender uint64
	// Tag selects the message in a selective receive. 0 means untagged.
	Tag int64
	// Data is the payload. Its length counts towards Limits.MaxBytes. The
	// mailbox keeps the slice, not a copy of it.
	Data []byte
	// Handles are resources that move with the message, such as module
	// handles. The mailbox only carries them.
	Handles []any
}

// Limits bound the memory one mailbox may hold. A zero field means the
// default; so does a negative one, since no mailbox could work with it.
type Limits struct {
	// MaxMessages is the most messages that may be queued at once.
	MaxMessages int
	// MaxBytes is the most bytes of Data, summed over the queued messages,
	// that may be held at once.
	MaxBytes int
	// Budget, if not nil, is charged what the queued messages hold (their
	// Data and MessageOverhead each), in chunks; a push it has no room
	// for fails with a *FullError of Limit LimitBudget. Signals
	// (PushSignal) are queued whatever the Budget says.
	Budget Budget
}

// DefaultMaxMessages is the message limit used when Limits.MaxMessages is 0.
// It is large enough that a healthy process never meets it and small enough
// that a stuck one is noticed long before the host runs short of memory.
const DefaultMaxMessages = 100_000

// DefaultMaxBytes is the data limit used when Limits.MaxBytes is 0.
const DefaultMaxBytes = 64 << 20

// withDefaults returns l with unset or unusable fields replaced by the
// defaults.
func (l Limits) withDefaults() Limits {
	if l.MaxMessages <= 0 {
		l.MaxMessages = DefaultMaxMessages
	}
	if l.MaxBytes <= 0 {
		l.MaxBytes = DefaultMaxBytes
	}
	return l
}
