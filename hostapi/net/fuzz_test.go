package net

import (
	"context"
	"net/netip"
	"testing"

	"github.com/wardrt/ward/internal/abi"
)

// FuzzPattern checks the host-pattern parser and its two relations on
// arbitrary strings: a parsed pattern prints back to itself, covers
// itself, and whatever name a covered pattern matches, the covering one
// matches too (Narrow relies on that to keep a child inside its parent).
func FuzzPattern(f *testing.F) {
	for _, s := range [][3]string{
		{"*.example.com", "a.example.com", "x.a.example.com"},
		{"*", "example.com", "*.com"},
		{"example.com", "EXAMPLE.com.", "*.example.com"},
		{"*.b.c", "*.a.b.c", "a.b.c"},
		{"a..b", "-a.b", "1.2.3.4"},
	} {
		f.Add(s[0], s[1], s[2])
	}
	f.Fuzz(func(t *testing.T, ps, qs, name string) {
		p, err := ParsePattern(ps)
		if err != nil {
			return
		}
		if p2, err := ParsePattern(p.String()); err != nil || p2 != p {
			t.Fatalf("%q parses to %q, which parses to %v %v", ps, p, p2, err)
		}
		if !p.Covers(p) {
			t.Fatalf("%q does not cover itself", p)
		}
		n, err := normalName(name)
		if err != nil {
			return
		}
		if q, err := ParsePattern(qs); err == nil && p.Covers(q) && q.Match(n) && !p.Match(n) {
			t.Fatalf("%q covers %q, which matches %q, but %q does not", p, q, n, p)
		}
		if exact, _ := ParsePattern(n); p.Match(n) != p.Covers(exact) {
			t.Fatalf("%q: matches %q %v, covers it %v", p, n, p.Match(n), p.Covers(exact))
		}
	})
}

// FuzzDialTargets feeds guest-supplied host strings and arbitrary
// resolver answers to the connect check: it never panics, and whatever it
// lets through is in the allowed networks.
func FuzzDialTargets(f *testing.F) {
	f.Add("ok.example.com", []byte{127, 0, 0, 1}, uint16(80))
	f.Add("10.0.0.1", []byte{10, 0, 0, 1}, uint16(80))
	f.Add("::ffff:127.0.0.1", []byte{}, uint16(443))
	f.Add("fe80::1%eth0", []byte{}, uint16(80))
	f.Fuzz(func(t *testing.T, host string, answer []byte, port uint16) {
		var addrs []netip.Addr
		for len(answer) >= 4 {
			n := 4
			if answer[0]&1 == 1 && len(answer) >= 16 {
				n = 16
			}
			a, _ := netip.AddrFromSlice(answer[:n])
			addrs = append(addrs, a)
			answer = answer[n:]
		}
		s := &server{lookup: func(context.Context, string) ([]netip.Addr, error) { return addrs, nil }}
		cfg := Config{
			ConnectHosts: []string{"*.example.com"},
			ConnectNets:  []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("fd00::/8")},
			ConnectPorts: []PortRange{{80, 443}},
		}
		got, st := s.dialTargets(context.Background(), cfg, host, port)
		if st != abi.OK {
			return
		}
		if !anyPort(cfg.ConnectPorts, port) || len(got) == 0 {
			t.Fatalf("%q port %d let through: %v", host, port, got)
		}
		for _, a := range got {
			if !anyNet(cfg.ConnectNets, a) {
				t.Fatalf("%q let through %v", host, a)
			}
		}
	})
}
