package actors

import (
	"context"
	"errors"
	"net/netip"
	"syscall"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/actnet/actnet/device"
	"github.com/actnet/actnet/layers/arp"
	"github.com/actnet/actnet/layers/checksum"
	"github.com/actnet/actnet/layers/ethernet"
	"github.com/actnet/actnet/layers/icmpv4"
	"github.com/actnet/actnet/layers/ipv4"
	"github.com/actnet/actnet/layers/ipv6"
	"github.com/actnet/actnet/layers/ndp"
	"github.com/actnet/actnet/layers/tcp"
	"github.com/actnet/actnet/layers/udp"
)

// linkPeer is the raw far end of a memory link, for tests that write and
// read frames themselves.
type linkPeer struct {
	t      *testing.T
	dev    *device.Memory
	mac    ethernet.Addr
	stack  ethernet.Addr
	frames chan []byte
}

func newLinkPeer(t *testing.T, dev *device.Memory, stack ethernet.Addr) *linkPeer {
	p := &linkPeer{t: t, dev: dev, mac: ethernet.Addr(dev.HardwareAddr()), stack: stack, frames: make(chan []byte, 256)}
	go func() {
		bufs, sizes := [][]byte{make([]byte, 2048)}, []int{0}
		for {
			n, err := dev.ReadBatch(bufs, sizes)
			if err != nil {
				close(p.frames)
				return
			}
			if n == 1 {
				p.frames <- append([]byte(nil), bufs[0][:sizes[0]]...)
			}
		}
	}()
	return p
}

func (p *linkPeer) send(typ ethernet.EtherType, dst ethernet.Addr, payload []byte) {
	f := make([]byte, ethernet.HeaderLen+len(payload))
	ethernet.Header{Dst: dst, Src: p.mac, Type: typ}.Emit(f)
	copy(f[ethernet.HeaderLen:], payload)
	if err := p.dev.Write(f); err != nil {
		p.t.Fatal(err)
	}
}

func (p *linkPeer) sendARP(r arp.Repr) {
	b := make([]byte, arp.Len)
	r.Emit(b)
	p.send(ethernet.ARP, ethernet.Broadcast, b)
}

func (p *linkPeer) sendIP(proto uint8, src, dst netip.Addr, payload []byte) {
	b := make([]byte, ipv4.HeaderLen+len(payload))
	ipv4.Header{ID: 7, TTL: 64, Protocol: proto, Src: src, Dst: dst, PayloadLen: len(payload)}.Emit(b)
	copy(b[ipv4.HeaderLen:], payload)
	p.send(ethernet.IPv4, p.stack, b)
}

func (p *linkPeer) sendUDP(src, dst netip.AddrPort, data []byte) {
	d := make([]byte, udp.HeaderLen+len(data))
	copy(d[udp.HeaderLen:], data)
	if err := (udp.Header{SrcPort: src.Port(), DstPort: dst.Port()}).Emit(d,
		checksum.PseudoHeaderSum(src.Addr(), dst.Addr(), udp.Protocol, len(d))); err != nil {
		p.t.Fatal(err)
	}
	p.sendIP(udp.Protocol, src.Addr(), dst.Addr(), d)
}

// await reads frames until match accepts one; it fails the test after 5 s.
func (p *linkPeer) await(what string, match func(ethernet.Frame) bool) ethernet.Frame {
	p.t.Helper()
	deadline := time.After(5 * time.Second)
	for {
		select {
		case b, ok := <-p.frames:
			if !ok {
				p.t.Fatalf("link closed waiting for %s", what)
			}
			if f, err := ethernet.NewFrame(b); err == nil && match(f) {
				return f
			}
		case <-deadline:
			p.t.Fatalf("no %s within 5 s", what)
		}
	}
}

func startUnconfigured(t *testing.T) (*Running, *linkPeer) {
	t.Helper()
	da, db := device.NewMemoryPair(device.MemoryConfig{})
	r, err := Start(Options{Device: da, Log: zerolog.Nop(), IPv6: IPv6Options{Mode: IPv6Off}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close(); db.Close() })
	return r, newLinkPeer(t, db, r.Env.MAC)
}

func idle(t *testing.T, r *Running) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := WaitIdle(ctx, r, r.Env.Device.(Active)); err != nil {
		t.Fatal(err)
	}
}

// A stack started without an address answers no ARP and no ping for any
// address, yet a DHCP client on it can broadcast from 0.0.0.0:68 and hear
// replies to port 68 sent to the broadcast address or to an address it
// was offered (RFC 2131 §4.1).
func TestUnconfiguredStackCarriesDHCP(t *testing.T) {
	r, p := startUnconfigured(t)
	offered := netip.MustParseAddr("10.9.0.50")
	server := netip.MustParseAddr("10.9.0.1")
	p.sendARP(arp.NewRequest(p.mac, server, offered))
	echo := make([]byte, icmpv4.HeaderLen+8)
	n := icmpv4.EmitEcho(echo, icmpv4.TypeEchoRequest, 1, 1, make([]byte, 8))
	p.sendIP(ipv4.ProtocolICMP, server, offered, echo[:n])
	idle(t, r)
	st := r.Env.Counters.Snapshot()
	if st.ARP.RepliesSent != 0 || st.ICMPv4.EchoRepliesSent != 0 {
		t.Fatalf("an unconfigured stack answered: %d ARP replies, %d echo replies", st.ARP.RepliesSent, st.ICMPv4.EchoRepliesSent)
	}
	if st.ARP.NotForUs != 1 || st.IPv4.NotForUs != 1 {
		t.Fatalf("not-for-us drops: ARP %d, IPv4 %d; want 1 each", st.ARP.NotForUs, st.IPv4.NotForUs)
	}
	if st.ARP.AnnouncementsSent != 0 {
		t.Fatal("an unconfigured stack announced an address")
	}

	s, err := r.OpenUDP(context.Background(), netip.AddrPortFrom(netip.IPv4Unspecified(), 68), netip.AddrPort{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	s.SetBroadcast(true)
	if err := s.Send([]byte("discover"), netip.MustParseAddrPort("255.255.255.255:67")); err != nil {
		t.Fatalf("broadcast from 0.0.0.0: %v", err)
	}
	f := p.await("the broadcast datagram", func(f ethernet.Frame) bool { return f.EtherType() == ethernet.IPv4 })
	if !f.Dst().IsBroadcast() {
		t.Errorf("sent to MAC %v, want broadcast", f.Dst())
	}
	pkt, err := ipv4.NewPacket(f.Payload())
	if err != nil {
		t.Fatal(err)
	}
	if pkt.Src() != netip.IPv4Unspecified() || pkt.Dst() != limitedBroadcast {
		t.Errorf("sent %v -> %v, want 0.0.0.0 -> 255.255.255.255", pkt.Src(), pkt.Dst())
	}
	if d, err := udp.NewDatagram(pkt.Payload()); err != nil || d.SrcPort() != 68 || d.DstPort() != 67 {
		t.Errorf("datagram ports wrong or malformed: %v", err)
	}
	// A unicast to anything but port 68 is still not for us.
	if err := s.Send([]byte("x"), netip.MustParseAddrPort("10.9.0.1:67")); err == nil {
		t.Error("a unicast without an address was sent")
	}

	from := netip.AddrPortFrom(server, 67)
	for i, dst := range []netip.Addr{offered, limitedBroadcast} {
		p.sendUDP(from, netip.AddrPortFrom(dst, 68), []byte{byte(i)})
		buf := make([]byte, 16)
		n, src, err := s.Receive(buf, timeout(5*time.Second))
		if err != nil || n != 1 || buf[0] != byte(i) || src != from {
			t.Fatalf("reply to %v: %d bytes from %v, %v", dst, n, src, err)
		}
	}
}

// Setting the address announces it and makes the stack answer for it;
// WaitIPv4 returns it.
func TestSetIPv4AnnouncesAndAnswers(t *testing.T) {
	r, p := startUnconfigured(t)
	got := make(chan netip.Prefix, 1)
	go func() {
		a, _ := r.WaitIPv4(context.Background())
		got <- a
	}()
	addr := netip.MustParsePrefix("10.9.0.50/24")
	if err := r.SetIPv4(addr, netip.MustParseAddr("10.9.0.1")); err != nil {
		t.Fatal(err)
	}
	p.await("a gratuitous ARP", func(f ethernet.Frame) bool {
		r, err := arp.Parse(f.Payload())
		return f.EtherType() == ethernet.ARP && err == nil && r.IsGratuitous() && r.SenderIP == addr.Addr()
	})
	select {
	case a := <-got:
		if a != addr {
			t.Fatalf("WaitIPv4 returned %v, want %v", a, addr)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("WaitIPv4 did not return")
	}
	peerIP := netip.MustParseAddr("10.9.0.7")
	p.sendARP(arp.NewRequest(p.mac, peerIP, addr.Addr()))
	p.await("an ARP reply", func(f ethernet.Frame) bool {
		r, err := arp.Parse(f.Payload())
		return f.EtherType() == ethernet.ARP && err == nil && r.Op == arp.Reply && r.SenderIP == addr.Addr()
	})
	for _, bad := range []netip.Prefix{netip.MustParsePrefix("0.0.0.0/8"), netip.MustParsePrefix("224.0.0.1/4"), netip.MustParsePrefix("fe80::1/64")} {
		if err := r.SetIPv4(bad, netip.Addr{}); err == nil {
			t.Errorf("SetIPv4(%v) accepted", bad)
		}
	}
	if err := r.SetIPv4(netip.Prefix{}, netip.Addr{}); err != nil || r.IPv4().HasAddr() {
		t.Fatalf("removing the address: %v, still %v", err, r.IPv4().Addr)
	}
}

// When the address changes, a connection on the old one ends with
// ErrAddrRemoved instead of waiting for its timeouts.
func TestAddrChangeEndsConnections(t *testing.T) {
	a, b := startPair(t)
	q, _, err := b.Listen(7, 0, tcp.Config{})
	if err != nil {
		t.Fatal(err)
	}
	client, _ := connect(t, a, q, netip.AddrPortFrom(b.Env.IPv4().Addr.Addr(), 7))
	if err := a.SetIPv4(netip.MustParsePrefix("10.0.0.3/24"), netip.Addr{}); err != nil {
		t.Fatal(err)
	}
	select {
	case <-client.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("the connection on the old address lives on")
	}
	if err := client.Err(); !errors.Is(err, tcp.ErrAddrRemoved) {
		t.Fatalf("connection ended with %v, want ErrAddrRemoved", err)
	}
}

// An ARP probe finds an address another host holds, and finds a free one
// free after PROBE_NUM probes from 0.0.0.0 (RFC 5227 §2.1.1).
func TestProbeIPv4(t *testing.T) {
	a, b := startPair(t)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	inUse, err := a.ProbeIPv4(ctx, b.Env.IPv4().Addr.Addr())
	if err != nil || !inUse {
		t.Fatalf("probing b's address: in use %v, %v", inUse, err)
	}
	if got := a.Env.Counters.ARP.ProbeConflicts.Load(); got != 1 {
		t.Errorf("probe conflicts counted %d, want 1", got)
	}
	if _, err := a.ProbeIPv4(ctx, netip.MustParseAddr("255.255.255.255")); !errors.Is(err, ErrProbeAddr) {
		t.Errorf("probing the broadcast address: %v", err)
	}
}

// A free address is found free after three probes, on virtual time.
func TestProbeIPv4Free(t *testing.T) {
	clock := NewVirtualClock(time.Unix(1_000_000, 0))
	da, db := device.NewMemoryPair(device.MemoryConfig{})
	r, err := Start(Options{Device: da, Log: zerolog.Nop(), Clock: clock, IPv6: IPv6Options{Mode: IPv6Off}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close(); db.Close() })
	p := newLinkPeer(t, db, r.Env.MAC)
	cand := netip.MustParseAddr("10.9.0.60")
	res := make(chan bool, 1)
	go func() {
		inUse, err := r.ProbeIPv4(context.Background(), cand)
		if err != nil {
			t.Error(err)
		}
		res <- inUse
	}()
	for i := range arp.ProbeNum {
		// Each probe is due at most PROBE_MAX after the previous one.
		for r.Env.Counters.ARP.ProbesSent.Load() == uint64(i) {
			idle(t, r)
			clock.Advance(100 * time.Millisecond)
		}
		p.await("a probe", func(f ethernet.Frame) bool {
			r, err := arp.Parse(f.Payload())
			return f.EtherType() == ethernet.ARP && err == nil && r.IsProbe() && r.TargetIP == cand
		})
	}
	select {
	case <-res:
		t.Fatal("probing ended before ANNOUNCE_WAIT")
	default:
	}
	idle(t, r)
	clock.Advance(arp.AnnounceWait)
	select {
	case inUse := <-res:
		if inUse {
			t.Fatal("a free address was found in use")
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no answer after ANNOUNCE_WAIT")
	}
}

// The DNS servers of a router advertisement's RDNSS option (RFC 8106) are
// kept with their lifetime.
func TestRDNSSFromRouterAdvert(t *testing.T) {
	clock := NewVirtualClock(time.Unix(1_000_000, 0))
	da, db := device.NewMemoryPair(device.MemoryConfig{})
	r, err := Start(Options{Device: da, Log: zerolog.Nop(), Clock: clock})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close(); db.Close() })
	p := newLinkPeer(t, db, r.Env.MAC)
	ns := netip.MustParseAddr("2001:db8::53")
	ra := ndp.Repr{Type: ndp.TypeRouterAdvertisement, CurHopLimit: 64,
		Options: ndp.Options{DNSServers: []ndp.RDNSS{{Lifetime: 300, Servers: []netip.Addr{ns}}}}}
	src := netip.MustParseAddr("fe80::1")
	n := ra.Len()
	b := make([]byte, ipv6.HeaderLen+n)
	ra.Emit(b[ipv6.HeaderLen:])
	ndp.SetChecksum(b[ipv6.HeaderLen:], src, ipv6.AllNodes)
	ipv6.Header{NextHeader: ipv6.ProtoICMPv6, HopLimit: 255, Src: src, Dst: ipv6.AllNodes, PayloadLen: n}.Emit(b)
	p.send(ethernet.IPv6, multicastMAC(ipv6.AllNodes), b)
	idle(t, r)
	if got := r.DNSServers6(); len(got) != 1 || got[0] != ns {
		t.Fatalf("DNS servers %v, want [%v]", got, ns)
	}
	clock.Advance(300 * time.Second)
	if got := r.DNSServers6(); len(got) != 0 {
		t.Fatalf("DNS servers after their lifetime: %v", got)
	}
}

// When the address changes, the UDP sockets bound to the old one, or
// connected from it, are closed with ErrUDPAddrRemoved (a blocked read
// returns) and their ports freed; one bound to the unspecified address
// lives on.
func TestAddrChangeClosesUDPSockets(t *testing.T) {
	a, b := startPair(t)
	old := a.Env.IPv4().Addr.Addr()
	peer := netip.AddrPortFrom(b.Env.IPv4().Addr.Addr(), 9)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	open := func(local, remote netip.AddrPort) *UDPSocket {
		t.Helper()
		s, err := a.OpenUDP(ctx, local, remote)
		if err != nil {
			t.Fatalf("open %v → %v: %v", local, remote, err)
		}
		return s
	}
	bound := open(netip.AddrPortFrom(old, 5000), netip.AddrPort{})
	connected := open(netip.AddrPort{}, peer)
	if connected.LocalAddr().Addr() != old {
		t.Fatalf("connected socket is bound to %v, want %v", connected.LocalAddr(), old)
	}
	wild := open(netip.AddrPortFrom(netip.Addr{}, 5001), netip.AddrPort{})
	blocked := make(chan error, 1)
	go func() {
		_, _, err := bound.Receive(make([]byte, 10), nil)
		blocked <- err
	}()

	newAddr := netip.MustParsePrefix("10.0.0.3/24")
	if err := a.SetIPv4(newAddr, netip.Addr{}); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-blocked:
		if !errors.Is(err, ErrUDPAddrRemoved) || !errors.Is(err, syscall.EADDRNOTAVAIL) {
			t.Fatalf("blocked read: %v, want ErrUDPAddrRemoved", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("a read on a socket of the removed address still blocks")
	}
	// The port is free again; the bind is also the barrier behind the
	// udp actor's handling of the removal (same sender, in order).
	rebound := open(netip.AddrPortFrom(newAddr.Addr(), 5000), netip.AddrPort{})
	defer rebound.Close()
	if err := connected.Send([]byte("x"), netip.AddrPort{}); !errors.Is(err, ErrUDPAddrRemoved) {
		t.Errorf("send from the removed address: %v, want ErrUDPAddrRemoved", err)
	}
	if _, _, err := connected.Receive(make([]byte, 10), nil); !errors.Is(err, ErrUDPAddrRemoved) {
		t.Errorf("read on the connected socket: %v, want ErrUDPAddrRemoved", err)
	}
	if err := wild.Send([]byte("x"), peer); err != nil {
		t.Errorf("the wildcard socket was closed: %v", err)
	}
	if got := a.Env.Counters.UDP.AddrRemoved.Load(); got != 2 {
		t.Errorf("sockets closed for the removed address counted %d, want 2", got)
	}
	for _, s := range []*UDPSocket{bound, connected, wild} {
		if err := s.Close(); err != nil {
			t.Errorf("closing %v: %v", s.LocalAddr(), err)
		}
	}
}
