package net

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"

	"github.com/wardrt/ward/environment"
	"github.com/wardrt/ward/internal/abi"
)

// Config is the ward_net module's configuration in an environment
// (environment.Config.Host["ward_net"]): allow-lists, every one empty by
// default, so that a guest may do nothing on the network until the
// embedder says what. A child environment's Config may only narrow its
// parent's: each of its patterns, networks and port ranges must be covered
// by one of the parent's (environment.ErrWiden otherwise).
//
// Checks are made on what is actually used: a connection to a name needs
// the name to match ConnectHosts and the address it resolves to, the one
// dialled, to be in ConnectNets; a name that resolves only into networks
// not listed is refused, whatever the name.
//
// A child's Config is validated when its environment is made (Narrow); a
// root's is not (the environment package cannot ask the module), so check
// it with Validate: an invalid pattern there matches nothing.
type Config struct {
	// ConnectHosts are the names tcp_connect may be given: exact names
	// ("db.example.com"), "*.example.com" (any name under example.com,
	// not example.com itself) or "*" (any name). IP literals need no
	// entry here, only ConnectNets.
	ConnectHosts []string
	// ConnectNets are the addresses a connection may go to, after
	// resolution ("10.0.0.0/8", "127.0.0.1/32").
	ConnectNets []netip.Prefix
	// ConnectPorts are the remote ports a connection may use.
	ConnectPorts []PortRange
	// ListenNets are the local addresses tcp_listen may bind: the address
	// a guest gives must be in one of them.
	ListenNets []netip.Prefix
	// ListenPorts are the local ports tcp_listen may bind; port 0 (the
	// system picks) only where a range includes 0.
	ListenPorts []PortRange
	// ResolveHosts are the names resolve may look up, patterns as in
	// ConnectHosts.
	ResolveHosts []string
	// TLSServer lets processes serve TLS (tls_server) with the
	// certificates the embedder gave the module (Options.TLSServer): it
	// is the embedder's identity they present.
	TLSServer bool
	// MaxHandles bounds the connections and listeners one process holds
	// at once; 0 means DefaultMaxHandles in a root, the parent's in a
	// child.
	MaxHandles int
}

// DefaultMaxHandles is a root's MaxHandles when its Config has none.
const DefaultMaxHandles = 64

// PortRange is the ports Lo through Hi, both included.
type PortRange struct{ Lo, Hi uint16 }

// Port is the range of one port.
func Port(p uint16) PortRange { return PortRange{p, p} }

func (r PortRange) has(p uint16) bool       { return r.Lo <= p && p <= r.Hi }
func (r PortRange) within(o PortRange) bool { return o.Lo <= r.Lo && r.Hi <= o.Hi }
func (r PortRange) String() string          { return fmt.Sprintf("%d-%d", r.Lo, r.Hi) }
func prefixWithin(p, o netip.Prefix) bool   { return o.Bits() <= p.Bits() && o.Contains(p.Addr()) }
func anyPort(rs []PortRange, p uint16) bool {
	return slices.ContainsFunc(rs, func(r PortRange) bool { return r.has(p) })
}
func anyNet(ns []netip.Prefix, a netip.Addr) bool {
	a = a.Unmap()
	return slices.ContainsFunc(ns, func(n netip.Prefix) bool { return n.Contains(a) })
}

// Permits grants net_connect, net_listen and net_resolve where the
// corresponding lists could allow anything at all; the handlers then check
// each call's host, address and port.
func (c Config) Permits(perm string) bool {
	switch abi.Permission(perm) {
	case abi.PermNetConnect:
		return len(c.ConnectNets) > 0 && len(c.ConnectPorts) > 0
	case abi.PermNetListen:
		return len(c.ListenNets) > 0 && len(c.ListenPorts) > 0
	case abi.PermNetResolve:
		return len(c.ResolveHosts) > 0
	case abi.PermNetTLSServer:
		return c.TLSServer
	}
	return false
}

// Validate checks the patterns, networks and ranges of c.
func (c Config) Validate() error {
	for _, hs := range [][]string{c.ConnectHosts, c.ResolveHosts} {
		for _, h := range hs {
			if _, err := ParsePattern(h); err != nil {
				return err
			}
		}
	}
	for _, ns := range [][]netip.Prefix{c.ConnectNets, c.ListenNets} {
		for _, n := range ns {
			if !n.IsValid() || n != n.Masked() || n.Addr().Is4In6() {
				return fmt.Errorf("%w: ward_net: network %v is not a masked prefix", environment.ErrInvalid, n)
			}
		}
	}
	for _, rs := range [][]PortRange{c.ConnectPorts, c.ListenPorts} {
		for _, r := range rs {
			if r.Lo > r.Hi {
				return fmt.Errorf("%w: ward_net: port range %v is empty", environment.ErrInvalid, r)
			}
		}
	}
	if c.MaxHandles < 0 {
		return fmt.Errorf("%w: ward_net: MaxHandles %d", environment.ErrInvalid, c.MaxHandles)
	}
	return nil
}

// Narrow returns child if everything it allows its parent c allows too:
// each pattern covered by one of c's, each network inside one of c's,
// each port range inside one of c's, MaxHandles at most c's.
func (c Config) Narrow(child environment.HostConfig) (environment.HostConfig, error) {
	n, ok := child.(Config)
	if !ok {
		if p, isPtr := child.(*Config); isPtr && p != nil {
			n, ok = *p, true
		}
	}
	if !ok {
		return nil, fmt.Errorf("%w: %T is not ward_net's configuration", environment.ErrInvalid, child)
	}
	if err := n.Validate(); err != nil {
		return nil, err
	}
	if err := patternsWithin("ConnectHosts", n.ConnectHosts, c.ConnectHosts); err != nil {
		return nil, err
	}
	if err := patternsWithin("ResolveHosts", n.ResolveHosts, c.ResolveHosts); err != nil {
		return nil, err
	}
	for _, l := range []struct {
		name       string
		child, par []netip.Prefix
	}{{"ConnectNets", n.ConnectNets, c.ConnectNets}, {"ListenNets", n.ListenNets, c.ListenNets}} {
		for _, p := range l.child {
			if !slices.ContainsFunc(l.par, func(o netip.Prefix) bool { return prefixWithin(p, o) }) {
				return nil, fmt.Errorf("%w: ward_net: %s %v is in none of the parent's", environment.ErrWiden, l.name, p)
			}
		}
	}
	for _, l := range []struct {
		name       string
		child, par []PortRange
	}{{"ConnectPorts", n.ConnectPorts, c.ConnectPorts}, {"ListenPorts", n.ListenPorts, c.ListenPorts}} {
		for _, r := range l.child {
			if !slices.ContainsFunc(l.par, r.within) {
				return nil, fmt.Errorf("%w: ward_net: %s %v is in none of the parent's", environment.ErrWiden, l.name, r)
			}
		}
	}
	if n.TLSServer && !c.TLSServer {
		return nil, fmt.Errorf("%w: ward_net: TLSServer is not granted to the parent", environment.ErrWiden)
	}
	switch {
	case n.MaxHandles == 0:
		n.MaxHandles = c.MaxHandles
	case c.MaxHandles != 0 && n.MaxHandles > c.MaxHandles, c.MaxHandles == 0 && n.MaxHandles > DefaultMaxHandles:
		return nil, fmt.Errorf("%w: ward_net: MaxHandles %d is more than the parent's", environment.ErrWiden, n.MaxHandles)
	}
	return n, nil
}

func (c Config) maxHandles() int {
	if c.MaxHandles == 0 {
		return DefaultMaxHandles
	}
	return c.MaxHandles
}

func patternsWithin(field string, child, parent []string) error {
	for _, h := range child {
		cp, _ := ParsePattern(h)
		covered := false
		for _, ph := range parent {
			if pp, err := ParsePattern(ph); err == nil && pp.Covers(cp) {
				covered = true
				break
			}
		}
		if !covered {
			return fmt.Errorf("%w: ward_net: %s %q is covered by none of the parent's", environment.ErrWiden, field, h)
		}
	}
	return nil
}

// Pattern is a parsed host pattern: an exact name, "*.suffix" (any name
// with at least one more label before suffix) or "*" (any name). Names
// compare case-insensitively, without a trailing dot.
type Pattern struct {
	suffix string // the name, or the part after "*." for a wildcard
	wild   bool   // "*." pattern, or "*" when suffix is ""
}

// MaxNameLen bounds a host name or pattern, as DNS does.
const MaxNameLen = 253

// ParsePattern parses a host pattern (see Config.ConnectHosts).
func ParsePattern(s string) (Pattern, error) {
	if s == "*" {
		return Pattern{wild: true}, nil
	}
	wild := false
	if rest, ok := strings.CutPrefix(s, "*."); ok {
		wild, s = true, rest
	}
	name, err := normalName(s)
	if err != nil {
		return Pattern{}, fmt.Errorf("%w: ward_net: host pattern: %v", environment.ErrInvalid, err)
	}
	return Pattern{suffix: name, wild: wild}, nil
}

// normalName checks a host name and returns it in lower case without a
// trailing dot: letters, digits, '-' and '_' in dot-separated labels of 1
// to 63 bytes. IP literals are not names.
func normalName(s string) (string, error) {
	s = strings.TrimSuffix(s, ".")
	if s == "" || len(s) > MaxNameLen {
		return "", fmt.Errorf("%q is not a host name", s)
	}
	s = strings.ToLower(s)
	for _, label := range strings.Split(s, ".") {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return "", fmt.Errorf("%q is not a host name", s)
		}
		for i := 0; i < len(label); i++ {
			if b := label[i]; !('a' <= b && b <= 'z' || '0' <= b && b <= '9' || b == '-' || b == '_') {
				return "", fmt.Errorf("%q is not a host name", s)
			}
		}
	}
	if _, err := netip.ParseAddr(s); err == nil {
		return "", fmt.Errorf("%q is an address, not a host name", s)
	}
	return s, nil
}

// Match reports whether name (already normalized) matches p.
func (p Pattern) Match(name string) bool {
	switch {
	case !p.wild:
		return name == p.suffix
	case p.suffix == "":
		return true
	}
	return strings.HasSuffix(name, "."+p.suffix)
}

// Covers reports whether every name q matches, p matches too.
func (p Pattern) Covers(q Pattern) bool {
	switch {
	case p.wild && p.suffix == "":
		return true
	case q.wild && q.suffix == "":
		return false
	case !p.wild:
		return !q.wild && q.suffix == p.suffix
	}
	// p is *.S: q's names all end in ".S" when q's suffix is under S (a
	// wildcard *.S itself included), or q is exactly a name under S.
	return strings.HasSuffix(q.suffix, "."+p.suffix) || q.wild && q.suffix == p.suffix
}

// String returns the pattern as written in a Config.
func (p Pattern) String() string {
	switch {
	case p.wild && p.suffix == "":
		return "*"
	case p.wild:
		return "*." + p.suffix
	}
	return p.suffix
}

// matchAny reports whether name is matched by one of the patterns.
func matchAny(patterns []string, name string) bool {
	for _, s := range patterns {
		if p, err := ParsePattern(s); err == nil && p.Match(name) {
			return true
		}
	}
	return false
}
