package runtime

import (
	"context"
	"fmt"
	"testing"
	"time"
)

// BenchmarkUpgrade times one upgrade as its requester sees it (the
// µs/upgrade metric): from the request to the first message of the new
// version's entry, two message deliveries more than the pause the process
// itself sees (wardbench's upgrade_pause_us_ward). ns/op counts the
// installation of each new version too.
func BenchmarkUpgrade(b *testing.B) {
	r, err := New()
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	defer r.Close(ctx)
	var versions [3]*Module
	for i := range versions {
		if versions[i], err = r.LoadModule(ctx, "svc", upgraderWAT(i+1)); err != nil {
			b.Fatal(err)
		}
		defer versions[i].Close()
	}
	installed := 0
	install := func() {
		installed++
		if err := r.Install(ctx, "svc", fmt.Sprintf("1.0.%d", installed), versions[installed%3]); err != nil {
			b.Fatal(err)
		}
	}
	reports := make(chan Message, 16)
	collector, err := r.Environment().SpawnGo(ctx, "collector", func(ctx context.Context, self *Self) error {
		for {
			m, err := self.Receive(ctx)
			if err != nil {
				return nil
			}
			reports <- m
		}
	})
	if err != nil {
		b.Fatal(err)
	}
	defer collector.Kill()
	install()
	cur, _, _ := r.Current("svc")
	p, err := r.Environment().Spawn(ctx, cur, "main", I64(int64(collector.ID())))
	if err != nil {
		b.Fatal(err)
	}
	defer p.Kill()
	request := Message{Tag: 2, Data: []byte("resume")}
	// Timed by hand: StopTimer around each install would read the memory
	// statistics, a stop-the-world, twice an upgrade.
	var upgrading time.Duration
	for range b.N {
		install()
		start := time.Now()
		if err := r.Send(ctx, p.ID(), request); err != nil {
			b.Fatal(err)
		}
		if m := <-reports; m.Tag%10 != 1 {
			b.Fatalf("report %d, want a resume", m.Tag)
		}
		upgrading += time.Since(start)
	}
	b.ReportMetric(float64(upgrading.Nanoseconds())/1e3/float64(b.N), "µs/upgrade")
}
