package mailbox

import (
	"errors"
	"sync"
	"sync/atomic"
	"testing"
)

// testBudget is a Budget of max bytes.
type testBudget struct {
	used, max atomic.Int64
	takes     atomic.Int64
}

func (b *testBudget) Take(n int64) bool {
	b.takes.Add(1)
	for {
		cur := b.used.Load()
		if cur+n > b.max.Load() {
			return false
		}
		if b.used.CompareAndSwap(cur, cur+n) {
			return true
		}
	}
}

func (b *testBudget) Give(n int64) { b.used.Add(-n) }

// Mailboxes sharing a Budget are refused together once it is used up,
// whatever their own limits, get room back as messages leave, and give
// everything back when closed.
func TestBudgetSharedByMailboxes(t *testing.T) {
	b := &testBudget{}
	b.max.Store(64 << 10)
	a, c := New(Limits{Budget: b}), New(Limits{Budget: b})
	data := make([]byte, 8<<10)
	pushed := 0
	for ; ; pushed++ {
		mb := a
		if pushed%2 == 1 {
			mb = c
		}
		if err := mb.Push(Message{Data: data}); err != nil {
			var fe *FullError
			if !errors.As(err, &fe) || fe.Limit != LimitBudget || !errors.Is(err, ErrFull) {
				t.Fatalf("push past the budget: %v, want a FullError of LimitBudget", err)
			}
			break
		}
	}
	if pushed < 6 || pushed > 8 {
		t.Fatalf("%d messages of 8 KiB fit a 64 KiB budget, want 6 to 8", pushed)
	}
	if used := b.used.Load(); used > b.max.Load() {
		t.Fatalf("budget used %d past its %d", used, b.max.Load())
	}
	// Receiving frees room for the other mailbox.
	for range 2 {
		if _, ok := a.TryReceive(); !ok {
			t.Fatal("nothing to receive")
		}
	}
	if err := c.Push(Message{Data: data}); err != nil {
		t.Fatalf("a push after two receives elsewhere: %v", err)
	}
	a.Close()
	c.Close()
	if used := b.used.Load(); used != 0 {
		t.Fatalf("closed mailboxes still hold %d of the budget", used)
	}
}

// A stream of small messages charges the budget once, not per message, and
// an idle mailbox keeps at most one chunk of it.
func TestBudgetChargedInChunks(t *testing.T) {
	b := &testBudget{}
	b.max.Store(1 << 20)
	mb := New(Limits{Budget: b})
	for range 10_000 {
		if err := mb.Push(Message{Data: make([]byte, 100)}); err != nil {
			t.Fatal(err)
		}
		if _, ok := mb.TryReceive(); !ok {
			t.Fatal("nothing to receive")
		}
	}
	if n := b.takes.Load(); n != 1 {
		t.Fatalf("10,000 small messages took from the budget %d times, want once", n)
	}
	if used := b.used.Load(); used > budgetChunk {
		t.Fatalf("an idle mailbox holds %d of the budget, more than a chunk (%d)", used, budgetChunk)
	}
	// A burst, drained, gives back all but a chunk.
	for range 500 {
		if err := mb.Push(Message{Data: make([]byte, 1000)}); err != nil {
			t.Fatal(err)
		}
	}
	for range 500 {
		mb.TryReceive()
	}
	if used := b.used.Load(); used > 2*budgetChunk {
		t.Fatalf("a drained mailbox holds %d of the budget, want at most %d", used, 2*budgetChunk)
	}
}

// Concurrent pushes and receives on mailboxes sharing a budget never take
// it past its size, and leave it empty once closed.
func TestBudgetConcurrent(t *testing.T) {
	b := &testBudget{}
	b.max.Store(256 << 10)
	var wg sync.WaitGroup
	boxes := make([]*Mailbox, 4)
	for i := range boxes {
		boxes[i] = New(Limits{Budget: b})
	}
	for _, mb := range boxes {
		wg.Add(2)
		go func() {
			defer wg.Done()
			for i := range 5000 {
				_ = mb.Push(Message{Data: make([]byte, i%3000)})
				if used := b.used.Load(); used > b.max.Load() {
					t.Errorf("budget used %d past its %d", used, b.max.Load())
					return
				}
			}
		}()
		go func() {
			defer wg.Done()
			for range 5000 {
				mb.TryReceive()
			}
		}()
	}
	wg.Wait()
	for _, mb := range boxes {
		mb.Close()
	}
	if used := b.used.Load(); used != 0 {
		t.Fatalf("closed mailboxes still hold %d of the budget", used)
	}
}

// A closed mailbox drops what its intake holds when the intake is
// detached, as Close dropped its queue: nothing is charged to the Budget
// for messages no one can receive.
func TestSetIntakeOnClosedMailboxDrops(t *testing.T) {
	b := &testBudget{}
	b.max.Store(1 << 20)
	mb := New(Limits{Budget: b})
	in := &intakeOf{msgs: []Message{{Tag: 1, Data: make([]byte, 100)}, {Tag: 2}}}
	mb.SetIntake(in)
	mb.Close()
	mb.SetIntake(nil)
	if in.Pending() {
		t.Fatal("the intake still holds its messages")
	}
	if used := b.used.Load(); used != 0 {
		t.Fatalf("%d bytes charged to the budget for a closed mailbox", used)
	}
	if _, ok := mb.TryReceive(); ok {
		t.Fatal("a closed mailbox gave a message")
	}
}

// intakeOf is an Intake over a slice.
type intakeOf struct{ msgs []Message }

func (s *intakeOf) Pending() bool { return len(s.msgs) > 0 }
func (s *intakeOf) Drain(push func(Message)) {
	for _, m := range s.msgs {
		push(m)
	}
	s.msgs = nil
}
func (s *intakeOf) Publish(count, bytes int) {}
