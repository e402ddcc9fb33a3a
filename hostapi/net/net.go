// Package net is ward's networking host module, ward_net: TCP
// connections and listeners, UDP sockets, TLS over TCP (certificates from
// the embedder, Options) and DNS resolution for guests, every connect,
// listen, bind, send and resolve checked against allow-lists in the
// calling process's environment (Config), nothing allowed by default.
//
// Register it with runtime.WithHostModule(net.Module(net.Options{})) and
// grant what guests may reach in the root environment's
// Config.Host["ward_net"]; child environments narrow it. The functions,
// their parameters and status codes are in docs/abi.md (namespace
// ward_net); Go guests use package guest's Dial, Listen, ListenUDP and
// Resolve.
//
// A process's connections and listeners are named by handles of its own: a
// handle another process was given finds nothing (ErrNotFound) or the
// caller's own socket. Everything a process opened is closed when it ends,
// however it ends. Calls that wait (connect, accept, read, write) run on
// the process's goroutine without holding a run slot, end at their
// timeout, and end at once when the process is killed.
package net

import (
	"context"
	"crypto/tls"
	"encoding/binary"
	"errors"
	"io"
	gonet "net"
	"net/netip"
	"os"
	"syscall"
	"time"

	"github.com/wardrt/ward/hostapi"
	"github.com/wardrt/ward/internal/abi"
	"github.com/wardrt/ward/internal/errs"
)

// Namespace is the module's namespace, the key of its Config in
// environment.Config.Host.
const Namespace = abi.NamespaceNet

// Options are the embedder's choices for the module, the same in every
// environment.
type Options struct {
	// Lookup resolves a host name to addresses; nil uses the system's
	// resolver (net.DefaultResolver.LookupNetIP). Tests and embedders
	// with their own naming plug in here. Its answers are still checked
	// against the caller's Config.
	Lookup func(ctx context.Context, host string) ([]netip.Addr, error)
	// TLSClient is the base of guests' TLS clients (tls_client): its
	// RootCAs verify servers (nil: the system's roots); ServerName is
	// set per connection, and verification is never skipped (a config
	// with InsecureSkipVerify is refused by Module). nil: a default
	// config.
	TLSClient *tls.Config
	// TLSServer is the config guests' TLS servers (tls_server) use: the
	// embedder's certificates. nil: guests cannot serve TLS.
	TLSServer *tls.Config
}

// Module returns the ward_net host module.
func Module(opts Options) hostapi.Module {
	lookup := opts.Lookup
	if lookup == nil {
		lookup = func(ctx context.Context, host string) ([]netip.Addr, error) {
			return gonet.DefaultResolver.LookupNetIP(ctx, "ip", host)
		}
	}
	if opts.TLSClient != nil && opts.TLSClient.InsecureSkipVerify {
		// A guest's TLS must mean what it says: a connection to name is
		// to whoever holds name's certificate.
		panic("ward: hostapi/net: Options.TLSClient skips verification")
	}
	s := &server{lookup: lookup, tlsClient: opts.TLSClient, tlsServer: opts.TLSServer}
	m, err := hostapi.Builtin(Namespace, map[string]hostapi.Handler{
		"resolve":       s.resolve,
		"tcp_connect":   s.connect,
		"tcp_listen":    s.listen,
		"tcp_accept":    s.accept,
		"local_port":    s.localPort,
		"read":          s.read,
		"write":         s.write,
		"close":         s.close,
		"udp_bind":      s.udpBind,
		"udp_send_to":   s.udpSendTo,
		"udp_recv_from": s.udpRecvFrom,
		"tls_client":    s.tlsClientHandshake,
		"tls_server":    s.tlsServerHandshake,
	})
	if err != nil {
		// The handlers above and abi.Funcs are in one repository, and
		// the package's tests build the module: a mismatch cannot ship.
		panic(err)
	}
	m.Doc = "TCP and DNS under the environment's allow-lists (hostapi/net)."
	m.DefaultConfig = Config{}
	m.NewState = func(ctx context.Context, c *hostapi.Call) (hostapi.State, error) {
		cfg, _ := c.Config().(Config)
		return &state{handles: hostapi.NewHandles[*sock](cfg.maxHandles())}, nil
	}
	return m
}

type server struct {
	lookup               func(ctx context.Context, host string) ([]netip.Addr, error)
	tlsClient, tlsServer *tls.Config
}

// sock is a TCP connection, a TCP listener or a UDP socket: one of the
// three is set.
type sock struct {
	conn gonet.Conn
	host string // the name or address dialled, for tls_client
	tls  bool   // conn is a *tls.Conn already
	ln   *gonet.TCPListener
	udp  *gonet.UDPConn
}

func (s *sock) Close() error {
	switch {
	case s.ln != nil:
		return s.ln.Close()
	case s.udp != nil:
		return s.udp.Close()
	}
	return s.conn.Close()
}

// state is one process's sockets.
type state struct {
	handles *hostapi.Handles[*sock]
}

// Close closes whatever the process still holds.
func (st *state) Close(context.Context) {
	st.handles.Close(func(s *sock) { s.Close() })
}

func config(c *hostapi.Call) Config {
	cfg, _ := c.Config().(Config)
	return cfg
}

func putU32(c *hostapi.Call, ptr int64, v uint32) error {
	return c.Write(ptr, binary.LittleEndian.AppendUint32(nil, v))
}

// timeout turns a guest's timeout_ms into a deadline (zero for none); ok
// is false for a negative one.
func timeout(ms int64) (time.Time, bool) {
	switch {
	case ms < 0:
		return time.Time{}, false
	case ms == 0:
		return time.Time{}, true
	}
	return time.Now().Add(time.Duration(ms) * time.Millisecond), true
}

// status maps a network error to the ABI status the guest sees.
func status(err error) int64 {
	var ne gonet.Error
	switch {
	case err == nil:
		return abi.OK
	case errors.Is(err, os.ErrDeadlineExceeded), errors.As(err, &ne) && ne.Timeout():
		return abi.ErrTimeout
	case errors.Is(err, syscall.ECONNREFUSED), errors.Is(err, syscall.EHOSTUNREACH), errors.Is(err, syscall.ENETUNREACH):
		return abi.ErrNotFound
	case errors.Is(err, syscall.EADDRINUSE):
		return abi.ErrTaken
	case errors.Is(err, syscall.EACCES), errors.Is(err, syscall.EPERM):
		return abi.ErrPermission
	}
	return abi.ErrClosed
}

// add stores a new socket and writes its handle at ptr; the socket is
// closed if either fails.
func add(c *hostapi.Call, s *sock, ptr int64) error {
	st := c.State().(*state)
	h, err := st.handles.Add(s)
	if errors.Is(err, hostapi.ErrHandleLimit) {
		s.Close()
		c.Return(abi.ErrLimit)
		return nil
	}
	if err == nil {
		err = putU32(c, ptr, uint32(h))
	}
	if err != nil {
		if h > 0 {
			st.handles.Remove(h)
		}
		s.Close()
		return err
	}
	c.Return(abi.OK)
	return nil
}

// name reads a host name or address the guest passes.
func name(c *hostapi.Call, ptr, n int64) (string, bool, error) {
	if uint64(uint32(n)) > MaxNameLen+1 {
		if _, err := c.Read(ptr, n); err != nil {
			return "", false, err
		}
		return "", false, nil
	}
	s, err := c.ReadString(ptr, n)
	return s, err == nil, err
}

// resolve(name_ptr, name_len, buf_ptr, buf_cap, count_ptr) -> status
func (s *server) resolve(ctx context.Context, c *hostapi.Call) error {
	raw, ok, err := name(c, c.Arg(0), c.Arg(1))
	if err != nil {
		return err
	}
	capacity := uint64(uint32(c.Arg(3)))
	if capacity*abi.NetAddrSize >= 1<<32 {
		return errs.Wrap(hostapi.ErrBadPointer, "ward_net.resolve: %d address records", capacity)
	}
	buf, err := c.Read(c.Arg(2), int64(capacity*abi.NetAddrSize))
	if err != nil {
		return err
	}
	if _, err := c.Read(c.Arg(4), 4); err != nil {
		return err
	}
	host, err := normalName(raw)
	if !ok || err != nil {
		c.Return(abi.ErrInvalid)
		return nil
	}
	if !matchAny(config(c).ResolveHosts, host) {
		c.Return(abi.ErrPermission)
		return nil
	}
	addrs, err := s.lookup(ctx, host)
	if err != nil || len(addrs) == 0 {
		c.Return(abi.ErrNotFound)
		return nil
	}
	n := min(uint64(len(addrs)), capacity)
	out := make([]byte, 0, n*abi.NetAddrSize)
	for _, a := range addrs[:n] {
		b := a.As16()
		out = append(out, b[:]...)
	}
	copy(buf, out)
	c.Return(abi.OK)
	return putU32(c, c.Arg(4), uint32(n))
}

// dialTargets returns the addresses a connection to host may go to, in
// the order to try them; status is not OK when there are none.
func (s *server) dialTargets(ctx context.Context, cfg Config, host string, port uint16) ([]netip.Addr, int64) {
	if !anyPort(cfg.ConnectPorts, port) {
		return nil, abi.ErrPermission
	}
	var addrs []netip.Addr
	if a, err := netip.ParseAddr(host); err == nil {
		if a.Zone() != "" {
			return nil, abi.ErrInvalid
		}
		addrs = []netip.Addr{a}
	} else {
		name, err := normalName(host)
		if err != nil {
			return nil, abi.ErrInvalid
		}
		if !matchAny(cfg.ConnectHosts, name) {
			return nil, abi.ErrPermission
		}
		if addrs, err = s.lookup(ctx, name); err != nil || len(addrs) == 0 {
			return nil, abi.ErrNotFound
		}
	}
	// The check that matters: on the addresses that will be dialled.
	var ok []netip.Addr
	for _, a := range addrs {
		if anyNet(cfg.ConnectNets, a) {
			ok = append(ok, a.Unmap())
		}
	}
	if len(ok) == 0 {
		return nil, abi.ErrPermission
	}
	return ok, abi.OK
}

// connect(host_ptr, host_len, port, timeout_ms, handle_ptr) -> status
func (s *server) connect(ctx context.Context, c *hostapi.Call) error {
	host, ok, err := name(c, c.Arg(0), c.Arg(1))
	if err != nil {
		return err
	}
	if _, err := c.Read(c.Arg(4), 4); err != nil {
		return err
	}
	port := c.Arg(2)
	deadline, okT := timeout(c.Arg(3))
	if !ok || !okT || port < 1 || port > 65535 {
		c.Return(abi.ErrInvalid)
		return nil
	}
	if !deadline.IsZero() {
		var cancel context.CancelFunc
		ctx, cancel = context.WithDeadline(ctx, deadline)
		defer cancel()
	}
	addrs, st := s.dialTargets(ctx, config(c), host, uint16(port))
	if st != abi.OK {
		if ctx.Err() != nil && st == abi.ErrNotFound {
			st = abi.ErrTimeout
		}
		c.Return(st)
		return nil
	}
	var d gonet.Dialer
	var conn gonet.Conn
	for _, a := range addrs {
		conn, err = d.DialContext(ctx, "tcp", netip.AddrPortFrom(a, uint16(port)).String())
		if err == nil || ctx.Err() != nil {
			break
		}
	}
	if err != nil {
		c.Return(status(err))
		if ctx.Err() != nil {
			c.Return(abi.ErrTimeout)
		}
		return nil
	}
	return add(c, &sock{conn: conn, host: host}, c.Arg(4))
}

// bindAddr reads and checks the local address of tcp_listen and
// udp_bind: (addr_ptr, addr_len, port, handle_ptr).
func bindAddr(c *hostapi.Call) (string, int64, error) {
	raw, ok, err := name(c, c.Arg(0), c.Arg(1))
	if err != nil {
		return "", 0, err
	}
	if _, err := c.Read(c.Arg(3), 4); err != nil {
		return "", 0, err
	}
	port := c.Arg(2)
	addr, err := netip.ParseAddr(raw)
	if !ok || err != nil || addr.Zone() != "" || port < 0 || port > 65535 {
		return "", abi.ErrInvalid, nil
	}
	addr = addr.Unmap()
	cfg := config(c)
	if !anyNet(cfg.ListenNets, addr) || !anyPort(cfg.ListenPorts, uint16(port)) {
		return "", abi.ErrPermission, nil
	}
	return netip.AddrPortFrom(addr, uint16(port)).String(), abi.OK, nil
}

// listen(addr_ptr, addr_len, port, handle_ptr) -> status
func (s *server) listen(ctx context.Context, c *hostapi.Call) error {
	addr, st, err := bindAddr(c)
	if err != nil || st != abi.OK {
		c.Return(st)
		return err
	}
	var lc gonet.ListenConfig
	l, err := lc.Listen(ctx, "tcp", addr)
	if err != nil {
		c.Return(status(err))
		return nil
	}
	return add(c, &sock{ln: l.(*gonet.TCPListener)}, c.Arg(3))
}

// udpBind(addr_ptr, addr_len, port, handle_ptr) -> status
func (s *server) udpBind(ctx context.Context, c *hostapi.Call) error {
	addr, st, err := bindAddr(c)
	if err != nil || st != abi.OK {
		c.Return(st)
		return err
	}
	var lc gonet.ListenConfig
	pc, err := lc.ListenPacket(ctx, "udp", addr)
	if err != nil {
		c.Return(status(err))
		return nil
	}
	return add(c, &sock{udp: pc.(*gonet.UDPConn)}, c.Arg(3))
}

// udpSendTo(handle, host_ptr, host_len, port, buf_ptr, buf_len) -> status
func (s *server) udpSendTo(ctx context.Context, c *hostapi.Call) error {
	host, ok, err := name(c, c.Arg(1), c.Arg(2))
	if err != nil {
		return err
	}
	buf, err := c.Read(c.Arg(4), int64(min(uint32(c.Arg(5)), abi.MaxNetIOSize)))
	if err != nil {
		return err
	}
	sk, found := c.State().(*state).handles.Get(int32(c.Arg(0)))
	port := c.Arg(3)
	switch {
	case !found || sk.udp == nil:
		c.Return(abi.ErrNotFound)
		return nil
	case !ok || port < 1 || port > 65535:
		c.Return(abi.ErrInvalid)
		return nil
	}
	msg := append([]byte(nil), buf...)
	addrs, st := s.dialTargets(ctx, config(c), host, uint16(port))
	if st != abi.OK {
		c.Return(st)
		return nil
	}
	_, err = sk.udp.WriteToUDPAddrPort(msg, netip.AddrPortFrom(addrs[0], uint16(port)))
	c.Return(status(err))
	return nil
}

// udpRecvFrom(handle, buf_ptr, buf_len, timeout_ms, from_ptr) -> status
func (s *server) udpRecvFrom(ctx context.Context, c *hostapi.Call) error {
	buf, err := c.Read(c.Arg(1), int64(min(uint32(c.Arg(2)), abi.MaxNetIOSize)))
	if err != nil {
		return err
	}
	if _, err := c.Read(c.Arg(4), abi.NetFromSize); err != nil {
		return err
	}
	sk, found := c.State().(*state).handles.Get(int32(c.Arg(0)))
	if !found || sk.udp == nil {
		c.Return(abi.ErrNotFound)
		return nil
	}
	deadline, ok := timeout(c.Arg(3))
	if !ok {
		c.Return(abi.ErrInvalid)
		return nil
	}
	// A datagram longer than the buffer is cut short, as recvfrom does.
	// Go memory again, as in read.
	tmp := make([]byte, len(buf))
	sk.udp.SetReadDeadline(deadline)
	stop := interrupt(ctx, sk.udp.SetReadDeadline)
	n, from, err := sk.udp.ReadFromUDPAddrPort(tmp)
	stop()
	if ctx.Err() != nil || err != nil {
		c.Return(status(err))
		if ctx.Err() != nil {
			c.Return(abi.ErrClosed)
		}
		return nil
	}
	copy(buf, tmp[:n])
	a := from.Addr().As16()
	rec := binary.LittleEndian.AppendUint32(a[:], uint32(from.Port()))
	rec = binary.LittleEndian.AppendUint32(rec, uint32(n))
	c.Return(abi.OK)
	return c.Write(c.Arg(4), rec)
}

// interrupt makes a blocked call end, through its setDeadline, when ctx
// ends (the process is killed); call the returned func when the call is
// over.
func interrupt(ctx context.Context, setDeadline func(time.Time) error) func() bool {
	return context.AfterFunc(ctx, func() { setDeadline(time.Unix(1, 0)) })
}

// accept(listener, timeout_ms, handle_ptr) -> status
func (s *server) accept(ctx context.Context, c *hostapi.Call) error {
	if _, err := c.Read(c.Arg(2), 4); err != nil {
		return err
	}
	sk, ok := c.State().(*state).handles.Get(int32(c.Arg(0)))
	if !ok || sk.ln == nil {
		c.Return(abi.ErrNotFound)
		return nil
	}
	deadline, ok := timeout(c.Arg(1))
	if !ok {
		c.Return(abi.ErrInvalid)
		return nil
	}
	sk.ln.SetDeadline(deadline)
	stop := interrupt(ctx, sk.ln.SetDeadline)
	conn, err := sk.ln.Accept()
	stop()
	if err != nil {
		c.Return(status(err))
		return nil
	}
	return add(c, &sock{conn: conn}, c.Arg(2))
}

// localPort(handle, port_ptr) -> status
func (s *server) localPort(ctx context.Context, c *hostapi.Call) error {
	sk, ok := c.State().(*state).handles.Get(int32(c.Arg(0)))
	if !ok {
		if _, err := c.Read(c.Arg(1), 4); err != nil {
			return err
		}
		c.Return(abi.ErrNotFound)
		return nil
	}
	var port int
	switch {
	case sk.ln != nil:
		port = sk.ln.Addr().(*gonet.TCPAddr).Port
	case sk.udp != nil:
		port = sk.udp.LocalAddr().(*gonet.UDPAddr).Port
	default:
		port = sk.conn.LocalAddr().(*gonet.TCPAddr).Port
	}
	c.Return(abi.OK)
	return putU32(c, c.Arg(1), uint32(port))
}

// conn returns the caller's connection handle, checking the buffer and
// n_ptr of read and write first (a bad pointer traps whatever the handle).
func conn(c *hostapi.Call) (gonet.Conn, []byte, time.Time, int64, error) {
	buf, err := c.Read(c.Arg(1), int64(min(uint32(c.Arg(2)), abi.MaxNetIOSize)))
	if err != nil {
		return nil, nil, time.Time{}, 0, err
	}
	if _, err := c.Read(c.Arg(4), 4); err != nil {
		return nil, nil, time.Time{}, 0, err
	}
	sk, ok := c.State().(*state).handles.Get(int32(c.Arg(0)))
	if !ok || sk.conn == nil {
		return nil, nil, time.Time{}, abi.ErrNotFound, nil
	}
	deadline, ok := timeout(c.Arg(3))
	if !ok {
		return nil, nil, time.Time{}, abi.ErrInvalid, nil
	}
	return sk.conn, buf, deadline, abi.OK, nil
}

// read(handle, buf_ptr, buf_len, timeout_ms, n_ptr) -> status
func (s *server) read(ctx context.Context, c *hostapi.Call) error {
	cn, buf, deadline, st, err := conn(c)
	if err != nil || st != abi.OK {
		c.Return(st)
		return err
	}
	// Read into Go memory, not the guest's: the guest's memory is only
	// ours during the call, and a killed process's call may outlive it.
	tmp := make([]byte, len(buf))
	cn.SetReadDeadline(deadline)
	stop := interrupt(ctx, cn.SetReadDeadline)
	n, err := cn.Read(tmp)
	stop()
	if ctx.Err() != nil {
		c.Return(abi.ErrClosed)
		return nil
	}
	copy(buf, tmp[:n])
	if err == io.EOF {
		err = nil
	}
	c.Return(status(err))
	return putU32(c, c.Arg(4), uint32(n))
}

// write(handle, buf_ptr, buf_len, timeout_ms, n_ptr) -> status
func (s *server) write(ctx context.Context, c *hostapi.Call) error {
	cn, buf, deadline, st, err := conn(c)
	if err != nil || st != abi.OK {
		c.Return(st)
		return err
	}
	tmp := append([]byte(nil), buf...)
	cn.SetWriteDeadline(deadline)
	stop := interrupt(ctx, cn.SetWriteDeadline)
	n, err := cn.Write(tmp)
	stop()
	if ctx.Err() != nil {
		c.Return(abi.ErrClosed)
		return nil
	}
	c.Return(status(err))
	return putU32(c, c.Arg(4), uint32(n))
}

// close(handle) -> status
func (s *server) close(ctx context.Context, c *hostapi.Call) error {
	sk, ok := c.State().(*state).handles.Remove(int32(c.Arg(0)))
	if !ok {
		c.Return(abi.ErrNotFound)
		return nil
	}
	sk.Close()
	c.Return(abi.OK)
	return nil
}

// tcpConn returns the caller's TCP connection handle, not yet TLS.
func tcpConn(c *hostapi.Call) (*sock, int64) {
	sk, ok := c.State().(*state).handles.Get(int32(c.Arg(0)))
	switch {
	case !ok || sk.conn == nil:
		return nil, abi.ErrNotFound
	case sk.tls:
		return nil, abi.ErrInvalid
	}
	return sk, abi.OK
}

// handshake runs a TLS handshake on sk's connection within timeout_ms
// (the call's argument at index ti) and, if it succeeds, makes tc the
// connection read and write use; if it fails, the connection is left
// closed (its bytes are no longer a usable stream).
func handshake(ctx context.Context, c *hostapi.Call, sk *sock, tc *tls.Conn, ti int) {
	deadline, ok := timeout(c.Arg(ti))
	if !ok {
		c.Return(abi.ErrInvalid)
		return
	}
	if !deadline.IsZero() {
		var cancel context.CancelFunc
		ctx, cancel = context.WithDeadline(ctx, deadline)
		defer cancel()
	}
	sk.conn, sk.tls = tc, true
	if err := tc.HandshakeContext(ctx); err != nil {
		tc.Close()
		if ctx.Err() != nil {
			c.Return(abi.ErrTimeout)
		} else {
			c.Return(abi.ErrClosed)
		}
		return
	}
	c.Return(abi.OK)
}

// tlsClientHandshake(handle, name_ptr, name_len, timeout_ms) -> status
func (s *server) tlsClientHandshake(ctx context.Context, c *hostapi.Call) error {
	raw, ok, err := name(c, c.Arg(1), c.Arg(2))
	if err != nil {
		return err
	}
	sk, st := tcpConn(c)
	if st == abi.OK && !ok {
		st = abi.ErrInvalid
	}
	if st != abi.OK {
		c.Return(st)
		return nil
	}
	if raw == "" {
		raw = sk.host
	}
	var cfg *tls.Config
	if s.tlsClient != nil {
		cfg = s.tlsClient.Clone()
	} else {
		cfg = &tls.Config{}
	}
	cfg.ServerName = raw
	handshake(ctx, c, sk, tls.Client(sk.conn, cfg), 3)
	return nil
}

// tlsServerHandshake(handle, timeout_ms) -> status
func (s *server) tlsServerHandshake(ctx context.Context, c *hostapi.Call) error {
	sk, st := tcpConn(c)
	switch {
	case st != abi.OK:
		c.Return(st)
	case s.tlsServer == nil:
		c.Return(abi.ErrInvalid)
	default:
		handshake(ctx, c, sk, tls.Server(sk.conn, s.tlsServer), 1)
	}
	return nil
}
