package supervisor

import (
	"testing"
	"time"
)

func TestBackoffDelay(t *testing.T) {
	ms := time.Millisecond
	for _, tc := range []struct {
		b    Backoff
		k    int
		u    float64
		want time.Duration
	}{
		{Backoff{}, 1, 0, 10 * ms},
		{Backoff{}, 2, 0, 20 * ms},
		{Backoff{}, 5, 0, 160 * ms},
		{Backoff{}, 7, 0, 640 * ms},
		{Backoff{}, 8, 0, time.Second}, // 1280 ms, capped
		{Backoff{}, 1000, 0, time.Second},
		{Backoff{}, 1, 0.5, 7500 * time.Microsecond}, // a quarter off
		{Backoff{}, 2, 0.999999, 10*ms + 10*time.Nanosecond},
		{Backoff{Min: 5 * ms, Max: 12 * ms, Jitter: -1}, 3, 0.9, 12 * ms},
		{Backoff{Min: 5 * ms, Jitter: 1}, 1, 0.5, 2500 * time.Microsecond},
		{Backoff{Min: 50 * ms, Max: 10 * ms}, 3, 0, 50 * ms}, // Max below Min: Min
		{NoBackoff, 1, 0.3, 0},
		{NoBackoff, 50, 0.3, 0},
		{DefaultBackoff, 0, 0, 0},
	} {
		if got := tc.b.delay(tc.k, tc.u); got != tc.want {
			t.Errorf("%+v.delay(%d, %v) = %v, want %v", tc.b, tc.k, tc.u, got, tc.want)
		}
		// Normalizing twice must not change the meaning.
		if got := tc.b.normalize().delay(tc.k, tc.u); got != tc.want {
			t.Errorf("%+v normalized: delay(%d, %v) = %v, want %v", tc.b, tc.k, tc.u, got, tc.want)
		}
	}
	for range 1000 {
		if d := (Backoff{}).Delay(3); d < 20*ms || d > 40*ms {
			t.Fatalf("Delay(3) = %v, outside [20ms, 40ms]", d)
		}
	}
}
