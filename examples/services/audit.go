package main

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/wardrt/ward/runtime"
)

// tagServed is the tag of the notice a greeter sends audit before each
// reply; its data is the greeter's version. Any other message is a query,
// answered (runtime.Request style: to its sender, under its tag) with one
// line per greeter process that has served, in pid order:
//
//	pid 3 greeter 1.4.0: 2 requests
//
// Tags from runtime.UniqueTag and ward_message.unique_tag start far above
// 1, so a query never looks like a notice.
const tagServed = 1

// audit is a Go-native process that counts the requests each greeter
// process served. It lives beside the greeters in the tree, not inside
// them, so its counts survive a greeter's crash: the count of the crashed
// process stays, and the restarted process starts its own.
func audit(ctx context.Context, self *runtime.Self) error {
	type tally struct {
		version string
		n       int
	}
	served := map[uint64]*tally{}
	for {
		m, err := self.Receive(ctx)
		if err != nil {
			return nil // stopped: the supervisor kills it, which cancels ctx
		}
		if m.Tag == tagServed {
			t := served[m.Sender]
			if t == nil {
				t = &tally{version: string(m.Data)}
				served[m.Sender] = t
			}
			t.n++
			continue
		}
		var b strings.Builder
		for _, pid := range slices.Sorted(maps.Keys(served)) {
			t := served[pid]
			fmt.Fprintf(&b, "pid %d greeter %s: %d %s\n", pid, t.version, t.n, plural(t.n, "request"))
		}
		_ = self.Reply(m, runtime.Message{Data: []byte(b.String())}) // a sender that has gone misses its reply
	}
}

func plural(n int, word string) string {
	if n == 1 {
		return word
	}
	return word + "s"
}
