// Package mailbox is the message queue that every ward process owns.
//
// A process is an instance of a WebAssembly module run in the manner of an
// Erlang process: it shares no memory with other processes and talks to them
// only by messages, which wait in its mailbox until it chooses to receive
// them. This package is that mailbox. It knows nothing about WebAssembly; it
// stores [Message] values and hands them out again.
//
// # Producers and the consumer
//
// Any number of goroutines may push into a mailbox, but only one should
// receive from it: the process that owns it. The mailbox is multi-producer,
// single-consumer. Its wake-up mechanism (see [Mailbox.Notify]) is a single
// token, which is exactly right for one waiter. If several goroutines receive
// from the same mailbox nothing is corrupted and no message is lost or
// delivered twice, but a waiter can stay asleep until the next push even
// though a message it would accept is already queued.
//
// # Order
//
// Messages are kept in one queue in arrival order. Two messages from the same
// sender therefore reach the receiver in the order they were sent, which is
// the guarantee Erlang gives for each pair of processes. Nothing is promised
// about the relative order of messages from different senders beyond the
// order in which their pushes happened to take the mailbox's lock.
//
// # Selective receive
//
// Every message carries a tag, an int64 chosen by the sender; tag 0 means
// untagged. A receive with no tags takes the oldest message. A receive with
// tags takes the oldest message whose tag is one of them, leaving older
// messages of other tags where they are, in their order. This is Erlang's
// selective receive reduced to what a host can match without running guest
// code: the guest asks for "the next reply to my request 17" by tag.
//
// The mailbox keeps, besides the queue, a first-in first-out index per tag,
// so a selective receive costs time proportional to the number of tags asked
// for, not to the number of messages waiting. A process that has ten
// thousand unread notifications can still pick out the one reply it is
// waiting for in constant time.
//
// # A full mailbox
//
// Erlang's mailboxes are unbounded. Ward's are not, because ward runs
// untrusted modules inside one host process: a module that floods another
// with messages, or one that never reads its mailbox, must not be able to
// take all of the host's memory. Each mailbox has a limit on the number of
// messages and on the total size of their data (see [Limits]).
//
// When a push would exceed a limit, it fails with an error that matches
// [ErrFull] and carries the details as a [*FullError]. The message is never
// silently dropped: the sender learns at once that it was not delivered and
// can back off, retry, or give up, which a dropped message would hide from
// it. Nor does a push block until there is room, because a sender blocked
// inside a host call cannot be scheduled, killed cleanly or time out, and
// two processes filling each other's mailboxes would deadlock.
//
// Signals that the runtime itself generates, such as the exit of a linked
// process or the DOWN message of a monitor, are pushed with
// [Mailbox.PushSignal], which ignores the limits. Losing one would break
// supervision, the mechanism that makes failures visible, and their number
// is bounded anyway: at most one per link and one per monitor, the runtime
// bounds how many links and monitors a process may hold at a time, and it
// makes no new ones while the process's mailbox is full
// ([Mailbox.CheckFull]), so signals take a mailbox at most that many
// messages past its limits. A signal with no link or monitor behind it,
// such as the DOWN of a monitor of a process that is already gone, is an
// ordinary push. Signals still count towards [Mailbox.Len] and
// [Mailbox.Bytes], so while they fill the mailbox beyond its limits
// ordinary pushes keep failing.
//
// # Ownership
//
// A pushed message belongs to the mailbox until it is received, and then to
// the receiver. The mailbox does not copy Data: the sender must not modify it
// after the push. Handles are carried along untouched; the mailbox never
// inspects, copies or releases them, except that [Mailbox.CloseWith] hands
// messages it drops back to the caller so their handles can be released.
//
// # Closing
//
// When a process ends, the runtime closes its mailbox. Later pushes fail with
// [ErrClosed], a blocked receive wakes with [ErrClosed], and the messages
// still queued are dropped; [Mailbox.Close] reports how many so the runtime
// can log them.
package mailbox
