package ndp

import (
	"errors"
	"net/netip"
	"testing"
	"time"
)

var (
	r1 = netip.MustParseAddr("fe80::1")
	r2 = netip.MustParseAddr("fe80::2")
	r3 = netip.MustParseAddr("fe80::3")
	gw = netip.MustParseAddr("2001:db8:9::1")
)

func ra(lifetime uint16, pref Preference, opts Options) *Repr {
	return &Repr{Type: TypeRouterAdvertisement, RouterLifetime: lifetime, Preference: pref, Options: opts}
}

func states(m map[netip.Addr]State) Reachability {
	return func(a netip.Addr) State { return m[a] }
}

func TestDefaultRouterSelection(t *testing.T) {
	rt := NewRouting(RoutingConfig{})
	rt.HandleRouterAdvert(r1, ra(1800, PrefLow, Options{}), t0)
	rt.HandleRouterAdvert(r2, ra(1800, PrefMedium, Options{}), t0)
	rt.HandleRouterAdvert(r3, ra(600, PrefHigh, Options{}), t0)
	cases := []struct {
		name string
		st   map[netip.Addr]State
		want netip.Addr
	}{
		{"none known: highest preference", nil, r3},
		{"reachable beats preference", map[netip.Addr]State{r1: Stale}, r1},
		{"among reachable, preference", map[netip.Addr]State{r1: Reachable, r2: Delay}, r2},
		{"incomplete is not reachable", map[netip.Addr]State{r3: Incomplete, r1: Probe}, r1},
	}
	for _, c := range cases {
		if got, err := rt.NextHop(gw, states(c.st), t0); err != nil || got != c.want {
			t.Errorf("%s: %v %v, want %v", c.name, got, err, c.want)
		}
	}
	// NUD failure of the selected router rotates to the next of equal rank.
	rt2 := NewRouting(RoutingConfig{})
	rt2.HandleRouterAdvert(r1, ra(1800, PrefMedium, Options{}), t0)
	rt2.HandleRouterAdvert(r2, ra(1800, PrefMedium, Options{}), t0)
	if got, _ := rt2.NextHop(gw, states(nil), t0); got != r1 {
		t.Fatal(got)
	}
	rt2.RouterUnreachable(r1)
	if got, _ := rt2.NextHop(gw, states(nil), t0); got != r2 {
		t.Fatalf("after r1 failed: %v", got)
	}
	// Sticky: r2 stays selected when r1 comes back equal.
	if got, _ := rt2.NextHop(gw, states(map[netip.Addr]State{r1: Stale, r2: Stale}), t0); got != r2 {
		t.Fatalf("not sticky: %v", got)
	}
	// Expiry and lifetime 0.
	if got, _ := rt.NextHop(gw, states(nil), at(601*sec)); got != r2 {
		t.Fatalf("expired router selected: %v", got)
	}
	if dl, _ := rt.NextDeadline(); !dl.Equal(at(600 * sec)) {
		t.Fatalf("deadline %v", dl)
	}
	rt.Advance(at(601 * sec))
	rt.HandleRouterAdvert(r2, ra(0, PrefMedium, Options{}), at(602*sec))
	if got, _ := rt.NextHop(gw, states(nil), at(602*sec)); got != r1 || len(rt.Routers()) != 1 {
		t.Fatalf("after withdrawal: %v %+v", got, rt.Routers())
	}
	rt.RemoveRouter(r1)
	if _, err := rt.NextHop(gw, states(nil), at(602*sec)); !errors.Is(err, ErrNoRoute) {
		t.Fatalf("no router: %v", err)
	}
}

func TestOnLinkAndRoutes(t *testing.T) {
	rt := NewRouting(RoutingConfig{})
	rt.HandleRouterAdvert(r1, ra(1800, PrefMedium, Options{
		Prefixes: []PrefixInfo{pi("2001:db8:1::/64", 3600, 1800)},
		Routes:   []RouteInfo{{Prefix: netip.MustParsePrefix("2001:db8:99::/48"), Preference: PrefMedium, Lifetime: 60}},
	}), t0)
	rt.HandleRouterAdvert(r2, ra(0, PrefMedium, Options{
		Routes: []RouteInfo{{Prefix: netip.MustParsePrefix("2001:db8:99:1::/64"), Preference: PrefLow, Lifetime: 60}},
	}), t0)
	st := states(nil)
	for dst, want := range map[string]string{
		"2001:db8:1::77":   "2001:db8:1::77", // on-link
		"fe80::99":         "fe80::99",       // link-local
		"ff02::1":          "ff02::1",
		"2001:db8:99::5":   "fe80::1", // route info via r1
		"2001:db8:99:1::5": "fe80::2", // longer route via r2, no default lifetime needed
		"2001:db8:7::1":    "fe80::1", // default
	} {
		got, err := rt.NextHop(netip.MustParseAddr(dst), st, t0)
		if err != nil || got != netip.MustParseAddr(want) {
			t.Errorf("%s: %v %v, want %s", dst, got, err, want)
		}
	}
	if !rt.OnLink(netip.MustParseAddr("2001:db8:1::77"), t0) || rt.OnLink(gw, t0) {
		t.Fatal("OnLink")
	}
	// Prefix valid lifetime 0 removes it (L flag, RFC 4861 §6.3.4).
	rt.HandleRouterAdvert(r1, ra(1800, PrefMedium, Options{Prefixes: []PrefixInfo{pi("2001:db8:1::/64", 0, 0)}}), at(sec))
	if rt.OnLink(netip.MustParseAddr("2001:db8:1::77"), at(sec)) {
		t.Fatal("prefix kept")
	}
	// Routes expire.
	rt.Advance(at(61 * sec))
	if len(rt.Routes()) != 0 {
		t.Fatalf("routes %+v", rt.Routes())
	}
	// MTU option: within [1280, link MTU] only.
	for _, c := range []struct{ mtu, want uint32 }{{1400, 1400}, {9000, 1400}, {1000, 1400}, {1280, 1280}} {
		rt.HandleRouterAdvert(r1, ra(1800, PrefMedium, Options{MTU: c.mtu, HasMTU: true}), at(sec))
		if rt.LinkMTU() != int(c.want) {
			t.Fatalf("MTU option %d: link MTU %d", c.mtu, rt.LinkMTU())
		}
	}
}

func TestRedirect(t *testing.T) {
	rt := NewRouting(RoutingConfig{})
	rt.HandleRouterAdvert(r1, ra(1800, PrefMedium, Options{}), t0)
	rt.HandleRouterAdvert(r2, ra(1800, PrefLow, Options{}), t0)
	st := states(nil)
	rd := &Repr{Type: TypeRedirect, Target: r3, Destination: gw}
	// From a router that is not the first hop for gw: refused.
	if err := rt.HandleRedirect(r2, rd, st, t0); !errors.Is(err, ErrRedirectNotFromRouter) {
		t.Fatalf("redirect from r2: %v", err)
	}
	if err := rt.HandleRedirect(r1, rd, st, t0); err != nil {
		t.Fatal(err)
	}
	if got, _ := rt.NextHop(gw, st, t0); got != r3 {
		t.Fatalf("redirected next hop %v", got)
	}
	// Now r3 is the first hop; r1 can no longer redirect gw.
	if err := rt.HandleRedirect(r1, &Repr{Type: TypeRedirect, Target: gw, Destination: gw}, st, t0); err == nil {
		t.Fatal("redirect from the former first hop accepted")
	}
	// On-link redirect from the current first hop.
	if err := rt.HandleRedirect(r3, &Repr{Type: TypeRedirect, Target: gw, Destination: gw}, st, t0); err != nil {
		t.Fatal(err)
	}
	if !rt.OnLink(gw, t0) {
		t.Fatal("on-link redirect")
	}
	// Removing the router that redirected forgets its redirects.
	rt.RemoveRouter(r3)
	if got, _ := rt.NextHop(gw, st, t0); got != r1 {
		t.Fatalf("after removal: %v", got)
	}
	// Bounded.
	small := NewRouting(RoutingConfig{MaxDestinations: 2})
	small.HandleRouterAdvert(r1, ra(1800, PrefMedium, Options{}), t0)
	for i := range 5 {
		d := netip.AddrFrom16([16]byte{0x20, 1, 0xd, 0xb8, 15: byte(i)})
		if err := small.HandleRedirect(r1, &Repr{Type: TypeRedirect, Target: r2, Destination: d}, st, at(time.Duration(i)*sec)); err != nil {
			t.Fatal(err)
		}
	}
	if len(small.redirects) != 2 {
		t.Fatalf("%d redirects", len(small.redirects))
	}
}

func TestPathMTU(t *testing.T) {
	rt := NewRouting(RoutingConfig{})
	if rt.PathMTU(gw, t0) != 1500 {
		t.Fatal("default")
	}
	if m, ch := rt.PacketTooBig(gw, 1400, t0); m != 1400 || !ch {
		t.Fatal(m, ch)
	}
	if m, ch := rt.PacketTooBig(gw, 1450, t0); m != 1400 || ch {
		t.Fatal("raised", m)
	}
	if m, _ := rt.PacketTooBig(gw, 500, t0); m != 1280 {
		t.Fatal("below 1280:", m)
	}
	if rt.PathMTU(gw, at(9*time.Minute)) != 1280 || rt.PathMTU(gw, at(10*time.Minute)) != 1500 {
		t.Fatal("aging")
	}
}

func TestRouterListCap(t *testing.T) {
	rt := NewRouting(RoutingConfig{MaxRouters: 2})
	rt.HandleRouterAdvert(r1, ra(1800, PrefLow, Options{}), t0)
	rt.HandleRouterAdvert(r2, ra(1800, PrefMedium, Options{}), t0)
	rt.HandleRouterAdvert(r3, ra(1800, PrefMedium, Options{}), t0)
	if len(rt.Routers()) != 2 || rt.Routers()[1].Addr != r3 {
		t.Fatalf("%+v", rt.Routers())
	}
	rt.HandleRouterAdvert(r1, ra(1800, PrefLow, Options{}), t0)
	if len(rt.Routers()) != 2 {
		t.Fatal("low-preference router displaced an equal one")
	}
}
