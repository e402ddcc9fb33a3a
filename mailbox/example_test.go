package mailbox_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/wardrt/ward/mailbox"
)

func Example() {
	mb := mailbox.New(mailbox.Limits{})
	_ = mb.Push(mailbox.Message{Sender: 1, Data: []byte("hello")})
	_ = mb.Push(mailbox.Message{Sender: 1, Data: []byte("world")})

	for range 2 {
		msg, err := mb.Receive(context.Background())
		if err != nil {
			fmt.Println(err)
			return
		}
		fmt.Printf("from %d: %s\n", msg.Sender, msg.Data)
	}
	// Output:
	// from 1: hello
	// from 1: world
}

// A process that sent request 17 picks out the reply, leaving the
// notifications that arrived first in their place.
func Example_selectiveReceive() {
	const replyTo17 = 17
	mb := mailbox.New(mailbox.Limits{})
	_ = mb.Push(mailbox.Message{Data: []byte("notification 1")})
	_ = mb.Push(mailbox.Message{Tag: replyTo17, Data: []byte("reply")})
	_ = mb.Push(mailbox.Message{Data: []byte("notification 2")})

	reply, _ := mb.TryReceive(replyTo17)
	fmt.Printf("%s\n", reply.Data)
	for {
		msg, ok := mb.TryReceive()
		if !ok {
			break
		}
		fmt.Printf("%s\n", msg.Data)
	}
	// Output:
	// reply
	// notification 1
	// notification 2
}

func ExampleMailbox_Push_full() {
	mb := mailbox.New(mailbox.Limits{MaxMessages: 1})
	_ = mb.Push(mailbox.Message{Data: []byte("first")})

	err := mb.Push(mailbox.Message{Data: []byte("second")})
	var full *mailbox.FullError
	if errors.As(err, &full) {
		fmt.Println(errors.Is(err, mailbox.ErrFull), full.Limit, full.Used, full.Max)
	}

	// Runtime signals are still delivered.
	err = mb.PushSignal(mailbox.Message{Tag: -1, Data: []byte("DOWN")})
	fmt.Println(err, mb.Len())
	// Output:
	// true messages 1 1
	// <nil> 2
}

func ExampleMailbox_Receive_timeout() {
	mb := mailbox.New(mailbox.Limits{})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Millisecond)
	defer cancel()

	_, err := mb.Receive(ctx, 42)
	fmt.Println(errors.Is(err, context.DeadlineExceeded))
	// Output:
	// true
}

// The runtime waits for mail, a kill request and a timer at once, without
// allocating, by selecting on Notify.
func ExampleMailbox_Notify() {
	mb := mailbox.New(mailbox.Limits{})
	kill := make(chan struct{})
	timer := time.NewTimer(time.Second)
	defer timer.Stop()

	go func() { _ = mb.Push(mailbox.Message{Tag: 3, Data: []byte("ping")}) }()

	for {
		if msg, ok := mb.TryReceive(3); ok {
			fmt.Printf("%s\n", msg.Data)
			return
		}
		select {
		case _, open := <-mb.Notify():
			if !open {
				fmt.Println("closed")
				return
			}
		case <-kill:
			fmt.Println("killed")
			return
		case <-timer.C:
			fmt.Println("timeout")
			return
		}
	}
	// Output:
	// ping
}

func ExampleMailbox_Close() {
	mb := mailbox.New(mailbox.Limits{})
	_ = mb.Push(mailbox.Message{Data: []byte("never read")})

	fmt.Println(mb.Close())
	fmt.Println(mb.Push(mailbox.Message{}))
	// Output:
	// 1
	// ward: mailbox closed
}
