package guest

import (
	"io"
	"net/netip"
	"strconv"
	"time"
	"unsafe"

	"github.com/wardrt/ward/internal/abi"
)

// Networking (ward_net), where the embedder registered ward's net host
// module: every connect, listen and resolve is checked against the
// allow-lists of this process's environment (ErrPermission when refused),
// and whatever the process leaves open is closed when it ends.

// Conn is a TCP connection of this process. It has the methods of
// net.Conn that make sense here (Read, Write, Close and the deadlines), so
// io.Copy, bufio and the like work on it. A Conn is this process's own:
// it cannot be handed to another.
type Conn struct {
	h             int32
	read, written time.Time // deadlines; zero for none
}

// Dial opens a TCP connection to host (a name or an IP literal) and port.
// ErrPermission when the environment does not allow that name, the address
// it resolves to or the port; ErrNotFound when nothing answers.
func Dial(host string, port int) (*Conn, error) { return DialTimeout(host, port, 0) }

// DialTimeout is Dial giving up after timeout (0: no limit) with
// ErrTimeout.
func DialTimeout(host string, port int, timeout time.Duration) (*Conn, error) {
	ms, err := netMillis(timeout)
	if err != nil || port < 0 || port > 65535 {
		return nil, fail("dial "+quote(host), abi.ErrInvalid)
	}
	var h int32
	st := wardNetTCPConnect(addrStr(host), uint32(len(host)), int32(port), ms, addr(unsafe.Pointer(&h)))
	if st != abi.OK {
		return nil, fail("dial "+quote(host)+" port "+strconv.Itoa(port), st)
	}
	return &Conn{h: h}, nil
}

// netMillis turns a timeout into the ABI's timeout_ms: 0 for none, at least
// 1 otherwise. A timeout already passed is ErrTimeout.
func netMillis(d time.Duration) (int32, error) {
	switch {
	case d == 0:
		return 0, nil
	case d < 0:
		return 0, fail("timeout", abi.ErrTimeout)
	}
	return int32(min(max(d.Milliseconds(), 1), 1<<31-1)), nil
}

func untilDeadline(t time.Time) (int32, error) {
	if t.IsZero() {
		return 0, nil
	}
	d := time.Until(t)
	if d <= 0 {
		return 0, fail("deadline", abi.ErrTimeout)
	}
	return netMillis(d)
}

// Read reads into p; io.EOF at the end of the stream. At most
// MaxNetIOSize bytes are read per call.
func (c *Conn) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	ms, err := untilDeadline(c.read)
	if err != nil {
		return 0, err
	}
	var n uint32
	st := wardNetRead(c.h, addrBytes(p), uint32(min(len(p), abi.MaxNetIOSize)), ms, addr(unsafe.Pointer(&n)))
	switch {
	case st != abi.OK:
		return int(n), fail("read", st)
	case n == 0:
		return 0, io.EOF
	}
	return int(n), nil
}

// Write writes all of p, unless the deadline passes or the connection
// fails.
func (c *Conn) Write(p []byte) (int, error) {
	total := 0
	for len(p) > 0 {
		ms, err := untilDeadline(c.written)
		if err != nil {
			return total, err
		}
		chunk := p[:min(len(p), abi.MaxNetIOSize)]
		var n uint32
		st := wardNetWrite(c.h, addrBytes(chunk), uint32(len(chunk)), ms, addr(unsafe.Pointer(&n)))
		total += int(n)
		if st != abi.OK {
			return total, fail("write", st)
		}
		p = p[n:]
	}
	return total, nil
}

// Close closes the connection.
func (c *Conn) Close() error {
	if st := wardNetClose(c.h); st != abi.OK {
		return fail("close", st)
	}
	return nil
}

// SetDeadline sets the read and write deadlines; the zero time means none.
func (c *Conn) SetDeadline(t time.Time) error {
	c.read, c.written = t, t
	return nil
}

// SetReadDeadline sets the deadline of Reads: past it they fail with
// ErrTimeout.
func (c *Conn) SetReadDeadline(t time.Time) error { c.read = t; return nil }

// SetWriteDeadline sets the deadline of Writes.
func (c *Conn) SetWriteDeadline(t time.Time) error { c.written = t; return nil }

// ClientTLS makes c the client side of TLS: a handshake verifying the
// server's certificate for serverName (empty: the host c was dialled
// with) against the roots the embedder gave ward_net; Read and Write then
// go through TLS. The read deadline bounds the handshake. ErrClosed when
// it fails (c is then closed on the host; Close it).
func (c *Conn) ClientTLS(serverName string) error {
	ms, err := untilDeadline(c.read)
	if err != nil {
		return err
	}
	if st := wardNetTLSClient(c.h, addrStr(serverName), uint32(len(serverName)), ms); st != abi.OK {
		return fail("tls client "+quote(serverName), st)
	}
	return nil
}

// ServerTLS makes an accepted c the server side of TLS with the
// embedder's certificates. ErrPermission where the environment does not
// grant serving TLS.
func (c *Conn) ServerTLS() error {
	ms, err := untilDeadline(c.read)
	if err != nil {
		return err
	}
	if st := wardNetTLSServer(c.h, ms); st != abi.OK {
		return fail("tls server", st)
	}
	return nil
}

// LocalPort returns the connection's local port.
func (c *Conn) LocalPort() (int, error) { return localPort(c.h) }

func localPort(h int32) (int, error) {
	var port uint32
	if st := wardNetLocalPort(h, addr(unsafe.Pointer(&port))); st != abi.OK {
		return 0, fail("local_port", st)
	}
	return int(port), nil
}

// Listener is a TCP listener of this process.
type Listener struct{ h int32 }

// Listen listens on a local IP address (a literal such as "127.0.0.1")
// and port; 0 lets the system pick one where the environment allows port
// 0 (see Port). ErrPermission when the environment does not allow the
// address or port, ErrTaken when it is in use.
func Listen(address string, port int) (*Listener, error) {
	if port < 0 || port > 65535 {
		return nil, fail("listen "+quote(address), abi.ErrInvalid)
	}
	var h int32
	st := wardNetTCPListen(addrStr(address), uint32(len(address)), int32(port), addr(unsafe.Pointer(&h)))
	if st != abi.OK {
		return nil, fail("listen "+quote(address)+" port "+strconv.Itoa(port), st)
	}
	return &Listener{h: h}, nil
}

// Accept waits for the next connection.
func (l *Listener) Accept() (*Conn, error) { return l.AcceptTimeout(0) }

// AcceptTimeout is Accept giving up after timeout (0: no limit) with
// ErrTimeout.
func (l *Listener) AcceptTimeout(timeout time.Duration) (*Conn, error) {
	ms, err := netMillis(timeout)
	if err != nil {
		return nil, err
	}
	var h int32
	if st := wardNetTCPAccept(l.h, ms, addr(unsafe.Pointer(&h))); st != abi.OK {
		return nil, fail("accept", st)
	}
	return &Conn{h: h}, nil
}

// Port returns the port the listener is bound to.
func (l *Listener) Port() (int, error) { return localPort(l.h) }

// Close stops listening.
func (l *Listener) Close() error {
	if st := wardNetClose(l.h); st != abi.OK {
		return fail("close", st)
	}
	return nil
}

// maxResolved bounds the addresses Resolve returns.
const maxResolved = 32

// Resolve returns the addresses of a host name the environment allows
// resolving (at most 32). ErrPermission when it does not, ErrNotFound
// when the name has no address.
func Resolve(name string) ([]netip.Addr, error) {
	var buf [maxResolved * abi.NetAddrSize]byte
	var n uint32
	st := wardNetResolve(addrStr(name), uint32(len(name)), addr(unsafe.Pointer(&buf)), maxResolved, addr(unsafe.Pointer(&n)))
	if st != abi.OK {
		return nil, fail("resolve "+quote(name), st)
	}
	out := make([]netip.Addr, 0, n)
	for i := range min(n, maxResolved) {
		out = append(out, netip.AddrFrom16([16]byte(buf[i*abi.NetAddrSize:][:16])).Unmap())
	}
	return out, nil
}

// UDPConn is a UDP socket of this process.
type UDPConn struct {
	h    int32
	read time.Time // deadline of RecvFrom; zero for none
}

// ListenUDP opens a UDP socket on a local IP address (a literal) and
// port, under the same lists as Listen.
func ListenUDP(address string, port int) (*UDPConn, error) {
	if port < 0 || port > 65535 {
		return nil, fail("listen udp "+quote(address), abi.ErrInvalid)
	}
	var h int32
	st := wardNetUDPBind(addrStr(address), uint32(len(address)), int32(port), addr(unsafe.Pointer(&h)))
	if st != abi.OK {
		return nil, fail("listen udp "+quote(address)+" port "+strconv.Itoa(port), st)
	}
	return &UDPConn{h: h}, nil
}

// SendTo sends p as one datagram to host (a name or an IP literal) and
// port, checked as Dial checks its destination.
func (u *UDPConn) SendTo(p []byte, host string, port int) error {
	if port < 0 || port > 65535 || len(p) > abi.MaxNetIOSize {
		return fail("send to "+quote(host), abi.ErrInvalid)
	}
	st := wardNetUDPSendTo(u.h, addrStr(host), uint32(len(host)), int32(port), addrBytes(p), uint32(len(p)))
	if st != abi.OK {
		return fail("send to "+quote(host)+" port "+strconv.Itoa(port), st)
	}
	return nil
}

// RecvFrom waits for one datagram and returns how many of its bytes it
// put in p (the rest is dropped) and its sender.
func (u *UDPConn) RecvFrom(p []byte) (int, netip.AddrPort, error) {
	ms, err := untilDeadline(u.read)
	if err != nil {
		return 0, netip.AddrPort{}, err
	}
	var from [abi.NetFromSize]byte
	st := wardNetUDPRecvFrom(u.h, addrBytes(p), uint32(min(len(p), abi.MaxNetIOSize)), ms, addr(unsafe.Pointer(&from)))
	if st != abi.OK {
		return 0, netip.AddrPort{}, fail("recv_from", st)
	}
	a := netip.AddrFrom16([16]byte(from[:16])).Unmap()
	port := uint16(from[16]) | uint16(from[17])<<8
	n := int(from[20]) | int(from[21])<<8 | int(from[22])<<16 | int(from[23])<<24
	return n, netip.AddrPortFrom(a, port), nil
}

// SetReadDeadline sets the deadline of RecvFrom: past it, ErrTimeout.
func (u *UDPConn) SetReadDeadline(t time.Time) error { u.read = t; return nil }

// LocalPort returns the socket's local port.
func (u *UDPConn) LocalPort() (int, error) { return localPort(u.h) }

// Close closes the socket.
func (u *UDPConn) Close() error {
	if st := wardNetClose(u.h); st != abi.OK {
		return fail("close", st)
	}
	return nil
}
