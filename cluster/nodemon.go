package cluster

import "github.com/wardrt/ward/runtime"

// MonitorNode makes pid get one node-down message (runtime.TagNodeDown)
// when node is lost or leaves, as Erlang's monitor_node does; at once if
// node is not up now. Each call asks for one message.
func (n *Node) MonitorNode(pid runtime.ProcessID, node uint16) {
	n.peersMu.RLock()
	p := n.peers[node]
	n.peersMu.RUnlock()
	n.monMu.Lock()
	if p == nil || !p.up.Load() || n.left.Load() {
		n.monMu.Unlock()
		n.local.NotifyNodeDown(uint64(pid), node)
		return
	}
	m := n.nodeMons[node]
	if m == nil {
		m = map[uint64]struct{}{}
		n.nodeMons[node] = m
	}
	m[uint64(pid)] = struct{}{}
	n.monMu.Unlock()
}

// DemonitorNode cancels pid's monitor of node.
func (n *Node) DemonitorNode(pid runtime.ProcessID, node uint16) {
	n.monMu.Lock()
	delete(n.nodeMons[node], uint64(pid))
	n.monMu.Unlock()
}

// notifyNodeMonitors tells node's monitors it is down, and forgets them.
func (n *Node) notifyNodeMonitors(node uint16) {
	n.monMu.Lock()
	m := n.nodeMons[node]
	delete(n.nodeMons, node)
	n.monMu.Unlock()
	for pid := range m {
		n.local.NotifyNodeDown(pid, node)
	}
}
