package main

import (
	"time"

	"github.com/wardrt/ward/bench/workload"
)

// Implementations of the cluster rows.
const (
	implWardCluster = "ward, 2 nodes (guest to guest)"
	implNATS        = "raw NATS (same server, same connections' kind)"
)

// runCluster measures the multi-node rows: two ward nodes on one embedded
// NATS server with in-process connections, each figure beside raw NATS
// measured the same way in the same run; then the time from a node's
// SIGKILL to noconnection, at the default heartbeat and at the tests'.
func runCluster(cfg config, rs *results, timedGroup func(name, group, metric, unit string, lower bool, rows []timedRow, beam bool)) {
	c, err := workload.NewCluster()
	us, persec := workload.MicrosPerOp, workload.OpsPerSec
	mk := func(impl, key string, ref bool, t workload.Timed) timedRow {
		r := timedRow{row: &row{impl: impl, key: key, ref: ref}, t: t}
		if err != nil {
			r.err = err
		}
		return r
	}
	if err == nil {
		defer c.Close()
	} else {
		c = &workload.Cluster{} // its methods are never called: every row has err set
	}
	timedGroup("cluster", "remote ping-pong round trip", "remote_pingpong_us", "µs/round trip", true, []timedRow{
		mk(implWardCluster, "ward", true, workload.Timed{Run: c.RemotePingPong, Unit: us, MinN: 100}),
		mk(implNATS+" request/reply", "nats", false, workload.Timed{Run: c.NATSRequest, Unit: us, MinN: 100}),
	}, false)
	timedGroup("cluster", "remote one-way messages", "remote_throughput_msgs_per_s", "msgs/s", false, []timedRow{
		mk(implWardCluster, "ward", true, workload.Timed{Run: c.RemoteOneWay, Unit: persec, MinN: 1000, MaxN: 1 << 20}),
		mk(implNATS+" publish", "nats", false, workload.Timed{Run: c.NATSPublish, Unit: persec, MinN: 1000, MaxN: 1 << 20}),
	}, false)
	timedGroup("cluster", "global registry: register (JetStream KV create)", "global_register_us", "µs/name", true, []timedRow{
		mk("ward Global.Register", "ward", true, workload.Timed{Run: c.GlobalRegister, Unit: us, MinN: 10, MaxN: 5000}),
	}, false)
	timedGroup("cluster", "global registry: lookup (cached, on another node)", "global_lookup_us", "µs/lookup", true, []timedRow{
		mk("ward Global.Lookup", "ward", true, workload.Timed{Run: c.GlobalLookup, Unit: us, MinN: 1000}),
	}, false)

	runs := min(cfg.runs, 3) // each takes the detection time, seconds at the default
	for _, v := range []struct {
		key, impl string
		hb        time.Duration
	}{
		{"noconnection_ms_ward", "ward, heartbeat 1s x 3 (default)", time.Second},
		{"noconnection_ms_ward_fast", "ward, heartbeat 50ms x 3", 50 * time.Millisecond},
	} {
		r := rs.add(&row{group: "SIGKILL of a node (child OS process) to DOWN noconnection", impl: v.impl, key: v.key, unit: "ms", lower: true, noRatio: true})
		if err != nil {
			r.err = err
			continue
		}
		cfg.logf("noconnection, heartbeat %v", v.hb)
		for range runs {
			d, err := c.NoConnection(v.hb)
			if err != nil {
				r.fail(err)
				break
			}
			r.add(float64(d) / float64(time.Millisecond))
		}
	}
}
