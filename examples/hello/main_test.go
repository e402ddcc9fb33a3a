package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"
)

func TestHello(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var out bytes.Buffer
	if err := run(ctx, &out); err != nil {
		t.Fatal(err)
	}
	got := out.String()
	if n := strings.Count(got, "hello from a ward process\n"); n != 3 {
		t.Errorf("%d greetings, want 3:\n%s", n, got)
	}
	for _, want := range []string{
		"greet ended: normal\n",
		"spin ended: killed\n",
		"crash ended: process ", // the trap names the process, module and entry
		"(hello.crash) trapped: wasm trap: wasm `unreachable` instruction executed",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("output lacks %q:\n%s", want, got)
		}
	}
}
