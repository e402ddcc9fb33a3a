package mailbox_test

import (
	"context"
	"errors"
	"runtime"
	"sync"
	"testing"

	"github.com/wardrt/ward/mailbox"
)

var payload = make([]byte, 64)

// The message round trip's share of the mailbox: one push, one receive.
func BenchmarkPushTryReceive(b *testing.B) {
	mb := mailbox.New(mailbox.Limits{})
	msg := mailbox.Message{Sender: 1, Data: payload}
	b.ReportAllocs()
	for b.Loop() {
		_ = mb.Push(msg)
		if _, ok := mb.TryReceive(); !ok {
			b.Fatal("empty")
		}
	}
}

func BenchmarkPushTryReceiveTagged(b *testing.B) {
	mb := mailbox.New(mailbox.Limits{})
	msg := mailbox.Message{Sender: 1, Tag: 7, Data: payload}
	b.ReportAllocs()
	for b.Loop() {
		_ = mb.Push(msg)
		if _, ok := mb.TryReceive(7); !ok {
			b.Fatal("empty")
		}
	}
}

// A reply picked out from behind 10,000 waiting messages of another tag must
// cost about what it costs in an empty mailbox.
func BenchmarkTaggedReceive10kWaiting(b *testing.B) {
	mb := mailbox.New(mailbox.Limits{})
	for range 10_000 {
		_ = mb.Push(mailbox.Message{Tag: 1, Data: payload})
	}
	msg := mailbox.Message{Sender: 1, Tag: 2, Data: payload}
	tags := []int64{2, 3, 4}
	b.ReportAllocs()
	for b.Loop() {
		_ = mb.Push(msg)
		if _, ok := mb.TryReceive(tags...); !ok {
			b.Fatal("empty")
		}
	}
}

// Several producers push into one mailbox while its one consumer drains it
// with the runtime's Notify loop. ns/op is per message.
func BenchmarkConcurrentProducers(b *testing.B) {
	mb := mailbox.New(mailbox.Limits{MaxMessages: 1024})
	total := b.N
	done := make(chan struct{})
	go func() {
		defer close(done)
		for n := 0; n < total; {
			if _, ok := mb.TryReceive(); ok {
				n++
				continue
			}
			<-mb.Notify()
		}
	}()
	msg := mailbox.Message{Sender: 1, Data: payload}
	b.ReportAllocs()
	b.SetParallelism(2) // 2 × GOMAXPROCS producers
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			for {
				err := mb.Push(msg)
				if err == nil {
					break
				}
				if !errors.Is(err, mailbox.ErrFull) {
					b.Error(err)
					return
				}
				runtime.Gosched()
			}
		}
	})
	<-done
}

// Two processes bouncing one message between their mailboxes, each waiting
// the way the runtime does. ns/op is per round trip (two hops).
func BenchmarkPingPong(b *testing.B) {
	a, z := mailbox.New(mailbox.Limits{}), mailbox.New(mailbox.Limits{})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var wg sync.WaitGroup
	wg.Go(func() {
		for {
			msg, err := z.Receive(ctx)
			if err != nil {
				return
			}
			_ = a.Push(msg)
		}
	})
	msg := mailbox.Message{Sender: 1, Data: payload}
	b.ReportAllocs()
	for b.Loop() {
		_ = z.Push(msg)
		if _, err := a.Receive(ctx); err != nil {
			b.Fatal(err)
		}
	}
	cancel()
	wg.Wait()
}
