package actnet

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"sync"
	"syscall"
	"time"

	"github.com/actnet/actnet/actors"
)

// MaxUDPPayload is the largest datagram a UDPConn sends over IPv4 (65,507
// bytes); larger writes fail with an error that errors.Is syscall.EMSGSIZE.
// Datagrams above the path MTU are fragmented.
const MaxUDPPayload = actors.MaxUDPPayload

// UDPConn is a UDP socket on a Stack (RFC 768). It is a net.PacketConn; one
// returned by dialing (DialContext with "udp") is connected and is also a
// net.Conn: it sends to its peer with Write, receives only from it, and its
// next Read fails with an error that errors.Is syscall.ECONNREFUSED when
// the peer answered with ICMP port unreachable.
//
// Received datagrams wait in a bounded queue (SetReadBuffer); when it is
// full, new ones are dropped and counted in the "udp" layer's stats, as a
// kernel does. A Read with a buffer shorter than the datagram returns its
// first len(b) bytes and discards the rest.
type UDPConn struct {
	sock   *actors.UDPSocket
	rd, wd udpDeadline
}

var (
	_ net.PacketConn = (*UDPConn)(nil)
	_ net.Conn       = (*UDPConn)(nil)
)

// ListenUDP opens a UDP socket bound to laddr: an unspecified or invalid
// address binds the stack's own address, port 0 an ephemeral port.
func (s *Stack) ListenUDP(laddr netip.AddrPort) (*UDPConn, error) {
	return s.openUDP(context.Background(), "listen", laddr, netip.AddrPort{})
}

// ListenPacket opens a UDP socket like net.ListenPacket: network is "udp"
// or "udp4", address "host:port" with host empty, 0.0.0.0 or the stack's
// address.
func (s *Stack) ListenPacket(network, address string) (net.PacketConn, error) {
	laddr, err := parseUDPAddr("listen", network, address, true)
	if err != nil {
		return nil, err
	}
	return s.openUDP(context.Background(), "listen", laddr, netip.AddrPort{})
}

// DialUDP opens a UDP socket connected to raddr (like net.DialUDP),
// bound to laddr: the zero AddrPort for the stack's address and an
// ephemeral port.
func (s *Stack) DialUDP(ctx context.Context, laddr, raddr netip.AddrPort) (*UDPConn, error) {
	if !raddr.IsValid() {
		return nil, &net.OpError{Op: "dial", Net: "udp", Err: errors.New("missing address")}
	}
	return s.openUDP(ctx, "dial", laddr, raddr)
}

// dialUDP is DialUDP as a net.Conn; DialContext calls it for "udp" and
// "udp4".
func (s *Stack) dialUDP(ctx context.Context, laddr, raddr netip.AddrPort) (net.Conn, error) {
	c, err := s.DialUDP(ctx, laddr, raddr)
	if err != nil {
		return nil, err
	}
	return c, nil
}

func (s *Stack) openUDP(ctx context.Context, op string, laddr, raddr netip.AddrPort) (*UDPConn, error) {
	sock, err := s.run.OpenUDP(ctx, laddr, raddr)
	if err != nil {
		var src, dst net.Addr
		if laddr.IsValid() {
			src = net.UDPAddrFromAddrPort(laddr)
		}
		if raddr.IsValid() {
			dst = net.UDPAddrFromAddrPort(raddr)
		}
		return nil, &net.OpError{Op: op, Net: "udp", Source: src, Addr: dst, Err: wrapErrno("bind", err)}
	}
	c := &UDPConn{sock: sock}
	c.rd.init()
	c.wd.init()
	return c, nil
}

// parseUDPAddr parses "host:port" for network "udp" or "udp4". The host
// must be a literal IPv4 address (the stack has no resolver yet); listen
// allows it to be empty.
func parseUDPAddr(op, network, address string, listen bool) (netip.AddrPort, error) {
	fail := func(err error) (netip.AddrPort, error) {
		return netip.AddrPort{}, &net.OpError{Op: op, Net: network, Err: err}
	}
	switch network {
	case "udp", "udp4", "udp6":
	default:
		return fail(net.UnknownNetworkError(network))
	}
	host, portText, err := net.SplitHostPort(address)
	if err != nil {
		return fail(err)
	}
	port, err := net.LookupPort("udp", portText)
	if err != nil {
		return fail(err)
	}
	if host == "" && listen {
		if network == "udp6" {
			return netip.AddrPortFrom(netip.IPv6Unspecified(), uint16(port)), nil
		}
		return netip.AddrPortFrom(netip.IPv4Unspecified(), uint16(port)), nil
	}
	addr, err := netip.ParseAddr(host)
	if err != nil {
		return fail(&net.AddrError{Err: "not an IP address (no resolver yet)", Addr: host})
	}
	addr = addr.Unmap().WithZone("")
	if network == "udp4" && !addr.Is4() || network == "udp6" && !addr.Is6() {
		return fail(&net.AddrError{Err: "address of the wrong family for " + network, Addr: host})
	}
	return netip.AddrPortFrom(addr, uint16(port)), nil
}

// wrapErrno wraps an errno as the os package does for system calls, so
// the error reads like the kernel socket's and errors.Is matches it.
func wrapErrno(call string, err error) error {
	var errno syscall.Errno
	if errors.As(err, &errno) {
		return os.NewSyscallError(call, err)
	}
	return err
}

func (c *UDPConn) opError(op string, addr net.Addr, err error) error {
	if addr == nil && c.sock.Connected() {
		addr = c.RemoteAddr()
	}
	call := "recvfrom"
	if op == "write" {
		call = "sendto"
	}
	return &net.OpError{Op: op, Net: "udp", Source: c.LocalAddr(), Addr: addr, Err: wrapErrno(call, err)}
}

// ReadFromUDPAddrPort reads one datagram into b and returns its length and
// sender. It honours the read deadline (os.ErrDeadlineExceeded) and Close
// (net.ErrClosed).
func (c *UDPConn) ReadFromUDPAddrPort(b []byte) (int, netip.AddrPort, error) {
	n, from, err := c.sock.Receive(b, c.rd.wait())
	if err != nil {
		return 0, netip.AddrPort{}, c.opError("read", nil, err)
	}
	return n, from, nil
}

// ReadFrom reads one datagram into b; the address is a *net.UDPAddr.
func (c *UDPConn) ReadFrom(b []byte) (int, net.Addr, error) {
	n, from, err := c.ReadFromUDPAddrPort(b)
	if err != nil {
		return 0, nil, err
	}
	return n, net.UDPAddrFromAddrPort(from), nil
}

// Read reads one datagram into b (for a connected socket, from its peer).
func (c *UDPConn) Read(b []byte) (int, error) {
	n, _, err := c.ReadFromUDPAddrPort(b)
	return n, err
}

// WriteToUDPAddrPort sends b as one datagram to addr.
func (c *UDPConn) WriteToUDPAddrPort(b []byte, addr netip.AddrPort) (int, error) {
	dst := net.UDPAddrFromAddrPort(addr)
	if c.sock.Connected() {
		return 0, c.opError("write", dst, net.ErrWriteToConnected)
	}
	if !addr.IsValid() {
		return 0, c.opError("write", nil, syscall.EDESTADDRREQ)
	}
	return c.write(b, addr, dst)
}

func (c *UDPConn) write(b []byte, addr netip.AddrPort, dst net.Addr) (int, error) {
	select {
	case <-c.wd.wait():
		return 0, c.opError("write", dst, os.ErrDeadlineExceeded)
	default:
	}
	if err := c.sock.Send(b, addr); err != nil {
		return 0, c.opError("write", dst, err)
	}
	return len(b), nil
}

// WriteTo sends b as one datagram to addr, a *net.UDPAddr (or any
// net.Addr whose String is "ip:port").
func (c *UDPConn) WriteTo(b []byte, addr net.Addr) (int, error) {
	var ap netip.AddrPort
	switch a := addr.(type) {
	case *net.UDPAddr:
		ap = a.AddrPort()
	case nil:
	default:
		var err error
		if ap, err = netip.ParseAddrPort(addr.String()); err != nil {
			return 0, c.opError("write", addr, &net.AddrError{Err: "not an ip:port address", Addr: addr.String()})
		}
	}
	return c.WriteToUDPAddrPort(b, netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port()))
}

// Write sends b to the connected peer.
func (c *UDPConn) Write(b []byte) (int, error) {
	if !c.sock.Connected() {
		return 0, c.opError("write", nil, syscall.EDESTADDRREQ)
	}
	return c.write(b, netip.AddrPort{}, c.RemoteAddr())
}

// Close closes the socket; blocked reads return net.ErrClosed.
func (c *UDPConn) Close() error {
	if err := c.sock.Close(); err != nil {
		return &net.OpError{Op: "close", Net: "udp", Source: c.LocalAddr(), Err: err}
	}
	c.rd.stop()
	c.wd.stop()
	return nil
}

// LocalAddr returns the bound address, a *net.UDPAddr.
func (c *UDPConn) LocalAddr() net.Addr { return net.UDPAddrFromAddrPort(c.sock.LocalAddr()) }

// RemoteAddr returns the connected peer as a *net.UDPAddr, or nil.
func (c *UDPConn) RemoteAddr() net.Addr {
	if !c.sock.Connected() {
		return nil
	}
	return net.UDPAddrFromAddrPort(c.sock.RemoteAddr())
}

// SetDeadline sets the read and write deadlines.
func (c *UDPConn) SetDeadline(t time.Time) error {
	c.rd.set(t)
	c.wd.set(t)
	return nil
}

// SetReadDeadline sets the deadline for reads, also those already blocked;
// the zero time means none.
func (c *UDPConn) SetReadDeadline(t time.Time) error { c.rd.set(t); return nil }

// SetWriteDeadline sets the deadline for writes; the zero time means none.
func (c *UDPConn) SetWriteDeadline(t time.Time) error { c.wd.set(t); return nil }

// SetBroadcast allows sending to broadcast addresses and receiving
// datagrams sent to them (SO_BROADCAST). Receiving also needs the socket
// to be bound to the unspecified address.
func (c *UDPConn) SetBroadcast(on bool) error { c.sock.SetBroadcast(on); return nil }

// SetReadBuffer bounds the bytes of datagrams queued for reading.
func (c *UDPConn) SetReadBuffer(bytes int) error {
	if bytes < 0 {
		return fmt.Errorf("actnet: negative read buffer %d", bytes)
	}
	c.sock.SetReadBuffer(bytes)
	return nil
}

// udpDeadline is one direction's deadline: a channel closed when it
// passes, replaced when the deadline moves, so blocked calls wake when it
// moves into the past.
type udpDeadline struct {
	mu    sync.Mutex
	timer *time.Timer
	ch    chan struct{}
}

func (d *udpDeadline) init() { d.ch = make(chan struct{}) }

func (d *udpDeadline) set(t time.Time) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.timer != nil && !d.timer.Stop() {
		<-d.ch // the timer fired: wait until its callback closed ch
	}
	d.timer = nil
	select {
	case <-d.ch:
		d.ch = make(chan struct{})
	default:
	}
	if t.IsZero() {
		return
	}
	if wait := time.Until(t); wait > 0 {
		ch := d.ch
		d.timer = time.AfterFunc(wait, func() { close(ch) })
		return
	}
	close(d.ch)
}

func (d *udpDeadline) wait() <-chan struct{} {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.ch
}

func (d *udpDeadline) stop() {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.timer != nil {
		d.timer.Stop()
		d.timer = nil
	}
}
