package actors

import (
	"context"
	"errors"
	"math/rand/v2"
	"net/netip"
	"syscall"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/actnet/actnet/layers/checksum"
	"github.com/actnet/actnet/layers/udp"
	"github.com/actnet/actnet/mailbox"
	"github.com/actnet/actnet/supervisor"
)

// BindUDP asks the udp actor to bind Socket to Local; port 0 picks an
// ephemeral port (RFC 6056). It is answered on Reply: nil once the socket
// is bound (its LocalAddr then holds the port), else why not.
type BindUDP struct {
	Socket *UDPSocket
	Local  netip.AddrPort
	Reply  chan<- error
}

// UnbindUDP tells the udp actor that a socket was closed: its port is
// free again. It needs no answer (the socket is already closed for its
// users); a BindUDP sent after it from the same goroutine sees the port
// free, since one sender's messages arrive in order.
type UnbindUDP struct {
	Socket *UDPSocket
}

// Bind errors, as the errnos a socket user expects.
var (
	errUDPAddrInUse    = syscall.EADDRINUSE
	errUDPAddrNotAvail = syscall.EADDRNOTAVAIL
	errUDPNoPorts      = syscall.EAGAIN
)

// udpActor owns the UDP port table: it binds and unbinds sockets, checks
// received datagrams (RFC 768; RFC 1122 §4.1.3), hands each to its
// socket's queue, answers datagrams to closed ports with ICMP port
// unreachable (RFC 1122 §4.1.3.1) and passes ICMP errors to connected
// sockets (§4.1.3.3).
type udpActor struct {
	env   *Env
	out   *Outputs
	guard supervisor.PacketGuard
	c     *mailbox.UDPCounters
	ports *udp.Ports[*UDPSocket]
}

func newUDPActor(env *Env, out *Outputs) *udpActor {
	c := &env.Counters.UDP
	return &udpActor{
		env:   env,
		out:   out,
		guard: newGuard(env, "udp", &c.HandlerCrashes),
		c:     c,
		ports: udp.NewPorts[*UDPSocket](0),
	}
}

func (a *udpActor) Receive(ctx actor.Context) {
	switch m := ctx.Message().(type) {
	case *mailbox.PacketsArrived:
		for i := range m.Packets {
			p := &m.Packets[i]
			a.c.PacketsReceived.Inc()
			a.guard.Handle(p.Network, func() { a.handle(p) })
		}
		m.Release()
	case *BindUDP:
		m.Reply <- a.bind(m.Socket, m.Local)
	case *UnbindUDP:
		if s, ok := a.ports.Lookup(m.Socket.local.Port()); ok && s == m.Socket {
			a.ports.Unbind(m.Socket.local.Port())
		}
	case *mailbox.ControlErrorArrived:
		a.controlError(m)
	case *localAddrRemoved:
		a.addrRemoved(m.addr)
	case *actor.Stopping:
		// The stack is closing: wake every blocked reader.
		a.ports.All(func(_ uint16, s *UDPSocket) { s.shut() })
	}
}

func (a *udpActor) bind(s *UDPSocket, local netip.AddrPort) error {
	addr := local.Addr().Unmap()
	if !addr.IsValid() {
		addr = netip.IPv4Unspecified()
	}
	if !addr.IsUnspecified() {
		// A socket bound to an unspecified address hears every family
		// the stack runs, like Go's net with "udp"; a specific address
		// must be one of the stack's.
		if _, ok := a.out.For(addr); !ok {
			return errUDPFamily
		}
		if !a.out.IsLocal(addr) {
			return errUDPAddrNotAvail
		}
	}
	if s.remote.IsValid() && addr.IsUnspecified() {
		// A connected socket's source is the address its route uses, as
		// on Linux after connect(2).
		out, ok := a.out.For(s.remote.Addr())
		if !ok {
			return errUDPFamily
		}
		if addr, ok = out.LocalAddr(s.remote.Addr()); !ok {
			return errUDPAddrNotAvail
		}
	}
	port := local.Port()
	var err error
	if port == 0 {
		port, err = a.ports.BindEphemeral(s, rand.Uint32())
	} else {
		err = a.ports.Bind(port, s)
	}
	switch {
	case errors.Is(err, udp.ErrPortInUse):
		return errUDPAddrInUse
	case err != nil:
		return errUDPNoPorts
	}
	s.local = netip.AddrPortFrom(addr, port)
	return nil
}

// addrRemoved closes the sockets whose local address is addr, which the
// stack no longer holds, and frees their ports. Left open they would wait
// forever for datagrams nobody can send them, hold their ports, and send
// from an address that is no longer ours.
func (a *udpActor) addrRemoved(addr netip.Addr) {
	var gone []uint16
	a.ports.All(func(port uint16, s *UDPSocket) {
		if s.local.Addr() == addr {
			gone = append(gone, port)
			if s.addrRemoved() {
				a.c.AddrRemoved.Inc()
			}
		}
	})
	for _, port := range gone {
		a.ports.Unbind(port)
	}
}

// handle checks one datagram and queues it on its socket.
func (a *udpActor) handle(p *mailbox.Packet) {
	d, err := udp.NewDatagram(p.Transport)
	if err != nil {
		switch err {
		case udp.ErrTruncated:
			a.c.Truncated.Inc()
		case udp.ErrLengthTooShort:
			a.c.LengthTooShort.Inc()
		case udp.ErrLengthTooLong:
			a.c.LengthTooLong.Inc()
		default:
			a.c.Malformed.Inc()
		}
		return
	}
	// RFC 768: a zero checksum means none was sent, which IPv4 allows
	// and IPv6 does not (RFC 8200 §8.1).
	if !p.ChecksumOK && !d.VerifyChecksum(checksum.PseudoHeaderSum(p.Src, p.Dst, udp.Protocol, int(d.Length())), p.Src.Is4()) {
		a.c.BadChecksum.Inc()
		return
	}
	if d.Checksum() == 0 {
		a.c.NoChecksum.Inc()
	}
	broadcast := !a.out.IsLocal(p.Dst)
	s, ok := a.ports.Lookup(d.DstPort())
	if !ok {
		if broadcast {
			a.c.BroadcastNoPort.Inc()
			return
		}
		a.c.NoPort.Inc()
		if out, ok := a.out.For(p.Src); ok {
			out.ReportPortUnreachable(p)
		}
		return
	}
	from := netip.AddrPortFrom(p.Src, d.SrcPort())
	switch {
	case broadcast && (!s.broadcast.Load() || !s.local.Addr().IsUnspecified()):
		a.c.BroadcastNotEnabled.Inc()
		return
	case s.remote.IsValid() && s.remote != from:
		a.c.NotFromPeer.Inc()
		return
	}
	if !s.deliver(udpDatagram{buf: p.Buf, data: d.Payload(), from: from}) {
		s.queueFull.Inc()
		return
	}
	p.Buf = nil // the socket owns it now
}

// controlError reports an ICMP error to the connected socket it concerns.
// As on Linux without IP_RECVERR, unconnected sockets and soft errors are
// not told (RFC 1122 §4.1.3.3 leaves the choice to the implementation):
// an unconnected socket cannot tell which of its sends failed.
func (a *udpActor) controlError(m *mailbox.ControlErrorArrived) {
	s, ok := a.ports.Lookup(m.Local.Port())
	if m.TooBig {
		// The path MTU is lowered only for a datagram a socket of ours
		// could have sent (RFC 5927 §4.3, as Linux's udp_err looks the
		// socket up first): a forged report naming no socket changes
		// nothing.
		if out, found := a.out.For(m.Remote.Addr()); found && ok && (!s.remote.IsValid() || s.remote == m.Remote) {
			out.LowerPathMTU(m.Remote.Addr(), m.NextHopMTU, m.SentLen)
			a.c.ErrorsDelivered.Inc()
			return
		}
		a.c.ErrorsIgnored.Inc()
		return
	}
	if !ok || !s.remote.IsValid() || s.remote != m.Remote || !m.Hard {
		a.c.ErrorsIgnored.Inc()
		return
	}
	a.c.ErrorsDelivered.Inc()
	s.fail(m.Err)
}

// OpenUDP binds a new UDP socket to local (port 0 for an ephemeral one);
// with a valid remote the socket is connected: it sends there by default,
// receives only from there and hears ICMP errors about it.
func (r *Running) OpenUDP(ctx context.Context, local, remote netip.AddrPort) (*UDPSocket, error) {
	if remote.IsValid() {
		dst := remote.Addr().Unmap().WithZone("")
		_, runs := r.Env.Out.For(dst)
		switch {
		case !runs:
			return nil, errUDPFamily
		case remote.Port() == 0:
			return nil, errUDPNoPort
		case dst.IsUnspecified():
			return nil, errUDPAddrNotAvail
		}
		remote = netip.AddrPortFrom(dst, remote.Port())
	}
	if r.Env.PIDs.UDP == nil {
		return nil, errors.New("actnet: udp is not running")
	}
	life := &r.Env.life
	if err := life.err(); err != nil {
		return nil, err
	}
	s := newUDPSocket(r.Env, &r.Env.Out, remote)
	reply := make(chan error, 1)
	r.Env.send(r.Env.PIDs.UDP, &BindUDP{Socket: s, Local: local, Reply: reply})
	err, waitErr := await(life, ctx, reply)
	switch {
	case waitErr != nil && life.err() == nil:
		// ctx ended; the bind may still complete: free the port when
		// it does. (A stack that went down frees every port itself.)
		go func() {
			select {
			case err := <-reply:
				if err == nil {
					s.Close()
				}
			case <-life.down:
			}
		}()
		return nil, waitErr
	case waitErr != nil:
		return nil, waitErr
	case err != nil:
		return nil, err
	}
	return s, nil
}
