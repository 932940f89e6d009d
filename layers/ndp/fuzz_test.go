package ndp

import (
	"net/netip"
	"reflect"
	"testing"
	"time"

	"github.com/actnet/actnet/layers/ethernet"
)

// FuzzNDPParse feeds arbitrary messages to Parse and Validate. A message
// that parses must re-emit to bytes that parse to the same representation
// (redirected data aside, which Emit pads and trims, and the reserved
// preference, which is read and written as medium).
func FuzzNDPParse(f *testing.F) {
	for _, c := range linuxNDP(f) {
		f.Add(c.msg, c.ip.HopLimit, c.ip.Src.IsUnspecified())
	}
	f.Add([]byte{135, 0, 0, 0, 0, 0, 0, 0, 0xfe, 0x80, 14: 0, 15: 1, 23: 1, 24: 1, 25: 0}, uint8(255), false)
	f.Fuzz(func(t *testing.T, b []byte, hop uint8, unspec bool) {
		src := netip.MustParseAddr("fe80::1")
		if unspec {
			src = netip.IPv6Unspecified()
		}
		ip := IPInfo{Src: src, Dst: SolicitedNode(netip.MustParseAddr("fe80::2")), HopLimit: hop}
		r, err := Parse(b)
		if err != nil {
			return
		}
		_ = Validate(ip, &r)
		m, _ := NewMessage(b)
		m.EachOption(func(Option) bool { return true })
		out := make([]byte, r.Len())
		r.Emit(out)
		r2, err := Parse(out)
		if err != nil {
			t.Fatalf("re-emitted message does not parse: %v\n%x", err, out)
		}
		r.Options.Redirected, r2.Options.Redirected = nil, nil
		r.Options.Ignored, r2.Options.Ignored = 0, 0
		r.PrefReserved = false // emitted as medium
		if !reflect.DeepEqual(r, r2) {
			t.Fatalf("round trip:\n %+v\n %+v", r, r2)
		}
	})
}

// FuzzNDPNeighbors drives a small neighbour cache with arbitrary events and
// checks its caps and that every packet comes back exactly once (sent,
// failed or released) at the end.
func FuzzNDPNeighbors(f *testing.F) {
	f.Add([]byte{0, 1, 2, 3, 4, 5, 6, 0, 0x11, 0x23, 0x35, 0x40})
	f.Fuzz(func(t *testing.T, ops []byte) {
		owned := map[int]bool{}
		n := NewNeighbors(NeighborConfig[int]{MaxEntries: 4, MaxIncomplete: 2, MaxQueuePerAddr: 2,
			Rand:    func() float64 { return 0.3 },
			Release: func(p int) { delete(owned, p) }})
		now := t0
		next := 0
		back := func(ps []int) {
			for _, p := range ps {
				if !owned[p] {
					t.Fatalf("packet %d returned twice", p)
				}
				delete(owned, p)
			}
		}
		for _, op := range ops {
			ip := netip.AddrFrom16([16]byte{0xfe, 0x80, 15: op & 7})
			mac := ethernet.Addr{2, 0, 0, 0, 0, op >> 6}
			switch (op >> 3) & 7 {
			case 0:
				owned[next] = true
				if _, r := n.Output(ip, next, now); r == Send {
					delete(owned, next)
				}
				next++
			case 1:
				back(n.HandleAdvertisement(ip, Advert{Solicited: op&0x40 != 0, Override: op&0x80 != 0, LinkAddr: mac, HasLinkAddr: op&1 == 0}, now).Send)
			case 2:
				back(n.HandleLinkAddr(ip, mac, RouterHint(op>>7), now).Send)
			case 3:
				n.Confirm(ip, now)
			case 4:
				n.Lookup(ip, now)
			case 5:
				now = now.Add(time.Duration(op) * 100 * time.Millisecond)
				back(n.Advance(now).Failed)
			case 6:
				if d, ok := n.NextDeadline(); ok && d.After(now) {
					now = d
				}
				back(n.Advance(now).Failed)
			case 7:
				n.Remove(ip)
			}
			if n.Len() > 4 || n.incomplete > 2 || n.incomplete < 0 {
				t.Fatalf("caps: %d entries, %d incomplete", n.Len(), n.incomplete)
			}
		}
		for i := 0; i < 10 && len(owned) > 0; i++ {
			now = now.Add(time.Minute)
			back(n.Advance(now).Failed)
		}
		if len(owned) > 0 {
			t.Fatalf("packets never returned: %v", owned)
		}
	})
}

// FuzzNDPAddrs drives SLAAC with arbitrary prefix options and DAD events.
func FuzzNDPAddrs(f *testing.F) {
	f.Add([]byte{0, 1, 2, 3, 0x40, 0x81})
	f.Fuzz(func(t *testing.T, ops []byte) {
		tb := NewAddrs(AddrConfig{Kind: IIDKind(len(ops) % 3), MAC: mac2, Secret: []byte("k"), MaxAddrs: 6,
			Rand: func() uint64 { return uint64(len(ops)) * 0x9e3779b97f4a7c15 }})
		now := t0
		tb.AddLinkLocal(now)
		for _, op := range ops {
			p := netip.PrefixFrom(netip.AddrFrom16([16]byte{0x20, 1, 0xd, 0xb8, 7: op & 3}), 64)
			switch op >> 6 {
			case 0:
				tb.HandlePrefix(PrefixInfo{Prefix: p, Autonomous: true, ValidLifetime: uint32(op) * 100, PreferredLifetime: uint32(op&0xf) * 100}, now)
			case 1:
				for _, a := range tb.All() {
					tb.HandleAdvertisement(a.Addr, now)
				}
			case 2:
				now = now.Add(time.Duration(op&0x3f) * time.Minute)
				tb.Advance(now)
			case 3:
				if d, ok := tb.NextDeadline(); ok && !d.Before(now) {
					now = d
				}
				tb.Advance(now)
			}
			if len(tb.All()) > 6 {
				t.Fatal("cap")
			}
			for _, a := range tb.All() {
				if a.State == AddrDuplicate && tb.Usable(a.Addr) {
					t.Fatal("duplicate usable")
				}
			}
		}
	})
}
