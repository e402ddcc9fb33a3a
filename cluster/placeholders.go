package cluster

import "github.com/wardrt/ward/internal/route"

// Placeholders for the parts other files bring: each goes when its real
// definition lands.

// initSpawn registers remote spawn's handlers (spawn.go).
func (n *Node) initSpawn() {}

// initGlobal registers the global registry's handlers (global*.go).
func (n *Node) initGlobal() {}

// initJobs registers the jobs' handlers (jobs.go).
func (n *Node) initJobs() {}

// permits reports whether c may kill or link to target (permit.go): until
// the grants bookkeeping lands, Go code only.
func (n *Node) permits(c route.Caller, target uint64) bool { return c.Env == nil }
