package main

import (
	"context"
	"time"

	"github.com/wardrt/ward/runtime"
)

// The kvstore process speaks CBOR (RFC 8949), which guests in any language
// can write and read; kvguest.wat does it by hand in a few lines. Each
// message is one fixed-length CBOR array (the `toarray` struct tags), in
// CBOR's diagnostic notation:
//
//	request:  [op, key, value, ttl_ms]  e.g. ["put", "color", h'7465616C', 0]
//	          op "put", "get" or "del" (text); key text; value bytes (h''
//	          for get and del); ttl_ms an integer, 0 for no expiry
//	reply:    [status, value]           e.g. [0, h'7465616C'] or [3, h'']
//
// A guest sends the request under a fresh tag (ward_message.unique_tag)
// and waits for the reply under that same tag (send_receive); statuses are
// those of the host module. A message that is not a request is answered
// with StatusInvalid and empty bytes rather than ending the process.
type request struct {
	_     struct{} `cbor:",toarray"`
	Op    string
	Key   string
	Value []byte
	TTL   int64
}

type reply struct {
	_      struct{} `cbor:",toarray"`
	Status int
	Value  []byte
}

// Serve is the body of the kvstore process. The process owns its table,
// so there is nothing to lock: requests are served one at a time, in
// order. Every sweepEvery it sends itself a message and sweeps when it
// arrives; the timer and the process go when the runtime closes, so there
// is nothing to stop either.
func Serve(sweepEvery time.Duration) runtime.GoFunc {
	return func(ctx context.Context, self *runtime.Self) error {
		t := table{}
		scheduleSweep := func() error {
			_, err := self.SendAfter(sweepEvery, self.ID(), runtime.Message{})
			return err
		}
		if err := scheduleSweep(); err != nil {
			return err
		}
		for {
			m, err := self.Receive(ctx)
			if err != nil {
				return nil // killed, or the runtime is closing
			}
			now := time.Now()
			if m.Sender == uint64(self.ID()) { // only the sweep timer sends as us
				t.sweep(now)
				_ = scheduleSweep() // fails only when the runtime is closing
				continue
			}
			out, err := runtime.EncodeMessage(0, t.serve(m, now))
			if err != nil {
				return err
			}
			_ = self.Reply(m, out) // a sender that has gone misses its reply, as in Erlang
		}
	}
}

// serve answers one request.
func (t table) serve(m runtime.Message, now time.Time) reply {
	var req request
	r := reply{Status: StatusInvalid}
	if runtime.DecodeMessage(m, &req) == nil {
		switch req.Op {
		case "put":
			r.Status = t.put(req.Key, req.Value, ttlOf(req.TTL), now)
		case "get":
			r.Status = StatusNotFound
			if v, ok := t.lookup(req.Key, now); ok {
				r.Status, r.Value = StatusOK, v
			}
		case "del":
			r.Status = t.del(req.Key, now)
		}
	}
	if r.Value == nil {
		r.Value = []byte{} // a nil []byte would be encoded as CBOR null, not h''
	}
	return r
}
