package ndp

import (
	"net/netip"
	"slices"
	"testing"
	"time"

	"github.com/actnet/actnet/layers/ethernet"
)

var mac2 = ethernet.Addr{2, 0, 0, 0, 0, 2}

func TestEUI64AndSolicitedNode(t *testing.T) {
	if id := EUI64(mac2); id != (IID{0, 0, 0, 0xff, 0xfe, 0, 0, 2}) {
		t.Fatalf("EUI64 %x", id)
	}
	p := netip.MustParsePrefix("2001:db8:1::/64")
	if a := AddrFrom(p, EUI64(mac2)); a != netip.MustParseAddr("2001:db8:1::ff:fe00:2") {
		t.Fatalf("address %v", a)
	}
	if a := LinkLocal(EUI64(mac2)); a != netip.MustParseAddr("fe80::ff:fe00:2") {
		t.Fatalf("link-local %v", a)
	}
	a := netip.MustParseAddr("2001:db8:1::12:3456")
	if sn := SolicitedNode(a); sn != netip.MustParseAddr("ff02::1:ff12:3456") || !IsSolicitedNode(sn) {
		t.Fatalf("solicited-node %v", sn)
	}
	if IsSolicitedNode(AllNodes) || IsSolicitedNode(a) {
		t.Fatal("IsSolicitedNode too loose")
	}
	if m := SolicitedNodeMAC(a); m != (ethernet.Addr{0x33, 0x33, 0xff, 0x12, 0x34, 0x56}) {
		t.Fatalf("MAC %v", m)
	}
}

func TestStableAndRandomIID(t *testing.T) {
	p1 := netip.MustParsePrefix("2001:db8:1::/64")
	p2 := netip.MustParsePrefix("2001:db8:2::/64")
	key := []byte("secret")
	a := StableIID(key, p1, []byte("eth0"), nil, 0)
	if a != StableIID(key, p1, []byte("eth0"), nil, 0) {
		t.Fatal("not stable")
	}
	for _, b := range []IID{
		StableIID(key, p2, []byte("eth0"), nil, 0),
		StableIID(key, p1, []byte("eth1"), nil, 0),
		StableIID(key, p1, []byte("eth0"), []byte("ssid"), 0),
		StableIID(key, p1, []byte("eth0"), nil, 1),
		StableIID([]byte("other"), p1, []byte("eth0"), nil, 0),
	} {
		if a == b {
			t.Fatal("an input does not change the identifier")
		}
	}
	if id := RandomIID(func() uint64 { return ^uint64(0) }); id[0]&2 != 0 {
		t.Fatal("random identifier has the U/L bit set")
	}
	for _, r := range []IID{{}, {2, 0, 0x5e, 0xff, 0xfe, 0, 0x52, 0x13}, {0xfd, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x80}} {
		if !IsReserved(r) {
			t.Fatalf("%x not reserved", r)
		}
	}
	if IsReserved(EUI64(mac2)) {
		t.Fatal("EUI-64 reserved")
	}
}

func pi(prefix string, valid, preferred uint32) PrefixInfo {
	return PrefixInfo{Prefix: netip.MustParsePrefix(prefix), OnLink: true, Autonomous: true, ValidLifetime: valid, PreferredLifetime: preferred}
}

// TestSLAAC is the acceptance address: 2001:db8:1::ff:fe00:2 from
// 02:00:00:00:00:02, tentative for one RetransTimer after its DAD
// solicitation, then preferred, deprecated and removed on its lifetimes.
func TestSLAAC(t *testing.T) {
	tb := NewAddrs(AddrConfig{MAC: mac2})
	ll, ok := tb.AddLinkLocal(t0)
	if !ok || ll != netip.MustParseAddr("fe80::ff:fe00:2") {
		t.Fatal(ll)
	}
	a, ok := tb.HandlePrefix(pi("2001:db8:1::/64", 3*3600, 1800), t0)
	if !ok || a != netip.MustParseAddr("2001:db8:1::ff:fe00:2") || tb.Usable(a) {
		t.Fatalf("formed %v %v", a, ok)
	}
	act := tb.Advance(t0)
	if !slices.Equal(act.DAD, []netip.Addr{ll, a}) || len(act.Ready) != 0 {
		t.Fatalf("DAD: %+v", act)
	}
	if dl, _ := tb.NextDeadline(); !dl.Equal(at(sec)) {
		t.Fatalf("deadline %v", dl)
	}
	act = tb.Advance(at(sec))
	if !slices.Equal(act.Ready, []netip.Addr{ll, a}) || !tb.Usable(a) || !slices.Equal(tb.Preferred(), []netip.Addr{ll, a}) {
		t.Fatalf("ready: %+v", act)
	}
	act = tb.Advance(at(1800 * sec))
	if !slices.Equal(act.Deprecated, []netip.Addr{a}) || !tb.Usable(a) {
		t.Fatalf("deprecated: %+v", act)
	}
	act = tb.Advance(at(3 * time.Hour))
	if !slices.Equal(act.Removed, []netip.Addr{a}) || tb.Usable(a) {
		t.Fatalf("removed: %+v", act)
	}
	// Ignored prefixes (RFC 4862 §5.5.3 a-c and a /48).
	for _, p := range []PrefixInfo{
		{Prefix: netip.MustParsePrefix("2001:db8:5::/64"), ValidLifetime: 100},
		pi("fe80::/64", 100, 100),
		pi("2001:db8:6::/64", 100, 200),
		pi("2001:db8:7::/48", 100, 100),
		pi("2001:db8:8::/64", 0, 0),
	} {
		if _, ok := tb.HandlePrefix(p, at(4*time.Hour)); ok {
			t.Fatalf("%+v formed an address", p)
		}
	}
}

// TestTwoHourRule is RFC 4862 §5.5.3 (e).
func TestTwoHourRule(t *testing.T) {
	p := "2001:db8:1::/64"
	cases := []struct {
		name             string
		stored, received uint32
		after            time.Duration // when the update arrives
		wantRemaining    time.Duration
	}{
		{"longer than two hours", 600, 3 * 3600, 0, 3 * time.Hour},
		{"longer than remaining", 3 * 3600, 4 * 3600, time.Hour, 4 * time.Hour},
		{"remaining under two hours: ignored", 3600, 60, 0, time.Hour},
		{"shortening to zero: two hours", 10 * 3600, 0, 0, 2 * time.Hour},
		{"shortening below two hours: two hours", 10 * 3600, 600, 0, 2 * time.Hour},
		{"infinite kept over a short one: two hours", Infinity, 60, 0, 2 * time.Hour},
	}
	for _, c := range cases {
		tb := NewAddrs(AddrConfig{MAC: mac2})
		a, _ := tb.HandlePrefix(pi(p, c.stored, 0), t0)
		now := t0.Add(c.after)
		tb.HandlePrefix(pi(p, c.received, 0), now)
		got, _ := tb.Lookup(a)
		if rem := got.ValidUntil.Sub(now); rem != c.wantRemaining {
			t.Errorf("%s: remaining %v, want %v", c.name, rem, c.wantRemaining)
		}
	}
}

func TestDAD(t *testing.T) {
	tb := NewAddrs(AddrConfig{MAC: mac2})
	a, _ := tb.HandlePrefix(pi("2001:db8:1::/64", 3600, 3600), t0)
	tb.Advance(t0)
	// Someone resolving our tentative address: ignored, still tentative.
	if r := tb.HandleSolicitation(a, false, at(sec/2)); r != Ignore {
		t.Fatalf("resolution of a tentative address: %v", r)
	}
	// Another node's DAD for it: duplicate, never used (EUI-64: no retry).
	if r := tb.HandleSolicitation(a, true, at(sec/2)); r != Duplicate {
		t.Fatalf("DAD from another node: %v", r)
	}
	act := tb.Advance(at(2 * sec))
	if len(act.Ready) != 0 || tb.Usable(a) || len(tb.All()) != 1 {
		t.Fatalf("duplicate used: %+v %+v", act, tb.All())
	}
	// The same prefix again does not bring it back.
	if _, ok := tb.HandlePrefix(pi("2001:db8:1::/64", 3600, 3600), at(3*sec)); ok {
		t.Fatal("duplicate re-formed")
	}
	// An advertisement for a tentative address: duplicate.
	tb2 := NewAddrs(AddrConfig{MAC: mac2})
	ll, _ := tb2.AddLinkLocal(t0)
	if tb2.HandleAdvertisement(ll, t0) != Duplicate || tb2.HandleAdvertisement(ipA, t0) != NotOurs {
		t.Fatal("advertisement")
	}
	// A preferred address answers solicitations.
	tb3 := NewAddrs(AddrConfig{MAC: mac2, DupAddrDetectTransmits: -1})
	ll3, _ := tb3.AddLinkLocal(t0)
	tb3.Advance(t0)
	if !tb3.Usable(ll3) || tb3.HandleSolicitation(ll3, false, t0) != Ours {
		t.Fatal("DAD off")
	}
}

// TestStableRetry: RFC 7217 §6 regenerates with the next DAD counter.
func TestStableRetry(t *testing.T) {
	tb := NewAddrs(AddrConfig{Kind: IIDStable, Secret: []byte("k"), NetIface: []byte("tap0")})
	p := netip.MustParsePrefix("2001:db8:1::/64")
	a, _ := tb.HandlePrefix(pi(p.String(), 3600, 3600), t0)
	if a != AddrFrom(p, StableIID([]byte("k"), p, []byte("tap0"), nil, 0)) {
		t.Fatal("stable address")
	}
	tb.Advance(t0)
	tb.HandleAdvertisement(a, at(sec/2))
	act := tb.Advance(at(sec / 2))
	want := AddrFrom(p, StableIID([]byte("k"), p, []byte("tap0"), nil, 1))
	if !slices.Equal(act.DAD, []netip.Addr{want}) {
		t.Fatalf("retry: %+v", act)
	}
	for i := 0; i < 5; i++ {
		for _, x := range tb.All() {
			if x.State == AddrTentative {
				tb.HandleAdvertisement(x.Addr, at(sec))
			}
		}
	}
	if n := len(tb.All()); n != 1+IDGenRetries {
		t.Fatalf("%d addresses after repeated conflicts, want %d", n, 1+IDGenRetries)
	}
}

func TestAddrCap(t *testing.T) {
	tb := NewAddrs(AddrConfig{MAC: mac2, MaxAddrs: 2})
	tb.AddLinkLocal(t0)
	tb.AddStatic(netip.MustParsePrefix("2001:db8::5/64"), t0)
	if _, ok := tb.HandlePrefix(pi("2001:db8:1::/64", 3600, 3600), t0); ok {
		t.Fatal("cap exceeded")
	}
}
