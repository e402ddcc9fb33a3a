package cluster

import (
	goruntime "runtime"
	"slices"
	"sync"
	"weak"

	"github.com/wardrt/ward/internal/route"
	"github.com/wardrt/ward/runtime"
)

// permits reports whether c may kill or link the process target of this
// node (see owners.permits); the transport asks before it does either for
// a remote caller.
func (n *Node) permits(c route.Caller, target uint64) bool {
	if n.rt == nil {
		return c.Env == nil // a node of the transport's tests, without a runtime
	}
	return n.spawning().owners.permits(n.rt, c, target)
}

// owners records, for each environment a node made for a remote spawn,
// who on the calling node may kill and link the processes in it: the
// subtree rule across nodes. Locally a guest may kill or link a process
// of its own environment or below; remotely, the spawned process counts
// as below the environment the caller named as its Owner, so the Owner's
// guests and those of its ancestors may reach it, and no one else's.
type owners struct {
	mu sync.Mutex
	// Keyed weakly: an environment goes when its last process has ended
	// and no one holds it, and its record goes with it (a cleanup).
	m map[weak.Pointer[runtime.Environment]]ownerRecord
}

// ownerRecord is what a remote spawn's caller said of its Owner.
type ownerRecord struct {
	node  uint16   // the caller's node
	chain []uint64 // the Owner's environment id, then each parent's, up to the root
}

// record notes that env was made for a spawn by node on behalf of the
// environment chain (nil: Go code only).
func (o *owners) record(env *runtime.Environment, node uint16, chain []uint64) {
	if len(chain) == 0 {
		return // only Go code may reach it, which needs no record
	}
	key := weak.Make(env)
	o.mu.Lock()
	if o.m == nil {
		o.m = make(map[weak.Pointer[runtime.Environment]]ownerRecord)
	}
	o.m[key] = ownerRecord{node: node, chain: slices.Clone(chain)}
	o.mu.Unlock()
	goruntime.AddCleanup(env, o.forget, key)
}

func (o *owners) forget(key weak.Pointer[runtime.Environment]) {
	o.mu.Lock()
	delete(o.m, key)
	o.mu.Unlock()
}

// permits reports whether c may kill or link the process target of rt.
// Go code may; a guest only if target's environment is, or is below, one
// made for a remote spawn by c's node whose recorded Owner chain holds the
// guest's own environment. A target that is not alive is permitted: the
// operation then fails as it would for anyone (noproc), which tells the
// caller nothing a refusal would not.
func (o *owners) permits(rt *runtime.Runtime, c route.Caller, target uint64) bool {
	if c.Env == nil {
		return true
	}
	p := localProcess(rt, target)
	if p == nil {
		return true
	}
	if len(c.Env) == 0 {
		return false
	}
	guest := c.Env[0]
	o.mu.Lock()
	defer o.mu.Unlock()
	for env := p.Environment(); env != nil; env = env.Parent() {
		rec, ok := o.m[weak.Make(env)]
		if ok && rec.node == c.Node && slices.Contains(rec.chain, guest) {
			return true
		}
	}
	return false
}

// localProcess finds a process of this node by its id, qualified with
// this node or not.
func localProcess(rt *runtime.Runtime, id uint64) *runtime.Process {
	if p, ok := rt.Process(runtime.ProcessID(id)); ok {
		return p
	}
	if p, ok := rt.Process(runtime.ProcessID(id & route.LocalMask)); ok {
		return p
	}
	return nil
}

// envChain lists the ids of env and of each environment above it,
// innermost first, as route.Caller.Env does; nil for a nil env.
func envChain(env *runtime.Environment) []uint64 {
	var chain []uint64
	for e := env; e != nil; e = e.Parent() {
		chain = append(chain, e.ID())
	}
	return chain
}
