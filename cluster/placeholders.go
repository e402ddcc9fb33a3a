package cluster

// Placeholders for the parts other files bring: each goes when its real
// definition lands.

// initGlobal registers the global registry's handlers (global*.go).
func (n *Node) initGlobal() {}
