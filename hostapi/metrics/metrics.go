// Package metrics exports metrics through the OpenTelemetry metrics API:
// guests' own counters, gauges and histograms (the ward_metrics host
// module), the runtime's figures (Register), and how long host modules'
// calls take (HostCallDuration). Prometheus users plug the OpenTelemetry
// Prometheus exporter into the MeterProvider they pass.
//
// Nothing is exported unless the embedder asks: guests' metrics only when
// it registers Module with runtime.WithHostModule (and grants the metrics
// permission in an environment's Config.Host[Namespace]), the runtime's
// only when it calls Register, host calls' durations only with the
// HostCallDuration option. This package never touches OpenTelemetry's
// global MeterProvider.
//
// Guest instruments hold int64 values (create, record) or float64 ones
// (create_float, record_float; NaN and the infinities are refused with
// ErrInvalid, as no exporter can sum them). A guest frees an instrument's
// or a label set's handle with drop or drop_labels; the instrument, shared
// by every process that created its name, stays with what was recorded.
//
// Guest instruments are exported as "guest.<name>" by the meter
// GuestScope; ward's own as "ward.<...>" by RuntimeScope, so no guest can
// write over ward's figures, and an environment's Config.Prefix keeps one
// environment's guests off another's names. What a guest can make the host
// hold is bounded: instrument handles and label sets per process (Config),
// instrument names across the runtime and label sets per instrument
// (Options), names and labels by the ABI's sizes.
package metrics

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"strings"
	"sync"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/metric/noop"

	"github.com/wardrt/ward/environment"
	"github.com/wardrt/ward/hostapi"
	"github.com/wardrt/ward/internal/abi"
)

// Namespace is the module's namespace, and its key in
// environment.Config.Host.
const Namespace = abi.NamespaceMetrics

// Permission is what an environment's Config grants with Enabled: creating
// instruments and label sets.
const Permission = string(abi.PermMetrics)

// GuestScope is the instrumentation scope (meter name) of guests' metrics.
const GuestScope = "github.com/wardrt/ward/guest"

// GuestNamePrefix is put before every guest instrument's name when it is
// exported.
const GuestNamePrefix = "guest."

// Kind is an instrument kind, as ward_metrics.create takes it.
type Kind int32

// The instrument kinds. An instrument's values are int64s when a guest
// creates it with create, float64s with create_float.
const (
	Counter       Kind = 0 // a sum of non-negative values
	UpDownCounter Kind = 1 // a sum that may go down
	Gauge         Kind = 2 // the last value recorded
	Histogram     Kind = 3 // a distribution
	numKinds           = 4
)

// Config is the module's configuration in an environment
// (environment.Config.Host[Namespace]). The zero Config, the root's
// default, grants nothing.
type Config struct {
	// Enabled grants the metrics permission: creating instruments and
	// label sets.
	Enabled bool
	// Prefix is what every instrument name a guest creates must start
	// with ("" allows any). A child's must start with its parent's.
	Prefix string
	// MaxInstruments bounds the instrument handles one process holds;
	// MaxLabelSets its label sets (0: none). A child's may only be
	// smaller. A handle lives until its process ends or the guest drops
	// it (drop, drop_labels), which frees its room.
	MaxInstruments int
	MaxLabelSets   int
}

// Permits grants Permission where Enabled is set.
func (c Config) Permits(perm string) bool { return c.Enabled && perm == Permission }

// Narrow lets a child drop Enabled, lengthen Prefix and lower the bounds;
// anything else is an environment.ErrWiden.
func (c Config) Narrow(child environment.HostConfig) (environment.HostConfig, error) {
	n, ok := child.(Config)
	switch {
	case !ok:
		return nil, fmt.Errorf("%w: %T is not the metrics module's configuration", environment.ErrInvalid, child)
	case n.MaxInstruments < 0 || n.MaxLabelSets < 0:
		return nil, fmt.Errorf("%w: negative bounds", environment.ErrInvalid)
	case n.Enabled && !c.Enabled:
		return nil, fmt.Errorf("%w: metrics are not enabled in the parent", environment.ErrWiden)
	case !strings.HasPrefix(n.Prefix, c.Prefix):
		return nil, fmt.Errorf("%w: Prefix %q does not start with the parent's %q", environment.ErrWiden, n.Prefix, c.Prefix)
	case n.MaxInstruments > c.MaxInstruments:
		return nil, fmt.Errorf("%w: MaxInstruments %d is more than the parent's %d", environment.ErrWiden, n.MaxInstruments, c.MaxInstruments)
	case n.MaxLabelSets > c.MaxLabelSets:
		return nil, fmt.Errorf("%w: MaxLabelSets %d is more than the parent's %d", environment.ErrWiden, n.MaxLabelSets, c.MaxLabelSets)
	}
	return n, nil
}

// Options bound what all guests together can make the host hold.
type Options struct {
	// MaxNames bounds the distinct instrument names guests create, across
	// the runtime (default 1000): each is an instrument the
	// MeterProvider keeps for good.
	MaxNames int
	// MaxSeries bounds the distinct label sets recorded on one instrument
	// (default 1000): each is a series the exporter keeps.
	MaxSeries int
}

// Module returns the ward_metrics host module, whose guests' metrics go to
// provider (nil: nowhere, as with OpenTelemetry's no-op provider).
// Register it with runtime.WithHostModule, and enable it in environments
// with a Config in environment.Config.Host[Namespace].
func Module(provider metric.MeterProvider, opts Options) (hostapi.Module, error) {
	if provider == nil {
		provider = noop.NewMeterProvider()
	}
	if opts.MaxNames <= 0 {
		opts.MaxNames = 1000
	}
	if opts.MaxSeries <= 0 {
		opts.MaxSeries = 1000
	}
	reg := &registry{meter: provider.Meter(GuestScope), opts: opts, byName: map[string]*instrument{}}
	m, err := hostapi.Builtin(Namespace, map[string]hostapi.Handler{
		"create":       reg.create,
		"labels":       reg.labels,
		"record":       reg.record,
		"create_float": reg.createFloat,
		"record_float": reg.recordFloat,
		"drop":         dropInstrument,
		"drop_labels":  dropLabels,
	})
	if err != nil {
		return hostapi.Module{}, err
	}
	m.Doc = "Guest metrics, exported through OpenTelemetry."
	m.DefaultConfig = Config{}
	m.NewState = func(ctx context.Context, c *hostapi.Call) (hostapi.State, error) {
		cfg, _ := c.Config().(Config)
		return &state{
			instruments: hostapi.NewHandles[*instrument](cfg.MaxInstruments),
			labels:      hostapi.NewHandles[*labelSet](cfg.MaxLabelSets),
		}, nil
	}
	return m, nil
}

// registry is the instruments guests created, shared by all processes:
// two processes creating "jobs" add to the same counter.
type registry struct {
	meter  metric.Meter
	opts   Options
	mu     sync.Mutex
	byName map[string]*instrument
}

// instrument is one guest instrument and the label sets recorded on it.
type instrument struct {
	kind    Kind
	float   bool // float64 values (create_float), with the f* fields
	counter metric.Int64Counter
	updown  metric.Int64UpDownCounter
	gauge   metric.Int64Gauge
	hist    metric.Int64Histogram
	fcount  metric.Float64Counter
	fupdown metric.Float64UpDownCounter
	fgauge  metric.Float64Gauge
	fhist   metric.Float64Histogram

	max    int
	mu     sync.Mutex
	series map[attribute.Distinct]struct{}
}

// admit reports whether label set d may be recorded on the instrument:
// yes if it was before, or if the instrument has room for one more.
func (in *instrument) admit(d attribute.Distinct) bool {
	in.mu.Lock()
	defer in.mu.Unlock()
	if _, ok := in.series[d]; ok {
		return true
	}
	if len(in.series) >= in.max {
		return false
	}
	in.series[d] = struct{}{}
	return true
}

// labelSet is one label set of a process, with what record passes to
// OpenTelemetry made once, and the instruments it was admitted on, so a
// repeated record takes no shared lock.
type labelSet struct {
	set      attribute.Set
	add      []metric.AddOption
	rec      []metric.RecordOption
	admitted map[*instrument]bool
}

func newLabelSet(attrs []attribute.KeyValue) *labelSet {
	set := attribute.NewSet(attrs...)
	opt := metric.WithAttributeSet(set)
	return &labelSet{set: set, add: []metric.AddOption{opt}, rec: []metric.RecordOption{opt}, admitted: map[*instrument]bool{}}
}

// state is one process's handles.
type state struct {
	instruments *hostapi.Handles[*instrument]
	labels      *hostapi.Handles[*labelSet]
	none        *labelSet // the empty set, made at the first record without labels
}

// Close drops the process's handles; the instruments stay, shared.
func (s *state) Close(context.Context) {
	s.instruments.Close(nil)
	s.labels.Close(nil)
}

// validName reports whether a guest's instrument name is well formed:
// lowercase letters, digits, '_' and '.', starting with a letter.
func validName(name string) bool {
	if len(name) == 0 || len(name) > abi.MaxMetricNameLen || name[0] < 'a' || name[0] > 'z' {
		return false
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_' || c == '.') {
			return false
		}
	}
	return true
}

// writeHandle writes h as a little-endian i32 at the guest's ptr.
func writeHandle(c *hostapi.Call, ptr int64, h int32) error {
	var b [4]byte
	binary.LittleEndian.PutUint32(b[:], uint32(h))
	return c.Write(ptr, b[:])
}

// create(kind, name_ptr, name_len, handle_ptr) -> status
func (r *registry) create(ctx context.Context, c *hostapi.Call) error {
	return r.createAny(c, false)
}

// create_float(kind, name_ptr, name_len, handle_ptr) -> status
func (r *registry) createFloat(ctx context.Context, c *hostapi.Call) error {
	return r.createAny(c, true)
}

// createAny creates an instrument of int64 values, or float64 ones.
func (r *registry) createAny(c *hostapi.Call, float bool) error {
	kind, nameLen := Kind(c.Arg(0)), uint32(c.Arg(2))
	if kind < 0 || kind >= numKinds || nameLen == 0 || nameLen > abi.MaxMetricNameLen {
		c.Return(abi.ErrInvalid)
		return nil
	}
	name, err := c.ReadString(c.Arg(1), c.Arg(2))
	if err != nil {
		return err
	}
	if !validName(name) {
		c.Return(abi.ErrInvalid)
		return nil
	}
	cfg, _ := c.Config().(Config)
	if !strings.HasPrefix(name, cfg.Prefix) {
		c.Return(abi.ErrPermission)
		return nil
	}
	st := c.State().(*state)
	if st.instruments.Len() >= cfg.MaxInstruments {
		c.Return(abi.ErrLimit)
		return nil
	}
	in, status := r.instrument(kind, float, name)
	if status != abi.OK {
		c.Return(int64(status))
		return nil
	}
	h, err := st.instruments.Add(in)
	if errors.Is(err, hostapi.ErrHandleLimit) {
		c.Return(abi.ErrLimit)
		return nil
	}
	if err := writeHandle(c, c.Arg(3), h); err != nil {
		st.instruments.Remove(h)
		return err
	}
	c.Return(abi.OK)
	return nil
}

// instrument finds or makes the instrument name, of kind and value type.
func (r *registry) instrument(kind Kind, float bool, name string) (*instrument, int32) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if in, ok := r.byName[name]; ok {
		if in.kind != kind || in.float != float {
			return nil, abi.ErrInvalid
		}
		return in, abi.OK
	}
	if len(r.byName) >= r.opts.MaxNames {
		return nil, abi.ErrLimit
	}
	in := &instrument{kind: kind, float: float, max: r.opts.MaxSeries, series: map[attribute.Distinct]struct{}{}}
	full := GuestNamePrefix + name
	var err error
	switch {
	case kind == Counter && float:
		in.fcount, err = r.meter.Float64Counter(full)
	case kind == UpDownCounter && float:
		in.fupdown, err = r.meter.Float64UpDownCounter(full)
	case kind == Gauge && float:
		in.fgauge, err = r.meter.Float64Gauge(full)
	case kind == Histogram && float:
		in.fhist, err = r.meter.Float64Histogram(full)
	case kind == Counter:
		in.counter, err = r.meter.Int64Counter(full)
	case kind == UpDownCounter:
		in.updown, err = r.meter.Int64UpDownCounter(full)
	case kind == Gauge:
		in.gauge, err = r.meter.Int64Gauge(full)
	case kind == Histogram:
		in.hist, err = r.meter.Int64Histogram(full)
	}
	if err != nil {
		// The SDK refuses names it cannot export; validName should have
		// caught them, so this is the guest's name, not the host failing.
		return nil, abi.ErrInvalid
	}
	r.byName[name] = in
	return in, abi.OK
}

// labels(ptr, len, handle_ptr) -> status
func (r *registry) labels(ctx context.Context, c *hostapi.Call) error {
	n := uint32(c.Arg(1))
	if n > abi.MaxMetricLabelsSize { // before reading: a huge len costs nothing
		c.Return(abi.ErrInvalid)
		return nil
	}
	b, err := c.Read(c.Arg(0), int64(n))
	if err != nil {
		return err
	}
	attrs, err := DecodeLabels(b)
	if err != nil {
		c.Return(abi.ErrInvalid)
		return nil
	}
	st := c.State().(*state)
	h, err := st.labels.Add(newLabelSet(attrs))
	if errors.Is(err, hostapi.ErrHandleLimit) {
		c.Return(abi.ErrLimit)
		return nil
	}
	if err := writeHandle(c, c.Arg(2), h); err != nil {
		st.labels.Remove(h)
		return err
	}
	c.Return(abi.OK)
	return nil
}

// record(instrument, labels, value) -> status: the hot path. Handles and
// the label set's admission are looked up in the process's own state; the
// shared per-instrument lock is taken only the first time a label set
// meets an instrument.
func (r *registry) record(ctx context.Context, c *hostapi.Call) error {
	in, ls, status := lookup(c)
	if status != abi.OK {
		c.Return(int64(status))
		return nil
	}
	v := c.Arg(2)
	if in.float {
		c.Return(int64(in.recordFloat(ctx, ls, float64(v))))
		return nil
	}
	if in.kind == Counter && v < 0 {
		c.Return(abi.ErrInvalid)
		return nil
	}
	if !ls.admit(in) {
		c.Return(abi.ErrLimit)
		return nil
	}
	switch in.kind {
	case Counter:
		in.counter.Add(ctx, v, ls.add...)
	case UpDownCounter:
		in.updown.Add(ctx, v, ls.add...)
	case Gauge:
		in.gauge.Record(ctx, v, ls.rec...)
	case Histogram:
		in.hist.Record(ctx, v, ls.rec...)
	}
	c.Return(abi.OK)
	return nil
}

// record_float(instrument, labels, bits) -> status
func (r *registry) recordFloat(ctx context.Context, c *hostapi.Call) error {
	in, ls, status := lookup(c)
	if status != abi.OK {
		c.Return(int64(status))
		return nil
	}
	if !in.float { // an int64 instrument: the value would be cut, silently
		c.Return(abi.ErrInvalid)
		return nil
	}
	c.Return(int64(in.recordFloat(ctx, ls, math.Float64frombits(uint64(c.Arg(2))))))
	return nil
}

// lookup returns the instrument and label set a record call names.
func lookup(c *hostapi.Call) (*instrument, *labelSet, int32) {
	st, _ := c.State().(*state)
	if st == nil { // a process whose environment never granted metrics has no state worth keeping
		return nil, nil, abi.ErrNotFound
	}
	in, ok := st.instruments.Get(int32(c.Arg(0)))
	if !ok {
		return nil, nil, abi.ErrNotFound
	}
	var ls *labelSet
	if lh := int32(c.Arg(1)); lh == 0 {
		if st.none == nil {
			st.none = newLabelSet(nil)
		}
		ls = st.none
	} else if ls, ok = st.labels.Get(lh); !ok {
		return nil, nil, abi.ErrNotFound
	}
	return in, ls, abi.OK
}

// admit reports whether ls may be recorded on in, remembering a yes.
func (ls *labelSet) admit(in *instrument) bool {
	if ls.admitted[in] {
		return true
	}
	if !in.admit(ls.set.Equivalent()) {
		return false
	}
	ls.admitted[in] = true
	return true
}

// recordFloat records v on a float64 instrument and returns the guest's
// status. NaN and the infinities are refused for every kind: a sum or a
// histogram's sum never recovers from one, and exporters differ on a
// gauge's.
func (in *instrument) recordFloat(ctx context.Context, ls *labelSet, v float64) int32 {
	if math.IsNaN(v) || math.IsInf(v, 0) || in.kind == Counter && v < 0 {
		return abi.ErrInvalid
	}
	if !ls.admit(in) {
		return abi.ErrLimit
	}
	switch in.kind {
	case Counter:
		in.fcount.Add(ctx, v, ls.add...)
	case UpDownCounter:
		in.fupdown.Add(ctx, v, ls.add...)
	case Gauge:
		in.fgauge.Record(ctx, v, ls.rec...)
	case Histogram:
		in.fhist.Record(ctx, v, ls.rec...)
	}
	return abi.OK
}

// drop(instrument) -> status: frees the handle. The label sets' notes of
// having been admitted on it go too, unless another handle of the process
// names the same instrument; the instrument and its series stay, shared.
func dropInstrument(ctx context.Context, c *hostapi.Call) error {
	st, _ := c.State().(*state)
	if st == nil {
		c.Return(abi.ErrNotFound)
		return nil
	}
	in, ok := st.instruments.Remove(int32(c.Arg(0)))
	if !ok {
		c.Return(abi.ErrNotFound)
		return nil
	}
	for _, other := range st.instruments.All() {
		if other == in {
			c.Return(abi.OK)
			return nil
		}
	}
	for _, ls := range st.labels.All() {
		delete(ls.admitted, in)
	}
	if st.none != nil {
		delete(st.none.admitted, in)
	}
	c.Return(abi.OK)
	return nil
}

// drop_labels(labels) -> status
func dropLabels(ctx context.Context, c *hostapi.Call) error {
	st, _ := c.State().(*state)
	if st == nil {
		c.Return(abi.ErrNotFound)
		return nil
	}
	if _, ok := st.labels.Remove(int32(c.Arg(0))); !ok {
		c.Return(abi.ErrNotFound)
		return nil
	}
	c.Return(abi.OK)
	return nil
}
