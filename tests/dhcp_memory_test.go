package tests

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/insomniacslk/dhcp/dhcpv4"

	"github.com/actnet/actnet"
	"github.com/actnet/actnet/actors"
	"github.com/actnet/actnet/device"
	"github.com/actnet/actnet/internal/testhook"
)

// memDHCPServer is a minimal DHCP server on a stack's UDP socket, for the
// memory link: it offers one address and answers by broadcast (the client
// does not answer ARP for the address before it holds it, so a server
// without raw sockets cannot unicast to it).
type memDHCPServer struct {
	conn     *actnet.UDPConn
	self     netip.Addr
	offer    netip.Addr
	dns      netip.Addr
	mu       sync.Mutex
	released []netip.Addr
	requests int
}

func (s *memDHCPServer) serve(t *testing.T) {
	buf := make([]byte, 1500)
	for {
		n, _, err := s.conn.ReadFromUDPAddrPort(buf)
		if err != nil {
			if !errors.Is(err, net.ErrClosed) {
				t.Errorf("server read: %v", err)
			}
			return
		}
		req, err := dhcpv4.FromBytes(buf[:n])
		if err != nil {
			t.Errorf("server got a malformed message: %v", err)
			continue
		}
		var typ dhcpv4.MessageType
		switch req.MessageType() {
		case dhcpv4.MessageTypeDiscover:
			typ = dhcpv4.MessageTypeOffer
		case dhcpv4.MessageTypeRequest:
			typ = dhcpv4.MessageTypeAck
			s.mu.Lock()
			s.requests++
			s.mu.Unlock()
		case dhcpv4.MessageTypeRelease:
			ci, _ := netip.AddrFromSlice(req.ClientIPAddr.To4())
			s.mu.Lock()
			s.released = append(s.released, ci)
			s.mu.Unlock()
			continue
		default:
			continue
		}
		resp, err := dhcpv4.NewReplyFromRequest(req,
			dhcpv4.WithMessageType(typ),
			dhcpv4.WithYourIP(s.offer.AsSlice()),
			dhcpv4.WithServerIP(s.self.AsSlice()),
			dhcpv4.WithOption(dhcpv4.OptServerIdentifier(s.self.AsSlice())),
			dhcpv4.WithNetmask(net.CIDRMask(24, 32)),
			dhcpv4.WithRouter(s.self.AsSlice()),
			dhcpv4.WithDNS(s.dns.AsSlice()),
			dhcpv4.WithLeaseTime(3600))
		if err != nil {
			t.Error(err)
			return
		}
		if _, err := s.conn.WriteToUDPAddrPort(resp.ToBytes(), netip.MustParseAddrPort("255.255.255.255:68")); err != nil {
			t.Errorf("server write: %v", err)
		}
	}
}

// advanceUntil moves a virtual clock on in steps of 250 ms, letting the
// stacks settle between them, until cond holds; it fails the test after
// 20 s of real time. The DHCP client reads its socket in a goroutine of
// its own, which no idle check sees, so the clock may run ahead of it:
// callers assert what happened, never how much virtual time it took
// beyond what the protocol guarantees.
func advanceUntil(t *testing.T, clock *actors.VirtualClock, what string, cond func() bool, parts ...any) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("no %s within 20 s (virtual time moved to %v)", what, clock.Now())
		}
		waitIdle(t, append(parts, clock)...)
		clock.Advance(250 * time.Millisecond)
		time.Sleep(time.Millisecond) // let the client's reader run
	}
}

// dhcpMemoryPair starts, on a memory link and clock, a stack b at
// 10.5.0.1/24 with a memDHCPServer on its port 67 and a DHCP client stack
// a (IPv4 only); they are closed, a first, when the test ends.
func dhcpMemoryPair(t *testing.T, clock *actors.VirtualClock) (a, b *actnet.Stack, srv *memDHCPServer) {
	t.Helper()
	da, db := device.NewMemoryPair(device.MemoryConfig{})
	serverAddr := netip.MustParsePrefix("10.5.0.1/24")
	b, err := actnet.New(actnet.Config{Device: db, IPv4: serverAddr, Logger: testLogger(t), Clock: clock})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	conn, err := b.ListenUDP(netip.MustParseAddrPort("0.0.0.0:67"))
	if err != nil {
		t.Fatal(err)
	}
	conn.SetBroadcast(true)
	srv = &memDHCPServer{conn: conn, self: serverAddr.Addr(), offer: netip.MustParseAddr("10.5.0.50"), dns: netip.MustParseAddr("10.5.0.53")}
	go srv.serve(t)
	t.Cleanup(func() { conn.Close() })
	a, err = actnet.New(actnet.Config{Device: da, IPv4DHCP: true, Logger: testLogger(t), Clock: clock,
		IPv6: actnet.IPv6Config{Mode: actnet.IPv6Off}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close() })
	return a, b, srv
}

// A stack with Config.IPv4DHCP gets its address, gateway and DNS server
// from a DHCP server on the link (after probing the address with ARP),
// answers ping there, and releases the lease when it closes.
func TestDHCPMemory(t *testing.T) {
	clock := actors.NewVirtualClock(time.Unix(1_000_000, 0))
	a, b, srv := dhcpMemoryPair(t, clock)
	serverAddr := netip.PrefixFrom(srv.self, 24)
	if a.Addr().IsValid() {
		t.Fatalf("a DHCP stack started with address %v", a.Addr())
	}
	advanceUntil(t, clock, "lease", func() bool { return a.Addr().IsValid() }, a, b, testhook.DHCP(a))
	if got := a.Addr(); got != srv.offer {
		t.Fatalf("leased %v, want %v", got, srv.offer)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if addr, err := a.WaitIPv4(ctx); err != nil || addr != srv.offer {
		t.Fatalf("WaitIPv4: %v, %v", addr, err)
	}
	l, ok := a.DHCPLease()
	if !ok || l.Router != serverAddr.Addr() || l.Addr.Bits() != 24 || l.Duration != time.Hour {
		t.Fatalf("lease %+v", l)
	}
	if dns := a.DNSServers(); len(dns) != 1 || dns[0] != srv.dns {
		t.Fatalf("DNS servers %v, want [%v]", dns, srv.dns)
	}
	// The address is set before its first announcement goes out (a
	// message to the arp actor): wait for it rather than race it.
	eventually(t, 10*time.Second, "the first ARP announcement", func() bool { return a.Stats().ARP.AnnouncementsSent > 0 })
	if st := a.Stats(); st.ARP.ProbesSent != 3 || st.ARP.AnnouncementsSent == 0 {
		t.Fatalf("ARP probes %d, announcements %d: want 3 probes, then announcements", st.ARP.ProbesSent, st.ARP.AnnouncementsSent)
	}
	if _, err := b.Ping(ctx, srv.offer, 16); err != nil {
		t.Fatalf("ping of the leased address: %v", err)
	}
	// T1 comes after half an hour of virtual time: the renewal is
	// unicast to the server, which acknowledges it.
	srv.mu.Lock()
	before := srv.requests
	srv.mu.Unlock()
	waitIdle(t, a, b, clock, testhook.DHCP(a))
	clock.Advance(30 * time.Minute)
	advanceUntil(t, clock, "renewal", func() bool {
		srv.mu.Lock()
		defer srv.mu.Unlock()
		return srv.requests > before
	}, a, b, testhook.DHCP(a))
	eventually(t, 5*time.Second, "the renewal's ACK", func() bool {
		l2, ok := a.DHCPLease()
		return ok && l2.Start.After(l.Start)
	})
	a.Close()
	eventually(t, 5*time.Second, "DHCPRELEASE", func() bool {
		srv.mu.Lock()
		defer srv.mu.Unlock()
		return len(srv.released) == 1 && srv.released[0] == srv.offer
	})
}

// With no server on the link, the fallback address is taken after 10 s.
func TestDHCPFallbackMemory(t *testing.T) {
	clock := actors.NewVirtualClock(time.Unix(1_000_000, 0))
	da, db := device.NewMemoryPair(device.MemoryConfig{})
	b, err := actnet.New(actnet.Config{Device: db, IPv4: netip.MustParsePrefix("10.6.0.1/24"), Logger: testLogger(t), Clock: clock})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	fb := netip.MustParsePrefix("10.6.0.77/24")
	a, err := actnet.New(actnet.Config{Device: da, IPv4DHCP: true, IPv4Fallback: fb, Logger: testLogger(t), Clock: clock,
		IPv6: actnet.IPv6Config{Mode: actnet.IPv6Off}})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	advanceUntil(t, clock, "fallback", func() bool { return a.Addr().IsValid() }, a, b, testhook.DHCP(a))
	if got := a.Addr(); got != fb.Addr() {
		t.Fatalf("address %v, want the fallback %v", got, fb.Addr())
	}
	if now := clock.Now(); now.Before(time.Unix(1_000_010, 0)) {
		t.Fatalf("fell back after %v, before 10 s", now.Sub(time.Unix(1_000_000, 0)))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := b.Ping(ctx, fb.Addr(), 16); err != nil {
		t.Fatalf("ping of the fallback address: %v", err)
	}
	if _, ok := a.DHCPLease(); ok {
		t.Fatal("a lease without a server")
	}
}

// Config checks: DHCP with a static address, a fallback without DHCP.
func TestDHCPConfigErrors(t *testing.T) {
	for _, cfg := range []actnet.Config{
		{IPv4DHCP: true, IPv4: netip.MustParsePrefix("10.0.0.1/24")},
		{IPv4Fallback: netip.MustParsePrefix("10.0.0.1/24"), IPv4: netip.MustParsePrefix("10.0.0.2/24")},
		{},
	} {
		da, db := device.NewMemoryPair(device.MemoryConfig{})
		cfg.Device = da
		cfg.Logger = testLogger(t)
		if s, err := actnet.New(cfg); err == nil {
			s.Close()
			t.Errorf("New accepted %+v", cfg)
		}
		db.Close()
	}
}

// A lease that runs out with no server left to renew it takes the address
// away (RFC 2131 §4.4.5), and with it the UDP sockets bound to it: a read
// blocked on one returns EADDRNOTAVAIL and its port is free again, while a
// socket bound to the unspecified address goes on.
func TestDHCPLeaseLostClosesUDPSockets(t *testing.T) {
	clock := actors.NewVirtualClock(time.Unix(1_000_000, 0))
	a, b, srv := dhcpMemoryPair(t, clock)
	advanceUntil(t, clock, "lease", func() bool { return a.Addr().IsValid() }, a, b, testhook.DHCP(a))
	leased := netip.AddrPortFrom(a.Addr(), 5353)
	bound, err := a.ListenUDP(leased)
	if err != nil {
		t.Fatal(err)
	}
	defer bound.Close()
	wild, err := a.ListenUDP(netip.MustParseAddrPort("0.0.0.0:5354"))
	if err != nil {
		t.Fatal(err)
	}
	defer wild.Close()
	blocked := make(chan error, 1)
	go func() {
		_, _, err := bound.ReadFromUDPAddrPort(make([]byte, 10))
		blocked <- err
	}()

	srv.conn.Close() // no server answers the renewals any more
	// Straight to the lease's end (an hour): the client's timers fire in
	// order, its renewals unanswered.
	waitIdle(t, a, b, clock, testhook.DHCP(a))
	clock.Advance(time.Hour)
	advanceUntil(t, clock, "the lease's end", func() bool { return !a.Addr().IsValid() }, a, b, testhook.DHCP(a))
	select {
	case err := <-blocked:
		if !errors.Is(err, syscall.EADDRNOTAVAIL) {
			t.Fatalf("read blocked on %v: %v, want EADDRNOTAVAIL", leased, err)
		}
	case <-time.After(10 * time.Second):
		t.Fatalf("a read on %v still blocks after the address went", leased)
	}
	if _, err := bound.WriteToUDPAddrPort([]byte("x"), netip.MustParseAddrPort("10.5.0.1:9")); !errors.Is(err, syscall.EADDRNOTAVAIL) {
		t.Errorf("send from the lost address: %v, want EADDRNOTAVAIL", err)
	}
	if got := a.Stats().UDP.AddrRemoved; got != 1 {
		t.Errorf("sockets closed with the address counted %d, want 1", got)
	}
	// The wildcard socket still works: it takes (and sends) broadcasts.
	wild.SetBroadcast(true)
	if _, err := wild.WriteToUDPAddrPort([]byte("x"), netip.MustParseAddrPort("255.255.255.255:9")); err != nil {
		t.Errorf("the wildcard socket: %v", err)
	}
}
