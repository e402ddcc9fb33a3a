package supervisor

import (
	"math/rand/v2"
	"time"
)

// Backoff is the delay before a restart. A child's k-th restart within the
// supervisor's Period waits Min·2^(k-1), at most Max, less a random part of
// up to Jitter of it: the delay is uniform in [(1-Jitter)·d, d]. So by
// default a child that keeps failing is restarted after about 10, 20, 40,
// 80 ms, ... up to 1 s; a child that has not been restarted for a Period
// starts again at Min. The jitter keeps children that failed together from
// restarting in lockstep.
//
// While a restart waits, the supervisor goes on serving its other children
// and its callers; the waiting child's state is Restarting.
type Backoff struct {
	Min    time.Duration // first delay; 0 means 10ms; negative disables backoff
	Max    time.Duration // cap; 0 means 1s
	Jitter float64       // fraction in [0,1]; 0 means 0.5; negative means none
}

// DefaultBackoff is what the zero Backoff means: 10 ms doubling to 1 s,
// with up to half of each delay taken off at random.
var DefaultBackoff = Backoff{Min: 10 * time.Millisecond, Max: time.Second, Jitter: 0.5}

// NoBackoff restarts children at once, as OTP does.
var NoBackoff = Backoff{Min: -1}

func (b Backoff) normalize() Backoff {
	if b.Min == 0 {
		b.Min = DefaultBackoff.Min
	}
	if b.Max == 0 {
		b.Max = DefaultBackoff.Max
	}
	if b.Max < b.Min {
		b.Max = b.Min
	}
	switch {
	case b.Jitter == 0:
		b.Jitter = DefaultBackoff.Jitter
	case b.Jitter > 1:
		b.Jitter = 1
	}
	return b // a negative Min or Jitter stays negative: normalize is idempotent
}

// Delay returns the delay before the k-th restart (k >= 1) within a period,
// with its jitter drawn from rand.Float64. The zero Backoff is
// DefaultBackoff.
func (b Backoff) Delay(k int) time.Duration {
	return b.delay(k, rand.Float64())
}

// delay computes the delay with u in [0,1) as the random draw.
func (b Backoff) delay(k int, u float64) time.Duration {
	b = b.normalize()
	if b.Min < 0 || k < 1 {
		return 0
	}
	d := b.Min
	for i := 1; i < k && d < b.Max; i++ {
		d *= 2
	}
	d = min(d, b.Max)
	return d - time.Duration(float64(d)*max(b.Jitter, 0)*u)
}
