package chanptr

import "testing"

func TestPointer(t *testing.T) {
	var x Pointer
	if x.Load() != nil {
		t.Fatal("the zero Pointer holds a channel")
	}
	a, b := make(chan struct{}, 1), make(chan struct{})
	if !x.CompareAndSwap(nil, a) || x.Load() != a {
		t.Fatal("CompareAndSwap from nil did not set the channel")
	}
	if x.CompareAndSwap(nil, b) || x.Load() != a {
		t.Fatal("CompareAndSwap with a stale old value replaced the channel")
	}
	x.Store(b)
	if x.Load() != b {
		t.Fatal("Store did not set the channel")
	}
	a <- struct{}{}
	x.Store(a)
	select {
	case <-x.Load():
	default:
		t.Fatal("the loaded channel is not the one stored: its value is missing")
	}
}
