package dhcp

import (
	"math/rand/v2"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/insomniacslk/dhcp/dhcpv4"
)

var (
	t0       = time.Unix(1_000_000, 0)
	mac      = net.HardwareAddr{2, 0, 0, 0, 0, 9}
	serverA  = netip.MustParseAddr("10.7.0.1")
	serverB  = netip.MustParseAddr("10.7.0.2")
	offered  = netip.MustParseAddr("10.7.0.50")
	dnsA     = netip.MustParseAddr("10.7.0.53")
	bcast    = netip.AddrPortFrom(broadcastAddr, ServerPort)
	fallback = netip.MustParsePrefix("169.254.7.7/16")
)

func newMachine(seed uint64, fb netip.Prefix) *Machine {
	return New(Config{MAC: mac, Fallback: fb, Rand: rand.New(rand.NewPCG(seed, seed))})
}

// reply builds a server's answer of type t to req.
func reply(t *testing.T, req *dhcpv4.DHCPv4, typ dhcpv4.MessageType, server netip.Addr, mods ...dhcpv4.Modifier) *dhcpv4.DHCPv4 {
	t.Helper()
	all := []dhcpv4.Modifier{
		dhcpv4.WithReply(req),
		dhcpv4.WithMessageType(typ),
		dhcpv4.WithOption(dhcpv4.OptServerIdentifier(server.AsSlice())),
	}
	if typ != dhcpv4.MessageTypeNak {
		all = append(all,
			dhcpv4.WithYourIP(offered.AsSlice()),
			dhcpv4.WithNetmask(net.CIDRMask(24, 32)),
			dhcpv4.WithRouter(serverA.AsSlice()),
			dhcpv4.WithDNS(dnsA.AsSlice()),
			dhcpv4.WithLeaseTime(3600))
	}
	m, err := dhcpv4.New(append(all, mods...)...)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// oneSend returns the single Send in actions, failing otherwise.
func oneSend(t *testing.T, actions []Action, typ dhcpv4.MessageType, to netip.AddrPort) *dhcpv4.DHCPv4 {
	t.Helper()
	var sends []Send
	for _, a := range actions {
		if s, ok := a.(Send); ok {
			sends = append(sends, s)
		}
	}
	if len(sends) != 1 {
		t.Fatalf("actions %v: want one Send", actions)
	}
	s := sends[0]
	if s.Msg.MessageType() != typ || s.To != to {
		t.Fatalf("sent %v to %v, want %v to %v", s.Msg.MessageType(), s.To, typ, to)
	}
	// What leaves must parse back (the wire form is the library's).
	if _, err := dhcpv4.FromBytes(s.Msg.ToBytes()); err != nil {
		t.Fatalf("sent message does not parse: %v", err)
	}
	return s.Msg
}

func find[T Action](actions []Action) (T, bool) {
	for _, a := range actions {
		if v, ok := a.(T); ok {
			return v, true
		}
	}
	var zero T
	return zero, false
}

// bound runs a machine through DISCOVER, OFFER, REQUEST, ACK and a free
// probe, and returns it BOUND at t0 with the ACK's lease.
func bound(t *testing.T, mods ...dhcpv4.Modifier) (*Machine, Lease) {
	t.Helper()
	m := newMachine(1, netip.Prefix{})
	disc := oneSend(t, m.Start(t0), dhcpv4.MessageTypeDiscover, bcast)
	req := oneSend(t, m.Receive(t0, reply(t, disc, dhcpv4.MessageTypeOffer, serverA)), dhcpv4.MessageTypeRequest, bcast)
	p, ok := find[Probe](m.Receive(t0, reply(t, req, dhcpv4.MessageTypeAck, serverA, mods...)))
	if !ok || p.Addr != offered || m.State() != Probing {
		t.Fatalf("after the ACK: state %v, probe %v", m.State(), p)
	}
	c, ok := find[Configure](m.ProbeDone(t0, offered, false))
	if !ok || c.Renewed || m.State() != Bound {
		t.Fatalf("after a free probe: state %v, configure %v", m.State(), c)
	}
	return m, c.Lease
}

// Retransmissions follow RFC 2131 §4.1: 4 s, then doubling up to 64 s,
// each ±1 s, with the same transaction ID; a seeded machine repeats its
// timing exactly.
func TestDiscoverBackoff(t *testing.T) {
	run := func(seed uint64) []time.Duration {
		m := newMachine(seed, netip.Prefix{})
		first := oneSend(t, m.Start(t0), dhcpv4.MessageTypeDiscover, bcast)
		if m.State() != Selecting {
			t.Fatalf("state %v after Start", m.State())
		}
		var gaps []time.Duration
		now := t0
		for i, base := range []time.Duration{4, 8, 16, 32, 64, 64, 64} {
			d := m.Deadline()
			gap := d.Sub(now)
			if lo, hi := base*time.Second-time.Second, base*time.Second+time.Second; gap < lo || gap > hi {
				t.Fatalf("retransmission %d after %v, want %v ±1 s", i+1, gap, base*time.Second)
			}
			if acts := m.Tick(d.Add(-time.Nanosecond)); len(acts) != 0 {
				t.Fatalf("retransmitted early: %v", acts)
			}
			again := oneSend(t, m.Tick(d), dhcpv4.MessageTypeDiscover, bcast)
			if again.TransactionID != first.TransactionID {
				t.Fatal("a retransmission changed the transaction ID")
			}
			if want := uint16(d.Sub(t0) / time.Second); again.NumSeconds != want {
				t.Errorf("secs %d, want %d", again.NumSeconds, want)
			}
			gaps = append(gaps, gap)
			now = d
		}
		if got := m.Stats().Discovers; got != 8 {
			t.Fatalf("discovers counted %d, want 8", got)
		}
		return gaps
	}
	a, b, c := run(7), run(7), run(8)
	for i := range a {
		if a[i] != b[i] {
			t.Fatal("the same seed gave different timing")
		}
	}
	same := true
	for i := range a {
		same = same && a[i] == c[i]
	}
	if same {
		t.Fatal("another seed gave the same jitter")
	}
}

// The full exchange: DISCOVER, OFFER, REQUEST naming the offer and the
// server, ACK, ARP probe, BOUND with every field of the lease.
func TestExchangeBinds(t *testing.T) {
	m := newMachine(1, netip.Prefix{})
	disc := oneSend(t, m.Start(t0), dhcpv4.MessageTypeDiscover, bcast)
	if !disc.IsOptionRequested(dhcpv4.OptionDomainNameServer) || !disc.IsOptionRequested(dhcpv4.OptionRouter) {
		t.Error("DISCOVER does not ask for DNS servers and router")
	}
	if disc.IsBroadcast() {
		t.Error("broadcast flag set with no fallback address in use")
	}
	at := t0.Add(2 * time.Second)
	req := oneSend(t, m.Receive(at, reply(t, disc, dhcpv4.MessageTypeOffer, serverA)), dhcpv4.MessageTypeRequest, bcast)
	if m.State() != Requesting {
		t.Fatalf("state %v after an offer", m.State())
	}
	if ip, _ := ipv4Of(req.RequestedIPAddress()); ip != offered {
		t.Errorf("REQUEST asks for %v, want %v", ip, offered)
	}
	if id, _ := ipv4Of(req.ServerIdentifier()); id != serverA {
		t.Errorf("REQUEST names server %v, want %v", id, serverA)
	}
	if req.TransactionID != disc.TransactionID {
		t.Error("REQUEST does not keep the DISCOVER's transaction ID (§4.4.1)")
	}
	ackAt := at.Add(time.Second)
	acts := m.Receive(ackAt, reply(t, req, dhcpv4.MessageTypeAck, serverA))
	if p, ok := find[Probe](acts); !ok || p.Addr != offered {
		t.Fatalf("ACK led to %v, want a probe of %v", acts, offered)
	}
	if len(m.ProbeDone(ackAt, netip.MustParseAddr("10.7.0.99"), false)) != 0 || m.State() != Probing {
		t.Fatal("a probe result for another address was taken")
	}
	c, ok := find[Configure](m.ProbeDone(ackAt.Add(5*time.Second), offered, false))
	if !ok {
		t.Fatal("a free probe did not bind")
	}
	l := c.Lease
	want := Lease{Addr: netip.PrefixFrom(offered, 24), Router: serverA, DNS: []netip.Addr{dnsA}, Server: serverA,
		Duration: time.Hour, T1: 30 * time.Minute, T2: 52*time.Minute + 30*time.Second, Start: at}
	if l.Addr != want.Addr || l.Router != want.Router || len(l.DNS) != 1 || l.DNS[0] != dnsA || l.Server != want.Server ||
		l.Duration != want.Duration || l.T1 != want.T1 || l.T2 != want.T2 || !l.Start.Equal(want.Start) {
		t.Fatalf("lease %+v, want %+v", l, want)
	}
	if m.State() != Bound || !m.Deadline().Equal(at.Add(30*time.Minute)) {
		t.Fatalf("state %v, next %v; want BOUND until T1 (counted from the REQUEST)", m.State(), m.Deadline())
	}
	if st := m.Stats(); st.Offers != 1 || st.Acks != 1 {
		t.Fatalf("stats %+v", st)
	}
}

// At T1 the client renews with its server by unicast (§4.4.5), and an ACK
// extends the lease from the renewal.
func TestRenewAtT1(t *testing.T) {
	m, l := bound(t, dhcpv4.WithOption(dhcpv4.OptRenewTimeValue(100*time.Second)),
		dhcpv4.WithOption(dhcpv4.OptRebindingTimeValue(200*time.Second)))
	if l.T1 != 100*time.Second || l.T2 != 200*time.Second {
		t.Fatalf("T1 %v, T2 %v: the server's options were not taken", l.T1, l.T2)
	}
	t1 := t0.Add(100 * time.Second)
	if acts := m.Tick(t1.Add(-time.Nanosecond)); len(acts) != 0 {
		t.Fatalf("renewed before T1: %v", acts)
	}
	req := oneSend(t, m.Tick(t1), dhcpv4.MessageTypeRequest, netip.AddrPortFrom(serverA, ServerPort))
	if m.State() != Renewing {
		t.Fatalf("state %v at T1", m.State())
	}
	if ci, _ := ipv4Of(req.ClientIPAddr); ci != offered {
		t.Errorf("renewal ciaddr %v, want %v", ci, offered)
	}
	if req.RequestedIPAddress() != nil || req.ServerIdentifier() != nil {
		t.Error("a renewal must not carry requested IP or server identifier (§4.3.2)")
	}
	// Retransmission: half the time to T2, but at least 60 s (§4.4.5).
	if got := m.Deadline().Sub(t1); got != 60*time.Second {
		t.Errorf("renewal retransmits after %v, want 60 s", got)
	}
	at := t1.Add(time.Second)
	c, ok := find[Configure](m.Receive(at, reply(t, req, dhcpv4.MessageTypeAck, serverA)))
	if !ok || !c.Renewed || !c.Lease.Start.Equal(t1) || m.State() != Bound {
		t.Fatalf("renewal ACK: %+v, state %v", c, m.State())
	}
	if !m.Deadline().Equal(t1.Add(30 * time.Minute)) {
		t.Errorf("next T1 %v, want from the renewal's send", m.Deadline())
	}
	if st := m.Stats(); st.Renewals != 1 {
		t.Fatalf("renewals %d", st.Renewals)
	}
}

// With no answer to the renewal, at T2 the client rebinds by broadcast and
// takes an ACK from any server; with no answer at all, the lease ends at
// its expiry: the address goes and configuration starts over.
func TestRebindAndExpiry(t *testing.T) {
	for _, answer := range []bool{true, false} {
		m, l := bound(t)
		now := t0
		var rebind *dhcpv4.DHCPv4
		for m.State() != Rebinding {
			now = m.Deadline()
			if now.After(l.Start.Add(l.T2)) {
				t.Fatalf("still %v after T2", m.State())
			}
			acts := m.Tick(now)
			if m.State() == Rebinding {
				rebind = oneSend(t, acts, dhcpv4.MessageTypeRequest, bcast)
			} else {
				oneSend(t, acts, dhcpv4.MessageTypeRequest, netip.AddrPortFrom(serverA, ServerPort))
			}
		}
		if !now.Equal(l.Start.Add(l.T2)) {
			t.Fatalf("rebinding at %v, want T2 %v", now.Sub(t0), l.T2)
		}
		if answer {
			c, ok := find[Configure](m.Receive(now, reply(t, rebind, dhcpv4.MessageTypeAck, serverB)))
			if !ok || c.Lease.Server != serverB || m.State() != Bound || m.Stats().Rebinds != 1 {
				t.Fatalf("rebind ACK from another server: %+v, state %v", c, m.State())
			}
			continue
		}
		exp := l.Expiry()
		for m.State() == Rebinding {
			now = m.Deadline()
			if now.After(exp) {
				t.Fatalf("rebinding past the lease's end")
			}
			acts := m.Tick(now)
			if m.State() == Rebinding {
				oneSend(t, acts, dhcpv4.MessageTypeRequest, bcast)
				continue
			}
			if !now.Equal(exp) {
				t.Fatalf("lease dropped at %v, want at its end %v", now.Sub(t0), l.Duration)
			}
			if _, ok := find[Unconfigure](acts); !ok {
				t.Fatal("expiry did not drop the address")
			}
			oneSend(t, acts, dhcpv4.MessageTypeDiscover, bcast)
		}
		if _, has := m.Lease(); has || m.State() != Selecting || m.Stats().Expiries != 1 {
			t.Fatalf("after expiry: state %v, expiries %d", m.State(), m.Stats().Expiries)
		}
	}
}

// An address the ARP probe finds in use is declined (§4.4.1) and the
// client starts over no sooner than 10 s later (§3.1 step 5).
func TestDeclineAddressInUse(t *testing.T) {
	m := newMachine(1, netip.Prefix{})
	disc := oneSend(t, m.Start(t0), dhcpv4.MessageTypeDiscover, bcast)
	req := oneSend(t, m.Receive(t0, reply(t, disc, dhcpv4.MessageTypeOffer, serverA)), dhcpv4.MessageTypeRequest, bcast)
	m.Receive(t0, reply(t, req, dhcpv4.MessageTypeAck, serverA))
	acts := m.ProbeDone(t0.Add(3*time.Second), offered, true)
	dec := oneSend(t, acts, dhcpv4.MessageTypeDecline, bcast)
	if _, ok := find[Configure](acts); ok {
		t.Fatal("an address in use was configured")
	}
	if ip, _ := ipv4Of(dec.RequestedIPAddress()); ip != offered {
		t.Errorf("DECLINE names %v, want %v", ip, offered)
	}
	if id, _ := ipv4Of(dec.ServerIdentifier()); id != serverA {
		t.Errorf("DECLINE names server %v", id)
	}
	if m.State() != Init || m.Stats().Declines != 1 {
		t.Fatalf("state %v, declines %d", m.State(), m.Stats().Declines)
	}
	restart := t0.Add(13 * time.Second)
	if !m.Deadline().Equal(restart) {
		t.Fatalf("restart at %v, want 10 s after the decline", m.Deadline().Sub(t0))
	}
	if acts := m.Tick(restart.Add(-time.Nanosecond)); len(acts) != 0 {
		t.Fatal("restarted within 10 s of the decline")
	}
	again := oneSend(t, m.Tick(restart), dhcpv4.MessageTypeDiscover, bcast)
	if again.TransactionID == disc.TransactionID {
		t.Error("a new attempt reused the transaction ID")
	}
}

// A NAK sends the client back to INIT: in REQUESTING with nothing to
// drop, in RENEWING dropping the address.
func TestNak(t *testing.T) {
	m := newMachine(1, netip.Prefix{})
	disc := oneSend(t, m.Start(t0), dhcpv4.MessageTypeDiscover, bcast)
	req := oneSend(t, m.Receive(t0, reply(t, disc, dhcpv4.MessageTypeOffer, serverA)), dhcpv4.MessageTypeRequest, bcast)
	// A NAK from another server than the one chosen is not for us.
	if acts := m.Receive(t0, reply(t, req, dhcpv4.MessageTypeNak, serverB)); len(acts) != 0 || m.State() != Requesting {
		t.Fatalf("another server's NAK: %v, state %v", acts, m.State())
	}
	acts := m.Receive(t0, reply(t, req, dhcpv4.MessageTypeNak, serverA))
	oneSend(t, acts, dhcpv4.MessageTypeDiscover, bcast)
	if _, ok := find[Unconfigure](acts); ok || m.State() != Selecting {
		t.Fatalf("NAK in REQUESTING: %v, state %v", acts, m.State())
	}

	m, l := bound(t)
	renew := oneSend(t, m.Tick(l.Start.Add(l.T1)), dhcpv4.MessageTypeRequest, netip.AddrPortFrom(serverA, ServerPort))
	acts = m.Receive(l.Start.Add(l.T1), reply(t, renew, dhcpv4.MessageTypeNak, serverA))
	if _, ok := find[Unconfigure](acts); !ok {
		t.Fatal("NAK in RENEWING kept the address")
	}
	oneSend(t, acts, dhcpv4.MessageTypeDiscover, bcast)
	if _, has := m.Lease(); has || m.Stats().Naks != 1 {
		t.Fatal("the lease outlived the NAK")
	}
}

// A REQUEST that no server answers is given up after its retransmissions
// (§4.4.1): back to DISCOVER.
func TestRequestUnanswered(t *testing.T) {
	m := newMachine(3, netip.Prefix{})
	disc := oneSend(t, m.Start(t0), dhcpv4.MessageTypeDiscover, bcast)
	oneSend(t, m.Receive(t0, reply(t, disc, dhcpv4.MessageTypeOffer, serverA)), dhcpv4.MessageTypeRequest, bcast)
	for i := range maxRequestRetransmits {
		oneSend(t, m.Tick(m.Deadline()), dhcpv4.MessageTypeRequest, bcast)
		if m.State() != Requesting {
			t.Fatalf("retransmission %d left REQUESTING", i+1)
		}
	}
	oneSend(t, m.Tick(m.Deadline()), dhcpv4.MessageTypeDiscover, bcast)
	if m.State() != Selecting {
		t.Fatalf("state %v", m.State())
	}
}

// Replies that are not for this client, or not expected now, change
// nothing and are counted.
func TestIgnoredReplies(t *testing.T) {
	m := newMachine(1, netip.Prefix{})
	disc := oneSend(t, m.Start(t0), dhcpv4.MessageTypeDiscover, bcast)
	wrongXID := reply(t, disc, dhcpv4.MessageTypeOffer, serverA, dhcpv4.WithTransactionID(dhcpv4.TransactionID{1, 2, 3, 4}))
	wrongMAC := reply(t, disc, dhcpv4.MessageTypeOffer, serverA, dhcpv4.WithHwAddr(net.HardwareAddr{2, 0, 0, 0, 0, 8}))
	request := reply(t, disc, dhcpv4.MessageTypeOffer, serverA)
	request.OpCode = dhcpv4.OpcodeBootRequest
	for _, msg := range []*dhcpv4.DHCPv4{wrongXID, wrongMAC, request} {
		if acts := m.Receive(t0, msg); len(acts) != 0 {
			t.Fatalf("not ours, yet: %v", acts)
		}
	}
	if acts := m.Receive(t0, reply(t, disc, dhcpv4.MessageTypeAck, serverA)); len(acts) != 0 {
		t.Fatal("an ACK in SELECTING was taken")
	}
	noID := reply(t, disc, dhcpv4.MessageTypeOffer, serverA, dhcpv4.WithoutOption(dhcpv4.OptionServerIdentifier))
	if acts := m.Receive(t0, noID); len(acts) != 0 {
		t.Fatal("an offer without a server identifier was taken")
	}
	st := m.Stats()
	if st.NotOurs != 3 || st.Unexpected != 1 || st.BadLease != 1 || m.State() != Selecting {
		t.Fatalf("stats %+v, state %v", st, m.State())
	}
	req := oneSend(t, m.Receive(t0, reply(t, disc, dhcpv4.MessageTypeOffer, serverA)), dhcpv4.MessageTypeRequest, bcast)
	noLease := reply(t, req, dhcpv4.MessageTypeAck, serverA, dhcpv4.WithoutOption(dhcpv4.OptionIPAddressLeaseTime))
	if acts := m.Receive(t0, noLease); len(acts) != 0 || m.Stats().BadLease != 2 {
		t.Fatal("an ACK without a lease time was taken")
	}
}

// With no server, the fallback address is taken after FallbackAfter; the
// client keeps discovering (with the broadcast flag, since the stack now
// drops unicasts to other addresses) and a lease replaces the fallback.
func TestFallback(t *testing.T) {
	m := newMachine(1, fallback)
	oneSend(t, m.Start(t0), dhcpv4.MessageTypeDiscover, bcast)
	var fb UseFallback
	var now time.Time
	for {
		now = m.Deadline()
		acts := m.Tick(now)
		if f, ok := find[UseFallback](acts); ok {
			fb = f
			break
		}
		oneSend(t, acts, dhcpv4.MessageTypeDiscover, bcast)
	}
	if fb.Addr != fallback || !now.Equal(t0.Add(DefaultFallbackAfter)) {
		t.Fatalf("fallback %v at %v, want %v after %v", fb.Addr, now.Sub(t0), fallback, DefaultFallbackAfter)
	}
	disc := oneSend(t, m.Tick(m.Deadline()), dhcpv4.MessageTypeDiscover, bcast)
	if !disc.IsBroadcast() {
		t.Error("DISCOVER from a fallback address without the broadcast flag")
	}
	req := oneSend(t, m.Receive(now, reply(t, disc, dhcpv4.MessageTypeOffer, serverA)), dhcpv4.MessageTypeRequest, bcast)
	m.Receive(now, reply(t, req, dhcpv4.MessageTypeAck, serverA))
	if _, ok := find[Configure](m.ProbeDone(now, offered, false)); !ok {
		t.Fatal("a lease did not replace the fallback")
	}
	if m.Stats().Fallbacks != 1 {
		t.Fatalf("fallbacks %d", m.Stats().Fallbacks)
	}
	// A bound client never falls back, however long it runs.
	mb, _ := bound(t)
	for range 10 {
		if _, ok := find[UseFallback](mb.Tick(mb.Deadline())); ok {
			t.Fatal("a bound client fell back")
		}
	}
}

// Release sends DHCPRELEASE to the server, drops the address and stops.
func TestRelease(t *testing.T) {
	m, _ := bound(t)
	acts := m.Release(t0.Add(time.Minute))
	rel := oneSend(t, acts, dhcpv4.MessageTypeRelease, netip.AddrPortFrom(serverA, ServerPort))
	if ci, _ := ipv4Of(rel.ClientIPAddr); ci != offered {
		t.Errorf("RELEASE ciaddr %v", ci)
	}
	if _, ok := find[Unconfigure](acts); !ok {
		t.Fatal("release kept the address")
	}
	if m.State() != Stopped || !m.Deadline().IsZero() {
		t.Fatalf("state %v, deadline %v", m.State(), m.Deadline())
	}
	// Unbound, release sends nothing.
	if acts := newMachine(1, netip.Prefix{}).Release(t0); len(acts) != 0 {
		t.Fatalf("release without a lease: %v", acts)
	}
}

// An infinite lease is never renewed.
func TestInfiniteLease(t *testing.T) {
	m, l := bound(t, dhcpv4.WithLeaseTime(0xffffffff))
	if l.Duration != Infinite || !l.Expiry().IsZero() || !m.Deadline().IsZero() {
		t.Fatalf("lease %v, deadline %v", l.Duration, m.Deadline())
	}
}

func rand1() *rand.Rand { return rand.New(rand.NewPCG(1, 1)) }
