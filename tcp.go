package actnet

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"sync"
	"syscall"
	"time"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/actnet/actnet/actors"
	"github.com/actnet/actnet/layers/tcp"
	"github.com/actnet/actnet/mailbox"
)

// Errors a TCP connection reports. Compare with errors.Is.
var (
	ErrConnectionRefused = tcp.ErrRefused
	ErrConnectionReset   = tcp.ErrReset
	ErrTimedOut          = tcp.ErrTimedOut
	ErrAborted           = tcp.ErrAborted
	// ErrAddrRemoved ends the connections on an IPv4 address the stack
	// gave up (a DHCP lease ended or brought another address).
	ErrAddrRemoved = tcp.ErrAddrRemoved
	ErrAppCrashed  = actors.ErrAppCrashed
)

// The actor-native API's messages (DESIGN.md, principle 4), for app actors
// started by Serve.
type (
	Connected      = mailbox.Connected
	Received       = mailbox.Received
	PeerClosed     = mailbox.PeerClosed
	Closed         = mailbox.Closed
	Write          = mailbox.Write
	Written        = mailbox.Written
	CloseWrite     = mailbox.CloseWrite
	Close          = mailbox.Close
	Abort          = mailbox.Abort
	SuspendReading = mailbox.SuspendReading
	ResumeReading  = mailbox.ResumeReading
	CommandFailed  = mailbox.CommandFailed
	WriteClosed    = mailbox.WriteClosed
	CloseReason    = mailbox.CloseReason
)

// How a connection ended, as Closed.Reason says.
const (
	ClosedOrderly  = mailbox.ClosedOrderly
	ClosedByReset  = mailbox.ClosedByReset
	ClosedTimedOut = mailbox.ClosedTimedOut
	ClosedAborted  = mailbox.ClosedAborted
	ClosedFailed   = mailbox.ClosedFailed
)

// ErrNotACommand answers (in CommandFailed) a message that a connection
// actor does not know, most often a command sent by value.
var ErrNotACommand = mailbox.ErrNotACommand

// tcpErrno is a TCP error that also matches the errno Go's net package
// reports for it on Linux, so that code written against the net package's
// errors (errors.Is(err, syscall.ECONNREFUSED)) works on actnet, while
// errors.Is with actnet's own sentinels keeps working too.
type tcpErrno struct {
	err   error
	errno syscall.Errno
}

func (e *tcpErrno) Error() string   { return e.err.Error() }
func (e *tcpErrno) Unwrap() []error { return []error{e.err, e.errno} }

// Timeout and Temporary keep net.Error's answers (net.OpError asks its Err).
func (e *tcpErrno) Timeout() bool   { return e.errno.Timeout() }
func (e *tcpErrno) Temporary() bool { return e.errno.Temporary() }

// tcpErrnos maps the connection errors to the errnos of RFC 9293's events
// as Linux reports them: a RST answering a SYN is ECONNREFUSED, one on a
// synchronized connection ECONNRESET (§3.10.7.3), and the user timeout or
// exhausted retransmissions ETIMEDOUT (§3.8.3); a local abort is
// ECONNABORTED.
var tcpErrnos = map[error]syscall.Errno{
	tcp.ErrRefused:  syscall.ECONNREFUSED,
	tcp.ErrReset:    syscall.ECONNRESET,
	tcp.ErrTimedOut: syscall.ETIMEDOUT,
	tcp.ErrAborted:  syscall.ECONNABORTED,
	// Stack.Close reset the connection: aborted as well, and closed.
	actors.ErrStackReset: syscall.ECONNABORTED,
	// Linux has no event for it; EADDRNOTAVAIL names the cause.
	tcp.ErrAddrRemoved: syscall.EADDRNOTAVAIL,
}

// errnoError wraps the TCP connection errors that have an errno; others
// pass through unchanged.
func errnoError(err error) error {
	if errno, ok := tcpErrnos[err]; ok {
		return &tcpErrno{err: err, errno: errno}
	}
	return err
}

// TCPConfig tunes TCP connections; the zero value has the defaults
// documented on tcp.Config.
type TCPConfig = tcp.Config

// Listener is a listening TCP port; it satisfies net.Listener.
type Listener struct {
	stack     *Stack
	addr      netip.AddrPort
	queue     *actors.AcceptQueue
	closed    chan struct{}
	closeOnce sync.Once
}

// ListenTCP listens on laddr. Its address must be the stack's own or
// unspecified; port 0 picks a free ephemeral port, which Addr reports.
func (s *Stack) ListenTCP(laddr netip.AddrPort) (*Listener, error) {
	if err := s.checkLocal(laddr.Addr()); err != nil {
		return nil, &net.OpError{Op: "listen", Net: "tcp", Addr: net.TCPAddrFromAddrPort(laddr), Err: err}
	}
	q, port, err := s.run.Listen(laddr.Port(), 0, s.tcpConfig)
	if err != nil {
		return nil, &net.OpError{Op: "listen", Net: "tcp", Addr: net.TCPAddrFromAddrPort(laddr), Err: err}
	}
	addr := laddr.Addr()
	if !addr.IsValid() || addr.IsUnspecified() && addr.Is4() {
		addr = s.Addr()
	}
	return &Listener{stack: s, addr: netip.AddrPortFrom(addr, port), queue: q, closed: make(chan struct{})}, nil
}

// Listen is ListenTCP with net.Listen's arguments: network "tcp", "tcp4"
// or "tcp6", address "host:port", "[v6 literal]:port" or ":port". A
// listener on ":port" (or an unspecified address) serves IPv4 and IPv6
// alike, as Go's net does.
func (s *Stack) Listen(network, address string) (net.Listener, error) {
	ap, err := parseAddrPort(network, address, "tcp")
	if err != nil {
		return nil, &net.OpError{Op: "listen", Net: network, Err: err}
	}
	return s.ListenTCP(ap)
}

func (s *Stack) checkLocal(a netip.Addr) error {
	if a.IsValid() && !a.IsUnspecified() && !s.run.Env.Out.IsLocal(a) {
		return fmt.Errorf("%s is not an address of this stack", a)
	}
	return nil
}

// parseAddrPort parses "host:port" where host is an IP literal or empty.
func parseAddrPort(network, address, kind string) (netip.AddrPort, error) {
	switch network {
	case kind, kind + "4", kind + "6":
	default:
		return netip.AddrPort{}, net.UnknownNetworkError(network)
	}
	host, portText, err := net.SplitHostPort(address)
	if err != nil {
		return netip.AddrPort{}, err
	}
	port, err := net.LookupPort(network, portText)
	if err != nil {
		return netip.AddrPort{}, err
	}
	var addr netip.Addr
	if host != "" {
		addr, err = netip.ParseAddr(host)
		if err != nil {
			return netip.AddrPort{}, fmt.Errorf("actnet: %q is not an IP address (name resolution is not available yet)", host)
		}
		addr = addr.Unmap().WithZone("")
		if network == kind+"4" && !addr.Is4() || network == kind+"6" && !addr.Is6() {
			return netip.AddrPort{}, &net.AddrError{Err: "address of the wrong family for " + network, Addr: host}
		}
	}
	return netip.AddrPortFrom(addr.Unmap(), uint16(port)), nil
}

// Accept waits for the next connection.
func (l *Listener) Accept() (net.Conn, error) { return l.AcceptTCP() }

// AcceptTCP waits for the next connection and returns it as a *Conn.
func (l *Listener) AcceptTCP() (*Conn, error) {
	for {
		if sock, ok := l.queue.Take(); ok {
			return newConn(l.stack, sock), nil
		}
		select {
		case <-l.queue.Ready():
		case <-l.closed:
			return nil, &net.OpError{Op: "accept", Net: "tcp", Addr: l.Addr(), Err: net.ErrClosed}
		case <-l.stack.run.Down():
			return nil, &net.OpError{Op: "accept", Net: "tcp", Addr: l.Addr(), Err: l.stack.run.DownErr()}
		}
	}
}

// Close stops listening; connections not yet accepted are reset.
// Closing again returns net.ErrClosed, from any goroutine.
func (l *Listener) Close() error {
	first := false
	l.closeOnce.Do(func() {
		first = true
		close(l.closed)
		l.stack.run.Unlisten(l.addr.Port())
		l.queue.Close()
	})
	if !first {
		return &net.OpError{Op: "close", Net: "tcp", Addr: l.Addr(), Err: net.ErrClosed}
	}
	return nil
}

// Addr is the listening address.
func (l *Listener) Addr() net.Addr { return net.TCPAddrFromAddrPort(l.addr) }

// DialTCP opens a connection to raddr from an ephemeral port.
func (s *Stack) DialTCP(ctx context.Context, raddr netip.AddrPort) (*Conn, error) {
	opErr := func(err error) error {
		return &net.OpError{Op: "dial", Net: "tcp", Addr: net.TCPAddrFromAddrPort(raddr), Err: errnoError(err)}
	}
	if err := ctx.Err(); err != nil {
		return nil, opErr(err)
	}
	sock, err := s.run.Dial(netip.AddrPort{}, raddr, s.tcpConfig)
	if err != nil {
		return nil, opErr(err)
	}
	select {
	case <-sock.Established():
		return newConn(s, sock), nil
	case <-sock.Done():
		err := sock.Err()
		if err == nil {
			err = ErrAborted
		}
		if derr := s.run.DownErr(); derr != nil {
			err = derr // stopped with the stack, not by the peer
		}
		return nil, opErr(err)
	case <-s.run.Down():
		sock.Close(true)
		return nil, opErr(s.run.DownErr())
	case <-ctx.Done():
		sock.Close(true)
		return nil, opErr(ctx.Err())
	}
}

// DialContext connects to address on network ("tcp", "tcp4", "tcp6",
// "udp", "udp4" or "udp6"), with the
// signature of net.Dialer.DialContext, so it can stand in for it (an
// http.Transport's DialContext, for example).
func (s *Stack) DialContext(ctx context.Context, network, address string) (net.Conn, error) {
	switch network {
	case "tcp", "tcp4", "tcp6":
		ap, err := parseAddrPort(network, address, "tcp")
		if err != nil {
			return nil, &net.OpError{Op: "dial", Net: network, Err: err}
		}
		if !ap.Addr().IsValid() {
			return nil, &net.OpError{Op: "dial", Net: network, Err: errors.New("missing address")}
		}
		c, err := s.DialTCP(ctx, ap)
		if err != nil {
			return nil, err // not a nil *Conn in a non-nil net.Conn
		}
		return c, nil
	case "udp", "udp4", "udp6":
		ap, err := parseAddrPort(network, address, "udp")
		if err != nil {
			return nil, &net.OpError{Op: "dial", Net: network, Err: err}
		}
		return s.dialUDP(ctx, netip.AddrPort{}, ap)
	}
	return nil, &net.OpError{Op: "dial", Net: network, Err: net.UnknownNetworkError(network)}
}

// Serve listens on port (0 picks a free ephemeral port: see Service.Port)
// and spawns an app actor from props for each
// connection, under supervision: an app that panics has its own connection
// reset, and the service goes on. The app receives Connected, Received,
// PeerClosed and Closed, and sends Write, CloseWrite, Close and Abort to the
// connection actor named in Connected.
func (s *Stack) Serve(port uint16, props *actor.Props) (*Service, error) {
	svc, err := s.run.Serve(port, props, s.tcpConfig)
	if err != nil {
		return nil, &net.OpError{Op: "listen", Net: "tcp", Addr: net.TCPAddrFromAddrPort(netip.AddrPortFrom(s.Addr(), port)), Err: err}
	}
	return svc, nil
}

// Service is a running Serve.
type Service = actors.Service

// Conn is one TCP connection; it satisfies net.Conn.
type Conn struct {
	stack         *Stack
	sock          *actors.Socket
	readDeadline  deadline
	writeDeadline deadline
	linger        int
}

func newConn(s *Stack, sock *actors.Socket) *Conn {
	return &Conn{stack: s, sock: sock, linger: -1}
}

func (c *Conn) opError(op string, err error) error {
	if errors.Is(err, actors.ErrSocketClosed) {
		err = net.ErrClosed
	}
	return &net.OpError{Op: op, Net: "tcp", Source: c.LocalAddr(), Addr: c.RemoteAddr(), Err: errnoError(err)}
}

// Read reads data; io.EOF after the peer's FIN.
func (c *Conn) Read(p []byte) (int, error) {
	n, err := c.sock.Read(p, c.readDeadline.wait())
	if err != nil && n == 0 && err != io.EOF { // io.EOF unwrapped, as io.Reader requires
		return 0, c.opError("read", err)
	}
	return n, err
}

// Write writes p, blocking while the send buffer is full.
func (c *Conn) Write(p []byte) (int, error) {
	n, err := c.sock.Write(p, c.writeDeadline.wait())
	if err != nil {
		return n, c.opError("write", err)
	}
	return n, nil
}

// Close closes the connection (gracefully, unless SetLinger(0) asked for a
// reset, or received data was left unread).
func (c *Conn) Close() error {
	c.readDeadline.stop()
	c.writeDeadline.stop()
	if err := c.sock.Close(c.linger == 0); err != nil {
		return c.opError("close", err)
	}
	return nil
}

// CloseWrite shuts down the sending direction (a FIN); reading goes on.
func (c *Conn) CloseWrite() error {
	if err := c.sock.CloseWrite(); err != nil {
		return c.opError("close", err)
	}
	return nil
}

// LocalAddr is the local address.
func (c *Conn) LocalAddr() net.Addr { return net.TCPAddrFromAddrPort(c.sock.Local) }

// RemoteAddr is the peer's address.
func (c *Conn) RemoteAddr() net.Addr { return net.TCPAddrFromAddrPort(c.sock.Remote) }

// SetDeadline sets both deadlines.
func (c *Conn) SetDeadline(t time.Time) error {
	c.readDeadline.set(t)
	c.writeDeadline.set(t)
	return nil
}

// SetReadDeadline sets the read deadline.
func (c *Conn) SetReadDeadline(t time.Time) error { c.readDeadline.set(t); return nil }

// SetWriteDeadline sets the write deadline.
func (c *Conn) SetWriteDeadline(t time.Time) error { c.writeDeadline.set(t); return nil }

// SetNoDelay turns Nagle's algorithm off (true) or on.
func (c *Conn) SetNoDelay(noDelay bool) error {
	return c.sock.Configure(func(_ time.Time, tc *tcp.Conn) { tc.SetNoDelay(noDelay) })
}

// SetKeepAlive turns keep-alive probes on or off (off by default), with
// Linux's default timing unless SetKeepAlivePeriod changed it.
func (c *Conn) SetKeepAlive(on bool) error {
	return c.SetKeepAliveConfig(net.KeepAliveConfig{Enable: on})
}

// SetKeepAlivePeriod turns keep-alive on with probes after d idle and
// every d after that.
func (c *Conn) SetKeepAlivePeriod(d time.Duration) error {
	return c.SetKeepAliveConfig(net.KeepAliveConfig{Enable: true, Idle: d, Interval: d})
}

// SetKeepAliveConfig configures keep-alive as net.TCPConn does; zero
// fields take the defaults (2 h idle, 75 s interval, 9 probes).
func (c *Conn) SetKeepAliveConfig(cfg net.KeepAliveConfig) error {
	return c.sock.Configure(func(now time.Time, tc *tcp.Conn) {
		tc.SetKeepAlive(now, cfg.Enable, max(cfg.Idle, 0), max(cfg.Interval, 0), max(cfg.Count, 0))
	})
}

// SetLinger chooses what Close does: sec 0 resets the connection; any other
// value closes it gracefully (the FIN is sent in the background, as with
// Linux's default).
func (c *Conn) SetLinger(sec int) error {
	c.linger = sec
	return nil
}

// Dial is DialContext without a context: it waits as long as the handshake
// takes (the SYN is retried for up to three minutes).
func (s *Stack) Dial(network, address string) (net.Conn, error) {
	return s.DialContext(context.Background(), network, address)
}
