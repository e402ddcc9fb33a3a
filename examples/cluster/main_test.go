package main

import (
	"bytes"
	"context"
	"testing"
	"time"
)

func TestCluster(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var out bytes.Buffer
	if err := run(ctx, &out); err != nil {
		t.Fatalf("%v\noutput so far:\n%s", err, out.String())
	}
	want := `fan-out: square over nodes 1, 2, 3
  square(1) = 1 on node 1
  square(2) = 4 on node 2
  square(3) = 9 on node 3
  square(4) = 16 on node 1
  square(13) on node 2 failed: trap
  square(6) = 36 on node 3
global lookup on node 1: counter 1.0.0 is on node 3
  request from node 1: count 1
  request from node 1: count 2
node 3 cut off
  node 1: link to the service fired exit noconnection
  node 2: monitor fired DOWN noconnection
  node 2: node monitor says node 3 is down
global lookup on node 1: counter is gone with its node
`
	if got := out.String(); got != want {
		t.Errorf("output:\n%s\nwant:\n%s", got, want)
	}
}
