package mailbox_test

import (
	"context"
	"errors"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/wardrt/ward/mailbox"
)

// group runs goroutines and collects the first error. It stands in for
// errgroup, which this module cannot import until go.mod says go 1.26.0.
type group struct {
	wg   sync.WaitGroup
	once sync.Once
	err  error
}

func (g *group) Go(f func() error) {
	g.wg.Go(func() {
		if err := f(); err != nil {
			g.once.Do(func() { g.err = err })
		}
	})
}

func (g *group) Wait() error {
	g.wg.Wait()
	return g.err
}

// produce pushes each messages from each of producers senders (ids 1..n),
// retrying while the mailbox is full, as a well-behaved sender would.
func produce(mb *mailbox.Mailbox, producers, each int) *group {
	g := new(group)
	for p := 1; p <= producers; p++ {
		g.Go(func() error {
			for i := range each {
				for {
					err := mb.Push(seqMsg(uint64(p), int64(p%3), i))
					if err == nil {
						break
					}
					if !errors.Is(err, mailbox.ErrFull) {
						return err
					}
					runtime.Gosched()
				}
			}
			return nil
		})
	}
	return g
}

// checkArrival records msg and fails on a duplicate or out-of-order message.
func checkArrival(t *testing.T, next map[uint64]int, msg mailbox.Message) {
	t.Helper()
	if got, want := decode(msg.Data), next[msg.Sender]; got != want {
		t.Fatalf("sender %d: got message %d, want %d (lost, duplicated or reordered)", msg.Sender, got, want)
	}
	next[msg.Sender]++
}

func TestConcurrentProducersOneConsumer(t *testing.T) {
	for _, tc := range []struct {
		name   string
		limits mailbox.Limits
	}{
		{"roomy", mailbox.Limits{}},
		{"backpressure", mailbox.Limits{MaxMessages: 16}}, // producers meet ErrFull often
	} {
		t.Run(tc.name, func(t *testing.T) {
			const producers, each = 8, 2000
			mb := mailbox.New(tc.limits)
			g := produce(mb, producers, each)
			next := map[uint64]int{}
			for range producers * each {
				checkArrival(t, next, mustReceive(t, mb))
			}
			if err := g.Wait(); err != nil {
				t.Fatal(err)
			}
			for p := uint64(1); p <= producers; p++ {
				if next[p] != each {
					t.Fatalf("sender %d: %d messages arrived, want %d", p, next[p], each)
				}
			}
			if mb.Len() != 0 {
				t.Fatalf("Len = %d after receiving everything", mb.Len())
			}
		})
	}
}

// The runtime waits with Notify in a select of its own; nothing may be
// missed between its TryReceive and its wait.
func TestNotifyLoopConsumer(t *testing.T) {
	const producers, each = 4, 2000
	mb := mailbox.New(mailbox.Limits{MaxMessages: 64})
	g := produce(mb, producers, each)
	kill := make(chan struct{})
	timer := time.NewTimer(hangTimeout)
	defer timer.Stop()
	next := map[uint64]int{}
	for received := 0; received < producers*each; {
		if msg, ok := mb.TryReceive(); ok {
			checkArrival(t, next, msg)
			received++
			continue
		}
		select {
		case _, open := <-mb.Notify():
			if !open {
				t.Fatal("mailbox closed unexpectedly")
			}
		case <-kill:
		case <-timer.C:
			t.Fatalf("hung after %d messages", received)
		}
	}
	if err := g.Wait(); err != nil {
		t.Fatal(err)
	}
}

// A selective consumer must also see every message of its tags, while the
// others pile up untouched.
func TestConcurrentSelectiveConsumer(t *testing.T) {
	const producers, each = 6, 1000 // senders 3 and 6 use tag 0, 1 and 4 tag 1, 2 and 5 tag 2
	mb := mailbox.New(mailbox.Limits{})
	g := produce(mb, producers, each)
	next := map[uint64]int{}
	for range 4 * each {
		msg := mustReceive(t, mb, 1, 2)
		if msg.Tag != 1 && msg.Tag != 2 {
			t.Fatalf("Receive(1, 2) returned tag %d", msg.Tag)
		}
		checkArrival(t, next, msg)
	}
	if err := g.Wait(); err != nil {
		t.Fatal(err)
	}
	if mb.Len() != 2*each {
		t.Fatalf("Len = %d, want the %d untagged messages", mb.Len(), 2*each)
	}
	for range 2 * each {
		msg, _ := mb.TryReceive()
		if msg.Tag != 0 {
			t.Fatalf("leftover message has tag %d", msg.Tag)
		}
		checkArrival(t, next, msg)
	}
}

// Breaking the one-consumer rule must not strand a receiver next to a
// message it would take: the receiver that consumed the wake-up passes it on.
func TestTwoReceiversBothServed(t *testing.T) {
	for range 50 {
		mb := mailbox.New(mailbox.Limits{})
		ctx, cancel := context.WithTimeout(context.Background(), hangTimeout)
		var wg sync.WaitGroup
		errs := make(chan error, 2)
		for range 2 {
			wg.Go(func() {
				_, err := mb.Receive(ctx)
				errs <- err
			})
		}
		mustPush(t, mb, mailbox.Message{})
		mustPush(t, mb, mailbox.Message{})
		wg.Wait()
		cancel()
		for range 2 {
			if err := <-errs; err != nil {
				t.Fatalf("Receive: %v", err)
			}
		}
	}
}

// Close racing with producers and a consumer: no panic (a send on the
// closed Notify channel would be one), no data race, and every message is
// either received, dropped by Close, or refused with ErrClosed.
func TestCloseRacesPushes(t *testing.T) {
	for range 20 {
		mb := mailbox.New(mailbox.Limits{})
		var accepted, received sync.Map
		var g group
		for p := range 4 {
			g.Go(func() error {
				for i := range 200 {
					msg := seqMsg(uint64(p), 0, i)
					var err error
					if i%2 == 0 {
						err = mb.Push(msg)
					} else {
						err = mb.PushSignal(msg)
					}
					switch {
					case err == nil:
						accepted.Store([2]int{p, i}, true)
					case errors.Is(err, mailbox.ErrClosed):
					default:
						return err
					}
				}
				return nil
			})
		}
		recvDone := make(chan int)
		go func() {
			n := 0
			for {
				msg, err := mb.Receive(context.Background())
				if err != nil {
					recvDone <- n
					return
				}
				received.Store([2]int{int(msg.Sender), decode(msg.Data)}, true)
				n++
			}
		}()
		time.Sleep(100 * time.Microsecond)
		dropped := mb.Close()
		if err := g.Wait(); err != nil {
			t.Fatal(err)
		}
		var nrecv int
		select {
		case nrecv = <-recvDone:
		case <-time.After(hangTimeout):
			t.Fatal("receiver not woken by Close")
		}
		naccepted := 0
		accepted.Range(func(k, _ any) bool { naccepted++; return true })
		if naccepted != nrecv+dropped {
			t.Fatalf("accepted %d, received %d + dropped %d", naccepted, nrecv, dropped)
		}
		received.Range(func(k, _ any) bool {
			if _, ok := accepted.Load(k); !ok {
				t.Fatalf("received %v which was never accepted", k)
			}
			return true
		})
	}
}
