package ndp

import (
	"encoding/binary"
	"errors"
	"net/netip"
	"os"
	"reflect"
	"testing"
)

type captured struct {
	ip  IPInfo
	msg []byte
}

// linuxNDP returns the NDP messages of testdata/linux-ndp.pcap (Ethernet,
// IPv6 without extension headers, ICMPv6 types 133-137).
func linuxNDP(tb testing.TB) []captured {
	tb.Helper()
	b, err := os.ReadFile("testdata/linux-ndp.pcap")
	if err != nil {
		tb.Fatal(err)
	}
	var out []captured
	for b = b[24:]; len(b) >= 16; {
		n := int(binary.LittleEndian.Uint32(b[8:12]))
		f := b[16 : 16+n]
		b = b[16+n:]
		if len(f) < 14+40 || f[12] != 0x86 || f[13] != 0xdd || f[14+6] != 58 {
			continue
		}
		ip := f[14:]
		plen := int(binary.BigEndian.Uint16(ip[4:6]))
		msg := ip[40 : 40+plen]
		if msg[0] < 133 || msg[0] > 137 {
			continue
		}
		out = append(out, captured{
			ip:  IPInfo{Src: netip.AddrFrom16([16]byte(ip[8:24])), Dst: netip.AddrFrom16([16]byte(ip[24:40])), HopLimit: ip[7]},
			msg: msg,
		})
	}
	return out
}

func TestLinuxCapture(t *testing.T) {
	msgs := linuxNDP(t)
	seen := map[Type]int{}
	for i, c := range msgs {
		r, err := ParseValid(c.ip, c.msg)
		if err != nil {
			t.Fatalf("message %d (%v): %v", i, Type(c.msg[0]), err)
		}
		if got := Checksum(c.msg, c.ip.Src, c.ip.Dst); got != Message(c.msg).Checksum() {
			t.Fatalf("message %d: checksum %#x, want %#x", i, got, Message(c.msg).Checksum())
		}
		seen[r.Type]++
		// Emit gives back the same bytes, checksum included.
		out := make([]byte, r.Len())
		r.Emit(out)
		SetChecksum(out, c.ip.Src, c.ip.Dst)
		if string(out) != string(c.msg) {
			t.Fatalf("message %d (%v) re-emitted differently:\n got %x\nwant %x", i, r.Type, out, c.msg)
		}
		switch r.Type {
		case TypeRouterAdvertisement:
			if r.RouterLifetime == 1800 {
				want := Repr{Type: TypeRouterAdvertisement, CurHopLimit: 64, Managed: true, Other: true,
					Preference: PrefHigh, RouterLifetime: 1800, ReachableTime: 30000, RetransTimer: 1000,
					Options: Options{
						SourceLinkAddr: macLinux1, HasSourceLinkAddr: true, MTU: 1400, HasMTU: true,
						Prefixes:   []PrefixInfo{{Prefix: netip.MustParsePrefix("2001:db8:1::/64"), OnLink: true, Autonomous: true, ValidLifetime: 86400, PreferredLifetime: 14400}},
						Routes:     []RouteInfo{{Prefix: netip.MustParsePrefix("2001:db8:99::/48"), Preference: PrefLow, Lifetime: 3600}},
						DNSServers: []RDNSS{{Lifetime: 600, Servers: []netip.Addr{netip.MustParseAddr("2001:db8:1::53")}}},
					}}
				if !reflect.DeepEqual(r, want) {
					t.Fatalf("RA:\n got %+v\nwant %+v", r, want)
				}
			} else if r.RouterLifetime != 0 || r.Preference != PrefLow {
				t.Fatalf("withdrawal RA %+v", r)
			}
		case TypeRedirect:
			if r.Target != netip.MustParseAddr("fe80::1234") || r.Destination != netip.MustParseAddr("2001:db8:2::1") ||
				!r.Options.HasTargetLinkAddr || len(r.Options.Redirected) != 48 {
				t.Fatalf("redirect %+v", r)
			}
		case TypeNeighborAdvertisement:
			// Answers to resolution carry the target address with O set;
			// answers to unicast NUD probes (24 bytes) carry neither.
			if !r.Solicited || r.Override != r.Options.HasTargetLinkAddr || r.Router {
				t.Fatalf("NA flags %+v", r)
			}
		}
	}
	for _, ty := range []Type{133, 134, 135, 136, 137} {
		if seen[ty] == 0 {
			t.Fatalf("no %v in the capture", ty)
		}
	}
}

var macLinux1 = [6]byte{2, 0, 0, 0, 0, 1}

func mustEmit(r Repr) []byte {
	b := make([]byte, r.Len())
	r.Emit(b)
	return b
}

func TestStructureErrors(t *testing.T) {
	ns := mustEmit(Repr{Type: TypeNeighborSolicitation, Target: ipA,
		Options: Options{SourceLinkAddr: macA, HasSourceLinkAddr: true}})
	cases := []struct {
		name string
		b    []byte
		want error
	}{
		{"empty", nil, ErrTruncated},
		{"echo", []byte{128, 0, 0, 0, 0, 0, 0, 0}, ErrType},
		{"short NS", ns[:23], ErrTruncated},
		{"zero length option", append(append([]byte{}, ns[:24]...), 1, 0, 0, 0, 0, 0, 0, 0), ErrOptionLength},
		{"option past end", append(append([]byte{}, ns[:24]...), 1, 2, 0, 0, 0, 0, 0, 0), ErrOptionTruncated},
		{"lone option byte", append(append([]byte{}, ns[:24]...), 1), ErrOptionTruncated},
		{"long LLA", append(append([]byte{}, ns[:24]...), append([]byte{1, 2}, make([]byte, 14)...)...), ErrLinkAddrLength},
		{"short PI", append(make([]byte, 16, 24), 3, 1, 64, 0, 0, 0, 0, 0), ErrPrefixInfoLength},
		{"long MTU", append(make([]byte, 16, 32), append([]byte{5, 2}, make([]byte, 14)...)...), ErrMTULength},
	}
	cases[7].b[0], cases[8].b[0] = 134, 134
	for _, c := range cases {
		if _, err := Parse(c.b); !errors.Is(err, c.want) {
			t.Errorf("%s: %v, want %v", c.name, err, c.want)
		}
	}
}

func TestIgnoredOptions(t *testing.T) {
	ra := make([]byte, 16)
	ra[0] = 134
	ra[5] = 0x10 // Prf 10, reserved
	ra = append(ra,
		24, 1, 64, 0, 0, 0, 0, 1, // route /64 in one unit: inconsistent
		24, 2, 48, 0x10, 0, 0, 0, 1, 0x20, 1, 0xd, 0xb8, 0, 0, 0, 0, // reserved preference
		25, 2, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, // RDNSS of even length
		200, 1, 0, 0, 0, 0, 0, 0, // unknown
		4, 1, 0, 0, 0, 0, 0, 0, // redirected header outside a redirect
	)
	r, err := Parse(ra)
	if err != nil {
		t.Fatal(err)
	}
	if r.Options.Ignored != 4 || len(r.Options.Routes) != 0 || r.Preference != PrefMedium || !r.PrefReserved {
		t.Fatalf("%+v", r)
	}
}

func TestValidate(t *testing.T) {
	ll := netip.MustParseAddr("fe80::1")
	global := netip.MustParseAddr("2001:db8::1")
	un := netip.IPv6Unspecified()
	sn := SolicitedNode(ipA)
	cases := []struct {
		name string
		ip   IPInfo
		r    Repr
		want error
	}{
		{"NS ok", IPInfo{ll, sn, 255}, Repr{Type: TypeNeighborSolicitation, Target: ipA}, nil},
		{"hop limit 64", IPInfo{ll, sn, 64}, Repr{Type: TypeNeighborSolicitation, Target: ipA}, ErrHopLimit},
		{"code 1", IPInfo{ll, sn, 255}, Repr{Type: TypeNeighborSolicitation, Code: 1, Target: ipA}, ErrCode},
		{"NS multicast target", IPInfo{ll, sn, 255}, Repr{Type: TypeNeighborSolicitation, Target: AllNodes}, ErrTargetMulticast},
		{"DAD to unicast", IPInfo{un, ipA, 255}, Repr{Type: TypeNeighborSolicitation, Target: ipA}, ErrDADDestination},
		{"DAD with SLLA", IPInfo{un, sn, 255}, Repr{Type: TypeNeighborSolicitation, Target: ipA, Options: Options{HasSourceLinkAddr: true}}, ErrSourceLinkAddrFromDAD},
		{"DAD ok", IPInfo{un, sn, 255}, Repr{Type: TypeNeighborSolicitation, Target: ipA}, nil},
		{"NA S to multicast", IPInfo{ll, AllNodes, 255}, Repr{Type: TypeNeighborAdvertisement, Target: ipA, Solicited: true}, ErrSolicitedMulticast},
		{"NA unsolicited multicast", IPInfo{ll, AllNodes, 255}, Repr{Type: TypeNeighborAdvertisement, Target: ipA, Override: true}, nil},
		{"NA multicast target", IPInfo{ll, ll, 255}, Repr{Type: TypeNeighborAdvertisement, Target: AllRouters}, ErrTargetMulticast},
		{"RA global source", IPInfo{global, AllNodes, 255}, Repr{Type: TypeRouterAdvertisement}, ErrSourceNotLinkLocal},
		{"RA ok", IPInfo{ll, AllNodes, 255}, Repr{Type: TypeRouterAdvertisement}, nil},
		{"RS unspecified with SLLA", IPInfo{un, AllRouters, 255}, Repr{Type: TypeRouterSolicitation, Options: Options{HasSourceLinkAddr: true}}, ErrSourceLinkAddrFromDAD},
		{"redirect global source", IPInfo{global, ll, 255}, Repr{Type: TypeRedirect, Target: ll, Destination: global}, ErrSourceNotLinkLocal},
		{"redirect multicast dst", IPInfo{ll, ll, 255}, Repr{Type: TypeRedirect, Target: ll, Destination: AllNodes}, ErrRedirectDestination},
		{"redirect global target", IPInfo{ll, ll, 255}, Repr{Type: TypeRedirect, Target: global, Destination: netip.MustParseAddr("2001:db8::2")}, ErrRedirectTarget},
		{"redirect on-link", IPInfo{ll, ll, 255}, Repr{Type: TypeRedirect, Target: global, Destination: global}, nil},
	}
	for _, c := range cases {
		if err := Validate(c.ip, &c.r); !errors.Is(err, c.want) {
			t.Errorf("%s: %v, want %v", c.name, err, c.want)
		}
	}
}

func TestEmitTrimsRedirected(t *testing.T) {
	r := Repr{Type: TypeRedirect, Target: ipA, Destination: ipB,
		Options: Options{TargetLinkAddr: macA, HasTargetLinkAddr: true, Redirected: make([]byte, 2000)}}
	b := mustEmit(r)
	if len(b) > MaxRedirectLen || len(b)%8 != 0 {
		t.Fatalf("redirect of %d bytes", len(b))
	}
	if _, err := Parse(b); err != nil {
		t.Fatal(err)
	}
}

func TestRouteInfoLengths(t *testing.T) {
	for _, p := range []string{"::/0", "2001:db8::/32", "2001:db8:1:2::/64", "2001:db8:1:2:3::/80"} {
		r := Repr{Type: TypeRouterAdvertisement, Options: Options{Routes: []RouteInfo{{Prefix: netip.MustParsePrefix(p), Preference: PrefLow, Lifetime: Infinity}}}}
		got, err := Parse(mustEmit(r))
		if err != nil || !reflect.DeepEqual(got.Options.Routes, r.Options.Routes) {
			t.Fatalf("%s: %v %+v", p, err, got.Options.Routes)
		}
	}
}
