package runtime

import (
	goruntime "runtime"
	"sync"
	"sync/atomic"
	"testing"
)

// TestRunSlotsBoundHolders hammers the semaphore from many goroutines, half
// the time through tryAcquire, and checks that no more than n ever hold a
// slot at once, that every waiter gets one in the end, and that all slots
// are free afterwards.
func TestRunSlotsBoundHolders(t *testing.T) {
	for _, n := range []int{1, 2, 3} {
		s := newRunSlots(n, nil)
		var holders, most atomic.Int64
		var wg sync.WaitGroup
		for range 16 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := range 2000 {
					if i%2 == 0 || !s.tryAcquire() {
						s.acquire()
					}
					h := holders.Add(1)
					for {
						m := most.Load()
						if h <= m || most.CompareAndSwap(m, h) {
							break
						}
					}
					holders.Add(-1)
					s.release()
				}
			}()
		}
		wg.Wait()
		if got := most.Load(); got > int64(n) || got < 1 {
			t.Errorf("n=%d: at most %d holders at once, want 1..%d", n, got, n)
		}
		if got := s.free.Load(); got != int64(n) {
			t.Errorf("n=%d: %d slots free after all released, want %d", n, got, n)
		}
		if len(s.handoff) != 0 {
			t.Errorf("n=%d: %d slots left in the hand-off channel", n, len(s.handoff))
		}
	}
}

// TestRunSlotsWaiterGetsReleasedSlot: with every slot taken, an acquire
// waits until a release, and then gets that slot.
func TestRunSlotsWaiterGetsReleasedSlot(t *testing.T) {
	s := newRunSlots(1, nil)
	s.acquire()
	got := make(chan struct{})
	go func() {
		s.acquire()
		close(got)
	}()
	for s.free.Load() != -1 { // the waiter has registered
		goruntime.Gosched()
	}
	goruntime.Gosched()
	select {
	case <-got:
		t.Fatal("acquire succeeded while the only slot was held")
	default:
	}
	s.release()
	<-got
	if f := s.free.Load(); f != 0 {
		t.Fatalf("free = %d with the slot held by the waiter, want 0", f)
	}
	s.release()
}

func TestRunSlotsTryAcquireNeverWaits(t *testing.T) {
	s := newRunSlots(2, nil)
	if !s.tryAcquire() || !s.tryAcquire() {
		t.Fatal("tryAcquire failed with slots free")
	}
	if s.tryAcquire() {
		t.Fatal("tryAcquire took a third slot of two")
	}
	s.release()
	if !s.tryAcquire() {
		t.Fatal("tryAcquire failed after a release")
	}
	s.release()
	s.release()
	if got := s.free.Load(); got != 2 {
		t.Fatalf("%d slots free at the end, want 2", got)
	}
}
