package guest

import (
	"math"
	"strings"
	"unsafe"

	"github.com/wardrt/ward/internal/abi"
)

// Metrics (ward_metrics): counters, up-down counters, gauges and
// histograms of int64 values (Counter, ...) or float64 ones
// (FloatCounter, ...), with labels, which the embedder exports
// through OpenTelemetry as guest.<name> when it registers the metrics host
// module (hostapi/metrics). The environment must grant the metrics
// permission and decides the names a guest may use (a prefix) and how many
// instruments and label sets it may hold; otherwise New* returns
// ErrPermission or ErrLimit. Make instruments and label sets once and
// record with them often: a record is one host call, with nothing to
// encode. Drop frees an instrument's or a label set's room under the
// environment's bounds before the process ends; what was recorded stays.
// Float values must be finite: NaN and the infinities are refused with
// ErrInvalid, and nothing is recorded.

// Instrument kinds, as ward_metrics.create takes them.
const (
	kindCounter       uint32 = 0
	kindUpDownCounter uint32 = 1
	kindGauge         uint32 = 2
	kindHistogram     uint32 = 3
)

// Labels is a label set (OpenTelemetry attributes) made by NewLabels, to
// record with. The zero Labels is the empty set.
type Labels struct{ h int32 }

// NewLabels makes a label set from key, value pairs: NewLabels("method",
// "GET", "code", "200"). Keys are letters, digits and '_', not starting
// with a digit; values are any text without a newline. ErrInvalid for an
// odd number of strings, a malformed key or value, or more than the ABI
// allows (MaxMetricLabels pairs, MaxMetricLabelsSize bytes); ErrLimit when
// this process holds as many label sets as its environment allows.
func NewLabels(pairs ...string) (Labels, error) {
	if len(pairs)%2 != 0 {
		return Labels{}, fail("metrics labels", abi.ErrInvalid)
	}
	var b strings.Builder
	for i := 0; i < len(pairs); i += 2 {
		b.WriteString(pairs[i])
		b.WriteByte('=')
		b.WriteString(pairs[i+1])
		b.WriteByte('\n')
	}
	enc := b.String()
	var h int32
	if st := wardMetricsLabels(addrStr(enc), uint32(len(enc)), addr(unsafe.Pointer(&h))); st != abi.OK {
		return Labels{}, fail("metrics labels", st)
	}
	return Labels{h}, nil
}

// Drop frees the label set's handle. Recording with it afterwards
// returns ErrNotFound.
func (l Labels) Drop() error { return drop(wardMetricsDropLabels, "metrics drop labels", l.h) }

func create(kind uint32, name string) (int32, error) {
	var h int32
	if st := wardMetricsCreate(kind, addrStr(name), uint32(len(name)), addr(unsafe.Pointer(&h))); st != abi.OK {
		return 0, fail("metrics create "+quote(name), st)
	}
	return h, nil
}

func createFloat(kind uint32, name string) (int32, error) {
	var h int32
	if st := wardMetricsCreateFloat(kind, addrStr(name), uint32(len(name)), addr(unsafe.Pointer(&h))); st != abi.OK {
		return 0, fail("metrics create "+quote(name), st)
	}
	return h, nil
}

func recordFloat(h int32, v float64, l []Labels) error {
	var lh int32
	if len(l) > 0 {
		lh = l[0].h
	}
	if st := wardMetricsRecordFloat(uint32(h), uint32(lh), int64(math.Float64bits(v))); st != abi.OK {
		return fail("metrics record", st)
	}
	return nil
}

func drop(f func(uint32) int32, what string, h int32) error {
	if st := f(uint32(h)); st != abi.OK {
		return fail(what, st)
	}
	return nil
}

func dropInstrument(h int32) error { return drop(wardMetricsDrop, "metrics drop", h) }

func record(h int32, v int64, l []Labels) error {
	var lh int32
	if len(l) > 0 {
		lh = l[0].h
	}
	if st := wardMetricsRecord(uint32(h), uint32(lh), v); st != abi.OK {
		return fail("metrics record", st)
	}
	return nil
}

// Counter is a sum that only grows.
type Counter struct{ h int32 }

// NewCounter creates (or finds) the counter name: lowercase letters,
// digits, '_' and '.', starting with a letter and with the prefix the
// environment allows. ErrPermission outside the prefix or without the
// metrics permission, ErrInvalid for a malformed name or one created with
// another kind, ErrLimit past the environment's or embedder's bounds.
func NewCounter(name string) (Counter, error) {
	h, err := create(kindCounter, name)
	return Counter{h}, err
}

// Add adds v (not negative: ErrInvalid) with the first of labels, if
// given. ErrLimit when the counter has as many label sets as the embedder
// allows and this one is new.
func (c Counter) Add(v int64, labels ...Labels) error { return record(c.h, v, labels) }

// Drop frees the counter's handle; using it afterwards returns
// ErrNotFound.
func (c Counter) Drop() error { return dropInstrument(c.h) }

// UpDownCounter is a sum that may go down: items in a queue, say.
type UpDownCounter struct{ h int32 }

// NewUpDownCounter creates (or finds) the up-down counter name, as
// NewCounter.
func NewUpDownCounter(name string) (UpDownCounter, error) {
	h, err := create(kindUpDownCounter, name)
	return UpDownCounter{h}, err
}

// Add adds v, which may be negative, with the first of labels, if given.
func (c UpDownCounter) Add(v int64, labels ...Labels) error { return record(c.h, v, labels) }

// Drop frees the handle, as Counter.Drop.
func (c UpDownCounter) Drop() error { return dropInstrument(c.h) }

// Gauge is a value set now and then: its last value is exported.
type Gauge struct{ h int32 }

// NewGauge creates (or finds) the gauge name, as NewCounter.
func NewGauge(name string) (Gauge, error) {
	h, err := create(kindGauge, name)
	return Gauge{h}, err
}

// Set sets the gauge to v for the first of labels, if given.
func (g Gauge) Set(v int64, labels ...Labels) error { return record(g.h, v, labels) }

// Drop frees the handle, as Counter.Drop.
func (g Gauge) Drop() error { return dropInstrument(g.h) }

// Histogram is a distribution of values: latencies, sizes.
type Histogram struct{ h int32 }

// NewHistogram creates (or finds) the histogram name, as NewCounter.
func NewHistogram(name string) (Histogram, error) {
	h, err := create(kindHistogram, name)
	return Histogram{h}, err
}

// Record observes v with the first of labels, if given.
func (h Histogram) Record(v int64, labels ...Labels) error { return record(h.h, v, labels) }

// Drop frees the handle, as Counter.Drop.
func (h Histogram) Drop() error { return dropInstrument(h.h) }

// FloatCounter is a sum of float64 values that only grows: seconds of
// work done, say.
type FloatCounter struct{ h int32 }

// NewFloatCounter creates (or finds) the float64 counter name, as
// NewCounter; a name is either an int64 or a float64 instrument
// (ErrInvalid for the other).
func NewFloatCounter(name string) (FloatCounter, error) {
	h, err := createFloat(kindCounter, name)
	return FloatCounter{h}, err
}

// Add adds v (finite and not negative, or ErrInvalid) with the first of
// labels, if given.
func (c FloatCounter) Add(v float64, labels ...Labels) error { return recordFloat(c.h, v, labels) }

// Drop frees the handle, as Counter.Drop.
func (c FloatCounter) Drop() error { return dropInstrument(c.h) }

// FloatUpDownCounter is a float64 sum that may go down.
type FloatUpDownCounter struct{ h int32 }

// NewFloatUpDownCounter creates (or finds) the float64 up-down counter
// name, as NewFloatCounter.
func NewFloatUpDownCounter(name string) (FloatUpDownCounter, error) {
	h, err := createFloat(kindUpDownCounter, name)
	return FloatUpDownCounter{h}, err
}

// Add adds v (finite, or ErrInvalid) with the first of labels, if given.
func (c FloatUpDownCounter) Add(v float64, labels ...Labels) error {
	return recordFloat(c.h, v, labels)
}

// Drop frees the handle, as Counter.Drop.
func (c FloatUpDownCounter) Drop() error { return dropInstrument(c.h) }

// FloatGauge is a float64 value set now and then: a temperature, a ratio.
type FloatGauge struct{ h int32 }

// NewFloatGauge creates (or finds) the float64 gauge name, as
// NewFloatCounter.
func NewFloatGauge(name string) (FloatGauge, error) {
	h, err := createFloat(kindGauge, name)
	return FloatGauge{h}, err
}

// Set sets the gauge to v (finite, or ErrInvalid) for the first of
// labels, if given.
func (g FloatGauge) Set(v float64, labels ...Labels) error { return recordFloat(g.h, v, labels) }

// Drop frees the handle, as Counter.Drop.
func (g FloatGauge) Drop() error { return dropInstrument(g.h) }

// FloatHistogram is a distribution of float64 values: latencies in
// seconds.
type FloatHistogram struct{ h int32 }

// NewFloatHistogram creates (or finds) the float64 histogram name, as
// NewFloatCounter.
func NewFloatHistogram(name string) (FloatHistogram, error) {
	h, err := createFloat(kindHistogram, name)
	return FloatHistogram{h}, err
}

// Record observes v (finite, or ErrInvalid) with the first of labels, if
// given.
func (h FloatHistogram) Record(v float64, labels ...Labels) error {
	return recordFloat(h.h, v, labels)
}

// Drop frees the handle, as Counter.Drop.
func (h FloatHistogram) Drop() error { return dropInstrument(h.h) }
