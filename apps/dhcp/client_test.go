package dhcp

import (
	"context"
	"net"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/insomniacslk/dhcp/dhcpv4"
	"github.com/rs/zerolog"

	"github.com/actnet/actnet/actors"
)

// fakeConn is a PacketConn whose datagrams the test reads and writes.
type fakeConn struct {
	in     chan []byte
	out    chan sent
	closed chan struct{}
	once   sync.Once
}

type sent struct {
	msg *dhcpv4.DHCPv4
	to  netip.AddrPort
}

func newFakeConn() *fakeConn {
	return &fakeConn{in: make(chan []byte, 8), out: make(chan sent, 64), closed: make(chan struct{})}
}

func (c *fakeConn) ReadFrom(b []byte) (int, net.Addr, error) {
	select {
	case d := <-c.in:
		return copy(b, d), &net.UDPAddr{IP: serverA.AsSlice(), Port: ServerPort}, nil
	case <-c.closed:
		return 0, nil, net.ErrClosed
	}
}

func (c *fakeConn) WriteTo(b []byte, addr net.Addr) (int, error) {
	m, err := dhcpv4.FromBytes(b)
	if err != nil {
		return 0, err
	}
	c.out <- sent{m, addr.(*net.UDPAddr).AddrPort()}
	return len(b), nil
}

func (c *fakeConn) Close() error {
	c.once.Do(func() { close(c.closed) })
	return nil
}

func (c *fakeConn) LocalAddr() net.Addr              { return &net.UDPAddr{Port: ClientPort} }
func (c *fakeConn) SetDeadline(time.Time) error      { return nil }
func (c *fakeConn) SetReadDeadline(time.Time) error  { return nil }
func (c *fakeConn) SetWriteDeadline(time.Time) error { return nil }

// fakeHost records the addresses set and answers probes from inUse.
type fakeHost struct {
	mu     sync.Mutex
	addrs  chan netip.Prefix
	inUse  map[netip.Addr]bool
	probes chan netip.Addr
}

func (h *fakeHost) SetIPv4(p netip.Prefix, _ netip.Addr) error {
	h.addrs <- p
	return nil
}

func (h *fakeHost) ProbeIPv4(_ context.Context, a netip.Addr) (bool, error) {
	h.probes <- a
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.inUse[a], nil
}

func (c *fakeConn) expect(t *testing.T, typ dhcpv4.MessageType) sent {
	t.Helper()
	select {
	case s := <-c.out:
		if s.msg.MessageType() != typ {
			t.Fatalf("client sent %v, want %v", s.msg.MessageType(), typ)
		}
		return s
	case <-time.After(5 * time.Second):
		t.Fatalf("no %v within 5 s", typ)
	}
	return sent{}
}

func (c *fakeConn) answer(t *testing.T, req *dhcpv4.DHCPv4, typ dhcpv4.MessageType, mods ...dhcpv4.Modifier) {
	c.in <- reply(t, req, typ, serverA, mods...).ToBytes()
}

func recv[T any](t *testing.T, ch <-chan T, what string) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(5 * time.Second):
		t.Fatalf("no %s within 5 s", what)
	}
	var zero T
	return zero
}

// The shell runs the machine on a virtual clock: it binds, renews at T1
// when the clock gets there, and releases on Close.
func TestClientOnVirtualClock(t *testing.T) {
	clock := actors.NewVirtualClock(t0)
	conn := newFakeConn()
	host := &fakeHost{addrs: make(chan netip.Prefix, 8), probes: make(chan netip.Addr, 8)}
	c := Start(Config{MAC: mac, Rand: rand1()}, host, conn, clock, zerolog.Nop())
	defer c.Close()

	disc := conn.expect(t, dhcpv4.MessageTypeDiscover)
	conn.in <- []byte("not a DHCP message")
	conn.answer(t, disc.msg, dhcpv4.MessageTypeOffer)
	req := conn.expect(t, dhcpv4.MessageTypeRequest)
	changes := c.Changes()
	conn.answer(t, req.msg, dhcpv4.MessageTypeAck, dhcpv4.WithOption(dhcpv4.OptRenewTimeValue(20*time.Second)))
	if p := recv(t, host.probes, "probe"); p != offered {
		t.Fatalf("probed %v", p)
	}
	if a := recv(t, host.addrs, "address"); a != netip.PrefixFrom(offered, 24) {
		t.Fatalf("set %v", a)
	}
	recv(t, changes, "lease change")
	if l, ok := c.Lease(); !ok || l.T1 != 20*time.Second {
		t.Fatalf("lease %+v %v", l, ok)
	}
	if st := c.Stats(); st.Malformed != 1 || st.Acks != 1 {
		t.Fatalf("stats %+v", st)
	}

	clock.Advance(20 * time.Second)
	renew := conn.expect(t, dhcpv4.MessageTypeRequest)
	if renew.to != netip.AddrPortFrom(serverA, ServerPort) {
		t.Fatalf("renewal sent to %v", renew.to)
	}
	changes = c.Changes()
	conn.answer(t, renew.msg, dhcpv4.MessageTypeAck)
	recv(t, changes, "renewal")
	if st := c.Stats(); st.Renewals != 1 {
		t.Fatalf("renewals %d", st.Renewals)
	}
	recv(t, host.addrs, "address (renewed)")

	c.Close()
	conn.expect(t, dhcpv4.MessageTypeRelease)
	if a := recv(t, host.addrs, "address removal"); a.IsValid() {
		t.Fatalf("close set %v, want the address removed", a)
	}
}

// An address in use is declined, and the client takes the next offer ten
// seconds later.
func TestClientDeclines(t *testing.T) {
	clock := actors.NewVirtualClock(t0)
	conn := newFakeConn()
	host := &fakeHost{addrs: make(chan netip.Prefix, 8), probes: make(chan netip.Addr, 8),
		inUse: map[netip.Addr]bool{offered: true}}
	c := Start(Config{MAC: mac, Rand: rand1()}, host, conn, clock, zerolog.Nop())
	defer c.Close()
	disc := conn.expect(t, dhcpv4.MessageTypeDiscover)
	conn.answer(t, disc.msg, dhcpv4.MessageTypeOffer)
	req := conn.expect(t, dhcpv4.MessageTypeRequest)
	conn.answer(t, req.msg, dhcpv4.MessageTypeAck)
	recv(t, host.probes, "probe")
	conn.expect(t, dhcpv4.MessageTypeDecline)
	other := netip.MustParseAddr("10.7.0.51")
	clock.Advance(10 * time.Second)
	disc = conn.expect(t, dhcpv4.MessageTypeDiscover)
	conn.answer(t, disc.msg, dhcpv4.MessageTypeOffer, dhcpv4.WithYourIP(other.AsSlice()))
	req = conn.expect(t, dhcpv4.MessageTypeRequest)
	conn.answer(t, req.msg, dhcpv4.MessageTypeAck, dhcpv4.WithYourIP(other.AsSlice()))
	if a := recv(t, host.addrs, "address"); a.Addr() != other {
		t.Fatalf("set %v, want %v", a, other)
	}
	if st := c.Stats(); st.Declines != 1 {
		t.Fatalf("declines %d", st.Declines)
	}
}
