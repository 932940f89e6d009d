package actors

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"sync"
	"sync/atomic"
	"syscall"

	"github.com/actnet/actnet/layers/checksum"
	"github.com/actnet/actnet/layers/udp"
	"github.com/actnet/actnet/mailbox"
)

// Receive queue bounds of a UDP socket. Bytes are charged by the size of
// the buffer a datagram occupies, not its payload, so that a flood of tiny
// datagrams is accounted for what it holds (Linux's truesize).
const (
	DefaultUDPReadBuffer = 1 << 20
	MaxUDPReadBuffer     = 16 << 20
	maxUDPQueued         = 4096
)

// MaxUDPPayload is the largest UDP payload over IPv4: 65,535 bytes less the
// IPv4 and UDP headers.
const MaxUDPPayload = MaxIPv4Payload - udp.HeaderLen

// udpDatagram is one received datagram waiting in a socket's queue; the
// socket owns its buffer until the application reads it.
type udpDatagram struct {
	buf  *mailbox.Buffer
	data []byte
	from netip.AddrPort
}

// UDPSocket is where the udp actor meets the goroutines that use one UDP
// socket. The actor side never blocks: it appends a datagram to a bounded
// queue and signals, or drops and counts when the queue is full (UDP has no
// flow control; a full queue drops as a kernel's does). Readers block on
// the signal with deadlines. Writers build the datagram and call the IPv4
// send path in their own goroutine, as every sender in the stack does; the
// device write is their back-pressure.
type UDPSocket struct {
	env *Env
	out *Outputs

	// Set by the udp actor when it binds the socket, before Bind answers;
	// read-only after.
	local  netip.AddrPort
	remote netip.AddrPort // the connected peer, or invalid

	broadcast atomic.Bool

	mu      sync.Mutex
	queue   []udpDatagram
	head    int
	charged int
	limit   int
	err     error // an ICMP error for a connected socket, reported once
	closed  bool
	// removed is ErrUDPAddrRemoved once the socket's local address went:
	// every later read and write reports it, until the user closes it.
	removed error

	ready chan struct{} // a datagram or an error arrived
	done  chan struct{} // closed by Close

	queueFull, sent *mailbox.Counter
}

func newUDPSocket(env *Env, out *Outputs, remote netip.AddrPort) *UDPSocket {
	return &UDPSocket{
		env:       env,
		out:       out,
		remote:    remote,
		limit:     env.Limits.UDPReceiveQueue,
		ready:     make(chan struct{}, 1),
		done:      make(chan struct{}),
		queueFull: &env.Counters.UDP.QueueFull,
		sent:      &env.Counters.UDP.PacketsSent,
	}
}

// LocalAddr is the address and port the socket is bound to.
func (s *UDPSocket) LocalAddr() netip.AddrPort { return s.local }

// RemoteAddr is the connected peer, or the zero AddrPort.
func (s *UDPSocket) RemoteAddr() netip.AddrPort { return s.remote }

// Connected reports whether the socket was opened with a peer.
func (s *UDPSocket) Connected() bool { return s.remote.IsValid() }

// SetBroadcast allows or forbids sending to broadcast addresses and
// receiving datagrams sent to them (SO_BROADCAST; unlike Linux, which
// delivers broadcasts to any socket bound to the wildcard address, actnet
// delivers them only where asked).
func (s *UDPSocket) SetBroadcast(on bool) { s.broadcast.Store(on) }

// SetReadBuffer sets the receive queue limit in bytes, clamped to
// [one maximal datagram, MaxUDPReadBuffer].
func (s *UDPSocket) SetReadBuffer(bytes int) {
	bytes = max(min(bytes, MaxUDPReadBuffer), mailbox.LargeSize)
	s.mu.Lock()
	s.limit = bytes
	s.mu.Unlock()
}

// deliver queues a received datagram; it reports false, leaving buf to the
// caller, when the queue is full or the socket closed.
func (s *UDPSocket) deliver(d udpDatagram) bool {
	s.mu.Lock()
	n := len(s.queue) - s.head
	size := cap(d.buf.B)
	if s.closed || s.removed != nil || n >= maxUDPQueued || (n > 0 && s.charged+size > s.limit) {
		s.mu.Unlock()
		return false
	}
	if s.head > 0 && s.head*2 >= len(s.queue) {
		m := copy(s.queue, s.queue[s.head:])
		clear(s.queue[m:])
		s.queue, s.head = s.queue[:m], 0
	}
	s.queue = append(s.queue, d)
	s.charged += size
	s.mu.Unlock()
	s.signal()
	return true
}

// ErrUDPAddrRemoved is what a UDP socket reports once the local address it
// was bound to, or connected from, was removed (a DHCP lease ended or
// changed): the stack closed it and freed its port. It errors.Is
// syscall.EADDRNOTAVAIL, as a TCP connection's tcp.ErrAddrRemoved does.
var ErrUDPAddrRemoved = fmt.Errorf("actnet: udp: local address removed: %w", syscall.EADDRNOTAVAIL)

// addrRemoved ends the socket for the udp actor, which frees its port:
// what it had queued is released, and blocked and later reads and writes
// return ErrUDPAddrRemoved. It reports false if the socket was already
// closed or ended.
func (s *UDPSocket) addrRemoved() bool {
	s.mu.Lock()
	if s.closed || s.removed != nil {
		s.mu.Unlock()
		return false
	}
	s.removed = ErrUDPAddrRemoved
	s.unlockAndDrain()
	s.signal()
	return true
}

// unlockAndDrain empties the queue of a socket that ends, unlocks s.mu
// (held by the caller) and then returns the queued buffers to the pool.
func (s *UDPSocket) unlockAndDrain() {
	q := s.queue[s.head:]
	s.queue, s.head, s.charged = nil, 0, 0
	s.mu.Unlock()
	for _, d := range q {
		d.buf.Release()
	}
}

// fail records an ICMP error for the next read or write (RFC 1122
// §4.1.3.3: UDP passes ICMP errors up to the application).
func (s *UDPSocket) fail(err error) {
	s.mu.Lock()
	s.err = err
	s.mu.Unlock()
	s.signal()
}

func (s *UDPSocket) signal() {
	select {
	case s.ready <- struct{}{}:
	default:
	}
}

// takeErr returns and clears a pending ICMP error.
func (s *UDPSocket) takeErr() error {
	err := s.err
	s.err = nil
	return err
}

// Receive copies the next datagram into b, truncating it if b is short, as
// a datagram socket does. It blocks until one arrives, deadline is closed
// (os.ErrDeadlineExceeded), the socket is closed (net.ErrClosed) or an ICMP
// error is pending for a connected socket (for port unreachable an error
// that errors.Is syscall.ECONNREFUSED).
func (s *UDPSocket) Receive(b []byte, deadline <-chan struct{}) (int, netip.AddrPort, error) {
	for {
		s.mu.Lock()
		if s.closed {
			s.mu.Unlock()
			return 0, netip.AddrPort{}, net.ErrClosed
		}
		if s.removed != nil {
			s.mu.Unlock()
			return 0, netip.AddrPort{}, s.removed
		}
		if err := s.takeErr(); err != nil {
			s.mu.Unlock()
			return 0, netip.AddrPort{}, err
		}
		if s.head < len(s.queue) {
			d := s.queue[s.head]
			s.queue[s.head] = udpDatagram{}
			s.head++
			if s.head == len(s.queue) {
				s.queue, s.head = s.queue[:0], 0
			}
			s.charged -= cap(d.buf.B)
			more := s.head < len(s.queue)
			s.mu.Unlock()
			if more {
				s.signal() // another reader may take the next one
			}
			n := copy(b, d.data)
			d.buf.Release()
			return n, d.from, nil
		}
		s.mu.Unlock()
		if err := s.env.life.err(); err != nil {
			// The stack went down: nothing will arrive (the udp actor
			// shuts its sockets when it stops, but a failed ipv4 layer
			// leaves them open and starved).
			return 0, netip.AddrPort{}, err
		}
		select {
		case <-s.ready:
		case <-s.done:
		case <-s.env.life.down:
		case <-deadline:
			return 0, netip.AddrPort{}, os.ErrDeadlineExceeded
		}
	}
}

// Errors of Send besides the send path's own; each is the errno a socket
// user expects, so errors.Is works as with the kernel's sockets.
var (
	errUDPBroadcast = syscall.EACCES       // broadcast without SetBroadcast
	errUDPTooBig    = syscall.EMSGSIZE     // above MaxUDPPayload
	errUDPNoPort    = syscall.EINVAL       // destination port 0
	errUDPFamily    = syscall.EAFNOSUPPORT // a family the stack does not run
	errUDPNoRoute   = syscall.EHOSTUNREACH
	errUDPLinkDown  = syscall.ENOBUFS
)

// Send sends b as one datagram to to, or to the connected peer when to is
// the zero AddrPort. The UDP checksum is always computed (RFC 768; RFC 1122
// §4.1.3.4 makes it the default). A payload larger than the path MTU is
// fragmented by the IPv4 layer.
func (s *UDPSocket) Send(b []byte, to netip.AddrPort) error {
	s.mu.Lock()
	closed, removed, err := s.closed, s.removed, s.takeErr()
	s.mu.Unlock()
	switch {
	case closed:
		return net.ErrClosed
	case removed != nil:
		return removed
	case err != nil:
		return err
	}
	if err := s.env.life.err(); err != nil {
		return err
	}
	if !to.IsValid() {
		to = s.remote
	}
	dst := to.Addr().Unmap()
	out, ok := s.out.For(dst)
	switch {
	case !ok:
		return errUDPFamily
	case to.Port() == 0:
		return errUDPNoPort
	case len(b) > out.MaxPayload()-udp.HeaderLen:
		return errUDPTooBig
	case (out.IsBroadcast(dst) || dst.IsMulticast()) && !s.broadcast.Load():
		return errUDPBroadcast
	}
	src := s.local.Addr()
	if !src.IsValid() || src.IsUnspecified() {
		if src, ok = out.LocalAddr(dst); !ok {
			return errUDPNoRoute
		}
	}
	// Until the device has the datagram, this goroutine holds buffers of
	// the stack's pool: Close waits for it.
	if err := s.env.life.enterSend(); err != nil {
		return err
	}
	defer s.env.life.leaveSend()
	n := udp.HeaderLen + len(b)
	buf := out.Buffer(n)
	dgram := buf.B[mailbox.Headroom : mailbox.Headroom+n]
	copy(dgram[udp.HeaderLen:], b)
	if err := (udp.Header{SrcPort: s.local.Port(), DstPort: to.Port()}).Emit(dgram,
		checksum.PseudoHeaderSum(src, dst, udp.Protocol, n)); err != nil {
		buf.Release()
		return errUDPTooBig
	}
	// Counted before it leaves, so that whoever got the datagram sees it
	// counted; a failed send is counted by the send path too.
	s.sent.Inc()
	err = out.Send(buf, n, NetSend{Dst: dst, Src: src, Protocol: udp.Protocol})
	switch {
	case err == nil:
		return nil
	case errors.Is(err, ErrNoRoute):
		return errUDPNoRoute
	case errors.Is(err, ErrTooBig):
		return errUDPTooBig
	default:
		return errUDPLinkDown
	}
}

// Close unbinds the socket, drops what it had queued and wakes every
// blocked reader with net.ErrClosed. Closing again returns net.ErrClosed.
func (s *UDPSocket) Close() error {
	if !s.shut() {
		return net.ErrClosed
	}
	s.env.send(s.env.PIDs.UDP, &UnbindUDP{Socket: s})
	return nil
}

// shut marks the socket closed, releases its queue and wakes its readers;
// it reports false if the socket was already closed.
func (s *UDPSocket) shut() bool {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return false
	}
	s.closed = true
	s.unlockAndDrain()
	close(s.done)
	return true
}
