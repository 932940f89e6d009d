package ndp

import (
	"net/netip"
	"testing"
	"time"
)

func TestDNSServersLifetimes(t *testing.T) {
	now := time.Unix(1000, 0)
	a, b := netip.MustParseAddr("2001:db8::53"), netip.MustParseAddr("2001:db8::54")
	var d DNSServers
	if !d.Update([]RDNSS{{Lifetime: 60, Servers: []netip.Addr{a}}, {Lifetime: Infinity, Servers: []netip.Addr{b}}}, now) {
		t.Fatal("new servers reported no change")
	}
	if got := Live(d.Snapshot(), now.Add(59*time.Second)); len(got) != 2 || got[0] != a || got[1] != b {
		t.Fatalf("live at 59 s: %v", got)
	}
	if got := Live(d.Snapshot(), now.Add(60*time.Second)); len(got) != 1 || got[0] != b {
		t.Fatalf("live at 60 s: %v, want only the infinite one", got)
	}
	// A refresh extends the lifetime; a zero lifetime withdraws.
	d.Update([]RDNSS{{Lifetime: 600, Servers: []netip.Addr{a}}}, now.Add(30*time.Second))
	if got := Live(d.Snapshot(), now.Add(300*time.Second)); len(got) != 2 {
		t.Fatalf("after a refresh: %v", got)
	}
	d.Update([]RDNSS{{Lifetime: 0, Servers: []netip.Addr{b}}}, now)
	if got := Live(d.Snapshot(), now); len(got) != 1 || got[0] != a {
		t.Fatalf("after withdrawal: %v", got)
	}
	// The table is capped.
	for i := range 2 * MaxDNSServers {
		d.Update([]RDNSS{{Lifetime: 100, Servers: []netip.Addr{netip.AddrFrom16([16]byte{0x20, 1, 15: byte(i)})}}}, now)
	}
	if n := len(d.Snapshot()); n != MaxDNSServers {
		t.Fatalf("%d servers kept, want the cap %d", n, MaxDNSServers)
	}
}
