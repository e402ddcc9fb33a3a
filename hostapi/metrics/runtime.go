package metrics

import (
	"context"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"

	"github.com/wardrt/ward/internal/errs"
	"github.com/wardrt/ward/runtime"
)

// RuntimeScope is the instrumentation scope (meter name) of the runtime's
// own figures.
const RuntimeScope = "github.com/wardrt/ward/runtime"

// The runtime's figures, as Register exports them.
const (
	MetricProcesses      = "ward.processes"               // gauge: processes alive
	MetricSpawned        = "ward.processes.spawned"       // counter: processes started
	MetricEnded          = "ward.processes.ended"         // counter, by "reason" (runtime.EndKind's text)
	MetricMessagesSent   = "ward.messages.sent"           // counter: messages queued
	MetricMessagesDrop   = "ward.messages.dropped"        // counter: refused by a full mailbox
	MetricRemoteDropped  = "ward.messages.remote_dropped" // counter: from other nodes, dropped on arrival
	MetricMailboxQueued  = "ward.mailbox.queued"          // gauge: messages waiting, all mailboxes
	MetricMailboxMax     = "ward.mailbox.depth.max"       // gauge: the deepest mailbox
	MetricModules        = "ward.modules"                 // gauge: compiled modules alive
	MetricStacksInUse    = "ward.stacks.in_use"           // gauge: fiber stacks held
	endedReasonAttribute = "reason"
)

// Register exports rt's figures (runtime.Stats) through provider's meter
// RuntimeScope, as the Metric* instruments. They are observable: rt.Stats
// runs once per collection, in the reader's callback, so the runtime's hot
// paths pay nothing, and the cost is one Stats call per scrape (it grows
// with the processes alive). Unregister the returned Registration to stop.
//
// Host-call latency is not among them: it is measured per call, so it
// takes an option at runtime.New (HostCallDuration), and only where the
// embedder passes it do calls pay for the clock.
func Register(rt *runtime.Runtime, provider metric.MeterProvider) (metric.Registration, error) {
	m := provider.Meter(RuntimeScope)
	var errList []error
	counter := func(name, desc string) metric.Int64ObservableCounter {
		c, err := m.Int64ObservableCounter(name, metric.WithDescription(desc))
		errList = append(errList, err)
		return c
	}
	gauge := func(name, desc string) metric.Int64ObservableGauge {
		g, err := m.Int64ObservableGauge(name, metric.WithDescription(desc))
		errList = append(errList, err)
		return g
	}
	procs := gauge(MetricProcesses, "Processes alive.")
	spawned := counter(MetricSpawned, "Processes started.")
	ended := counter(MetricEnded, "Processes ended, by reason.")
	sent := counter(MetricMessagesSent, "Messages queued in mailboxes.")
	dropped := counter(MetricMessagesDrop, "Messages refused by a full mailbox.")
	remote := counter(MetricRemoteDropped, "Messages from other nodes dropped on arrival.")
	queued := gauge(MetricMailboxQueued, "Messages waiting in mailboxes.")
	deepest := gauge(MetricMailboxMax, "Messages waiting in the deepest mailbox.")
	modules := gauge(MetricModules, "Compiled modules alive.")
	stacks := gauge(MetricStacksInUse, "Fiber stacks in use.")
	for _, err := range errList {
		if err != nil {
			return nil, errs.Errorf("ward: metrics: %w", err)
		}
	}
	var reasons [runtime.NumEndKinds]metric.ObserveOption
	for k := range runtime.NumEndKinds {
		reasons[k] = metric.WithAttributes(attribute.String(endedReasonAttribute, k.String()))
	}
	reg, err := m.RegisterCallback(func(_ context.Context, o metric.Observer) error {
		s := rt.Stats()
		o.ObserveInt64(procs, int64(s.Processes))
		o.ObserveInt64(spawned, int64(s.Spawned))
		for k, n := range s.Ended {
			o.ObserveInt64(ended, int64(n), reasons[k])
		}
		o.ObserveInt64(sent, int64(s.MessagesSent))
		o.ObserveInt64(dropped, int64(s.MailboxFull))
		o.ObserveInt64(remote, int64(s.RemoteDropped))
		o.ObserveInt64(queued, int64(s.MailboxQueued))
		o.ObserveInt64(deepest, int64(s.MailboxMax))
		o.ObserveInt64(modules, int64(s.Modules))
		o.ObserveInt64(stacks, int64(s.StacksInUse))
		return nil
	}, procs, spawned, ended, sent, dropped, remote, queued, deepest, modules, stacks)
	if err != nil {
		return nil, errs.Errorf("ward: metrics: %w", err)
	}
	return reg, nil
}
