package mailbox

import (
	"context"
	"sync"

	"github.com/wardrt/ward/internal/chanptr"
	"github.com/wardrt/ward/internal/errs"
)

// Mailbox is the message queue of one process. It is safe for concurrent
// use; see the package documentation for the one-consumer rule. Create one
// with New: the zero Mailbox is not usable.
type Mailbox struct {
	mu     sync.Mutex
	q      queue
	closed bool
	// token is a wake that came before the notify channel was made: the
	// channel starts with it.
	token  bool
	limits Limits
	// reserved is what the mailbox has taken from limits.Budget: at least
	// what its queue holds (budget.go).
	reserved int64
	// notify, a chan struct{} with a buffer of one, holds a token while
	// there may be something new to receive. It is made under mu when a
	// consumer first waits (notifyLocked): most processes end without
	// ever waiting, and a channel costs each of them an allocation. Once
	// made it never changes, so Notify reads it without the lock. It is
	// sent to and closed only with mu held, so that Close can never close
	// it under a sender.
	notify chanptr.Pointer
	// accepted and refused count Push and PushQuiet calls that queued a
	// message and that met a limit. Under mu, which every push holds
	// anyway: a shared counter elsewhere would cost each send a contended
	// cache line.
	accepted, refused uint64
	// intake, if not nil, holds messages newer than the queue's (SetIntake).
	intake Intake
}

// New returns an empty, open mailbox with the given limits. Zero fields of l
// take the defaults.
func New(l Limits) *Mailbox {
	return &Mailbox{limits: l.withDefaults()}
}

// notifyLocked returns the notify channel, making it if need be: with the
// token a wake left meanwhile, and closed if the mailbox is.
func (m *Mailbox) notifyLocked() chan struct{} {
	if c := m.notify.Load(); c != nil {
		return c
	}
	c := make(chan struct{}, 1)
	if m.token {
		c <- struct{}{}
		m.token = false
	}
	if m.closed {
		close(c)
	}
	m.notify.Store(c)
	return c
}

// Push appends msg to the mailbox. It fails with an error matching ErrFull,
// a *FullError, if the mailbox already holds MaxMessages messages or if
// msg.Data would take the queued data past MaxBytes; a message larger than
// MaxBytes is therefore never accepted. It fails with ErrClosed once the
// mailbox is closed. A message that was not accepted is not queued, and the
// caller keeps ownership of it.
func (m *Mailbox) Push(msg Message) error { return m.push(msg, true) }

// PushQuiet appends msg like Push, with the same limits and errors, but
// leaves the Notify channel alone. It is for a caller that will serve the
// consumer itself right away, such as a runtime handing a message to a
// receiver it is about to run: waking the consumer's goroutine would only
// make it find the message gone.
func (m *Mailbox) PushQuiet(msg Message) error { return m.push(msg, false) }

func (m *Mailbox) push(msg Message, wake bool) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return ErrClosed
	}
	m.drainLocked()
	if m.q.count >= m.limits.MaxMessages {
		m.refused++
		return &FullError{Limit: LimitMessages, Max: m.limits.MaxMessages, Used: m.q.count, Size: 1}
	}
	if size := len(msg.Data); size > m.limits.MaxBytes-m.q.bytes {
		m.refused++
		return &FullError{Limit: LimitBytes, Max: m.limits.MaxBytes, Used: m.q.bytes, Size: size}
	}
	// Inline the common case, a push the reservation already covers.
	if m.limits.Budget != nil && m.q.held()+int64(len(msg.Data))+MessageOverhead > m.reserved &&
		!m.reserveLocked(len(msg.Data)) {
		m.refused++
		return &FullError{Limit: LimitBudget, Used: m.q.bytes, Size: len(msg.Data)}
	}
	m.accepted++
	m.q.push(msg)
	m.publishLocked()
	if wake {
		m.wakeLocked()
	}
	return nil
}

// Counts reports how many messages Push and PushQuiet have queued
// (accepted) and refused with ErrFull (refused) since New. Signals
// (PushSignal) and pushes to a closed mailbox are in neither.
func (m *Mailbox) Counts() (accepted, refused uint64) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.accepted, m.refused
}

// PushSignal appends msg like Push but ignores the limits. It is for the
// messages the runtime generates itself, such as link exits and monitor DOWN
// messages, which must never be lost. It is not a way around the limits for
// ordinary messages: the runtime bounds the signals a mailbox can hold past
// its limits by bounding the links and monitors a process may hold (at
// most one signal each) and by making none while the mailbox is full (see
// CheckFull). PushSignal fails only with ErrClosed.
//
// A signal queues behind the messages already there, so the receiver still
// sees a process's last messages before the signal announcing its exit.
func (m *Mailbox) PushSignal(msg Message) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return ErrClosed
	}
	m.drainLocked()
	m.pushLocked(msg)
	return nil
}

// CheckFull returns an error matching ErrFull, a *FullError, when the
// mailbox is at one of its limits: it holds MaxMessages messages, or
// MaxBytes bytes (signals can take it past either), so that not even an
// empty message would be accepted. It returns nil otherwise, and for a
// closed mailbox. The runtime uses it to refuse new links and monitors
// while a mailbox is full, which is what bounds the signals PushSignal can
// add past the limits.
func (m *Mailbox) CheckFull() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if !m.closed {
		m.drainLocked()
	}
	switch {
	case m.closed:
		return nil
	case m.q.count >= m.limits.MaxMessages:
		return &FullError{Limit: LimitMessages, Max: m.limits.MaxMessages, Used: m.q.count, Size: 1}
	case m.q.bytes >= m.limits.MaxBytes:
		return &FullError{Limit: LimitBytes, Max: m.limits.MaxBytes, Used: m.q.bytes, Size: 0}
	}
	return nil
}

func (m *Mailbox) pushLocked(msg Message) {
	m.q.push(msg)
	m.publishLocked()
	m.wakeLocked()
}

// Intake is a queue of messages that others append to behind the
// mailbox, without its lock: a runtime lets a sender complete a send in C
// that way, and lets the receiver take from the intake there while the
// mailbox is empty. Its messages are all newer than the mailbox's: before
// anything is pushed to or taken from the mailbox, the mailbox drains the
// intake into its queue. Its messages already count against the limits
// (the intake's owner checks them against what Publish tells it), so
// draining them refuses none.
type Intake interface {
	// Pending reports whether the intake may hold messages; it must be
	// cheap, as every push and receive asks.
	Pending() bool
	// Drain empties the intake, passing its messages to push, oldest
	// first.
	Drain(push func(Message))
	// Publish tells the intake what the mailbox queues, after every
	// change: messages (signals included) and bytes of their data; and
	// at every Wake, with the counts unchanged, so that an owner watching
	// them (one spinning in a receive) sees a wake too.
	Publish(count, bytes int)
}

// SetIntake attaches in to the mailbox (nil detaches the one attached),
// and publishes the mailbox's counts to it. What the intake it replaces
// holds moves into the mailbox first, or, once the mailbox is closed, is
// dropped, as Close dropped the queue. Calls on in are made with the
// mailbox's lock held; in must not call the mailbox.
func (m *Mailbox) SetIntake(in Intake) {
	m.mu.Lock()
	if !m.closed {
		m.drainLocked()
	} else if m.intake != nil && m.intake.Pending() {
		// Queued here, they would be charged to the Budget again, and
		// nothing gives a closed mailbox's reservation back.
		m.intake.Drain(func(Message) {})
	}
	m.intake = in
	m.publishLocked()
	m.mu.Unlock()
}

// drainLocked moves the intake's messages into the queue, behind what is
// there, charging them to the budget as far as it has room: they were
// within the limits when they were appended.
func (m *Mailbox) drainLocked() {
	if m.intake == nil || !m.intake.Pending() {
		return
	}
	m.intake.Drain(func(msg Message) {
		if m.limits.Budget != nil && m.q.held()+int64(len(msg.Data))+MessageOverhead > m.reserved {
			m.reserveLocked(len(msg.Data))
		}
		m.q.push(msg)
	})
	m.publishLocked()
}

func (m *Mailbox) publishLocked() {
	if m.intake != nil {
		m.intake.Publish(m.q.count, m.q.bytes)
	}
}

// wakeLocked leaves a token in notify unless one is already there.
func (m *Mailbox) wakeLocked() {
	c := m.notify.Load()
	if c == nil {
		m.token = true // for the channel, when someone waits
		return
	}
	select {
	case c <- struct{}{}:
	default:
	}
}

// takeLocked is queue.take, giving back what the reservation no longer
// needs.
func (m *Mailbox) takeLocked(tags []int64) (Message, bool) {
	msg, ok := m.q.take(tags)
	if !ok && !m.closed && m.intake != nil && m.intake.Pending() {
		// Only now: the intake's messages are newer than the queue's,
		// and left there its owner may take them without a copy.
		m.drainLocked()
		msg, ok = m.q.take(tags)
	}
	if !ok {
		return msg, false
	}
	m.publishLocked()
	if m.reserved > 2*budgetChunk { // below that, releaseLocked gives nothing back
		m.releaseLocked()
	}
	return msg, ok
}

// TryReceive removes and returns the oldest message whose tag is among tags,
// or the oldest message of all when no tags are given. It never blocks: when
// there is no such message, or the mailbox is closed, it returns false.
func (m *Mailbox) TryReceive(tags ...int64) (Message, bool) {
	m.mu.Lock()
	msg, ok := m.takeLocked(tags)
	m.mu.Unlock()
	return msg, ok
}

// TryReceiveThen is TryReceive followed, under the same lock, by an offer
// of the oldest messages left, in order, to more: each one it takes
// (returns true for) leaves the mailbox, and the first it refuses ends the
// offer. It is for a consumer that keeps a short queue of its own ahead of
// the mailbox, such as a runtime moving messages into a guest's memory
// before the guest asks for them: messages moved out that way are no
// longer counted against the limits. more must not call the mailbox.
func (m *Mailbox) TryReceiveThen(tags []int64, more func(Message) bool) (Message, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	msg, ok := m.takeLocked(tags)
	if ok {
		for n := m.q.head; n != nil && more(n.msg); n = m.q.head {
			m.takeLocked(nil)
		}
	}
	return msg, ok
}

// Receive is TryReceive that waits, until a matching message arrives, ctx is
// done, or the mailbox is closed. A message already waiting is returned even
// if ctx is done, as Erlang's "receive ... after 0" does. When ctx ends the
// wait, the error wraps ctx.Err() and, if it differs, context.Cause(ctx); a
// closed mailbox gives ErrClosed.
func (m *Mailbox) Receive(ctx context.Context, tags ...int64) (Message, error) {
	if ctx == nil {
		ctx = context.Background()
	}
	woken := false
	for {
		m.mu.Lock()
		msg, ok := m.takeLocked(tags)
		if ok {
			// The token this receive consumed may have been meant for
			// another message too. Passing it on costs the single
			// consumer at most one spurious wake-up, and keeps a second
			// receiver, should someone break the one-consumer rule,
			// from sleeping next to a message it would take.
			if woken && m.q.count > 0 {
				m.wakeLocked()
			}
			m.mu.Unlock()
			return msg, nil
		}
		closed := m.closed
		var notify chan struct{}
		if !closed {
			notify = m.notifyLocked()
		}
		m.mu.Unlock()
		if closed {
			return Message{}, ErrClosed
		}
		select {
		case <-notify:
			woken = true
		case <-ctx.Done():
			return Message{}, ctxError(ctx)
		}
	}
}

func ctxError(ctx context.Context) error {
	err, cause := ctx.Err(), context.Cause(ctx)
	if cause != nil && cause != err {
		return errs.Errorf("ward: receive: %w: %w", err, cause)
	}
	return errs.Errorf("ward: receive: %w", err)
}

// Notify returns the channel on which the mailbox signals its consumer. It
// has a buffer of one and receives a value, unless it already holds one,
// after every successful Push or PushSignal (and when a Receive that was
// woken by it leaves messages behind); Close closes it. A value means
// only that something may have changed: the consumer must call TryReceive
// to find out, and should call it before waiting, since a value may have
// been taken by an earlier wait or the message by an earlier receive.
//
// It lets the owning process wait on its mailbox together with other events
// in one select, without allocating:
//
//	for {
//		if msg, ok := mb.TryReceive(tags...); ok {
//			return msg
//		}
//		select {
//		case _, open := <-mb.Notify():
//			if !open {
//				return ErrClosed // otherwise this loop would spin
//			}
//		case <-kill:
//		case <-timer.C:
//		}
//	}
//
// Notify always returns the same channel.
func (m *Mailbox) Notify() <-chan struct{} {
	if c := m.notify.Load(); c != nil {
		return c
	}
	m.mu.Lock()
	c := m.notifyLocked()
	m.mu.Unlock()
	return c
}

// Wake leaves a value in the Notify channel, as a Push does, without
// queueing anything. The owner of a mailbox uses it to wake its consumer
// for an event of its own, such as a kill, so that the consumer can wait on
// Notify alone instead of a select over several channels. It does nothing
// once the mailbox is closed.
func (m *Mailbox) Wake() {
	m.mu.Lock()
	if !m.closed {
		m.publishLocked()
		m.wakeLocked()
	}
	m.mu.Unlock()
}

// Empty reports whether the mailbox holds no message, queued or in its
// intake: TryReceive and TryReceiveThen would find nothing. It takes the
// lock, but moves nothing and, unlike them, calls nothing deep: a
// receiver about to wait looks with it first (its goroutine then parks
// within its first 2 KiB of stack).
func (m *Mailbox) Empty() bool {
	m.mu.Lock()
	empty := m.q.count == 0 && (m.intake == nil || !m.intake.Pending())
	m.mu.Unlock()
	return empty
}

// Len returns the number of queued messages, signals included.
func (m *Mailbox) Len() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	if !m.closed {
		m.drainLocked()
	}
	return m.q.count
}

// Bytes returns the total length of the Data of the queued messages,
// signals included.
func (m *Mailbox) Bytes() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	if !m.closed {
		m.drainLocked()
	}
	return m.q.bytes
}

// Close closes the mailbox: later pushes fail with ErrClosed, receivers
// waiting in Receive return ErrClosed, the Notify channel is closed, and the
// queued messages are dropped. It returns how many were dropped, so the
// runtime can log them. Closing a closed mailbox does nothing and returns 0.
func (m *Mailbox) Close() (dropped int) {
	return m.CloseWith(nil)
}

// CloseWith is Close that also passes each dropped message, oldest first, to
// release, so that the caller can free the resources in its Handles. It
// calls release after the mailbox is closed and without holding its lock, so
// release may use the mailbox (and will find it closed). release may be nil.
func (m *Mailbox) CloseWith(release func(Message)) (dropped int) {
	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		return 0
	}
	m.closed = true
	head, dropped := m.q.detach()
	if m.limits.Budget != nil && m.reserved > 0 {
		m.limits.Budget.Give(m.reserved)
		m.reserved = 0
	}
	if c := m.notify.Load(); c != nil { // otherwise notifyLocked makes it closed
		close(c)
	}
	m.mu.Unlock()

	if release != nil {
		for n := head; n != nil; n = n.next {
			release(n.msg)
		}
	}
	return dropped
}
