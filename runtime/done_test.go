package runtime

import (
	"context"
	"testing"
	"time"
)

// TestDoneMadeWhenAsked: a process's Done channel is made only when
// someone asks for it (doneChan). Asked for after the end, it is closed
// and Reason and Wait have the reason; asked for before, it is open
// while the process runs and closed when it ends.
func TestDoneMadeWhenAsked(t *testing.T) {
	r := newRuntime(t)
	ctx := testCtx(t)
	env := r.Environment()
	m := load(t, r, "trivial", []byte(`(module (func (export "run")))`))

	p := spawn(t, env, m, "run")
	r.wg.Wait() // p has ended, and nothing asked for its channel
	if p.Reason() != Normal {
		t.Fatalf("Reason after the end: %v", p.Reason())
	}
	select {
	case <-p.Done():
	default:
		t.Fatal("Done asked for after the end is not closed")
	}
	if reason, err := p.Wait(ctx); reason != Normal || err != nil {
		t.Fatalf("Wait after the end: %v, %v", reason, err)
	}

	release := make(chan struct{})
	q, err := env.SpawnGo(ctx, "held", func(context.Context, *Self) error {
		<-release
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	d := q.Done()
	select {
	case <-d:
		t.Fatal("Done is closed while the process runs")
	default:
	}
	if q.Reason() != nil {
		t.Fatalf("Reason while it runs: %v", q.Reason())
	}
	close(release)
	select {
	case <-d:
	case <-time.After(testTimeout):
		t.Fatal("Done asked for before the end was not closed at the end")
	}
	if q.Done() != d {
		t.Fatal("Done returned another channel")
	}
	if q.Reason() != Normal {
		t.Fatalf("Reason after the end: %v", q.Reason())
	}
}
