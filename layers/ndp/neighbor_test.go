package ndp

import (
	"net/netip"
	"slices"
	"testing"
	"time"

	"github.com/actnet/actnet/layers/ethernet"
)

var t0 = time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)

func at(d time.Duration) time.Time { return t0.Add(d) }

const sec = time.Second

var (
	macA = ethernet.Addr{2, 0, 0, 0, 0, 0xa}
	macB = ethernet.Addr{2, 0, 0, 0, 0, 0xb}
	ipA  = netip.MustParseAddr("fe80::a")
	ipB  = netip.MustParseAddr("fe80::b")
	ipC  = netip.MustParseAddr("fe80::c")
)

// half makes ReachableTime exactly BaseReachableTime (factor 0.5+0.5).
func half() float64 { return 0.5 }

func newNC(cfg NeighborConfig[int]) (*Neighbors[int], *[]int) {
	var released []int
	cfg.Release = func(p int) { released = append(released, p) }
	if cfg.Rand == nil {
		cfg.Rand = half
	}
	return NewNeighbors(cfg), &released
}

func TestNeighborDefaults(t *testing.T) {
	n, _ := newNC(NeighborConfig[int]{})
	cfg := n.Config()
	if cfg.MaxEntries != 1024 || cfg.MaxIncomplete != 256 || cfg.MaxQueuePerAddr != 16 {
		t.Fatalf("defaults %+v", cfg)
	}
	if n.ReachableTime() != 30*sec || n.RetransTimer() != sec {
		t.Fatalf("timers %v %v", n.ReachableTime(), n.RetransTimer())
	}
	for _, f := range []float64{0, 0.999999} {
		m, _ := newNC(NeighborConfig[int]{Rand: func() float64 { return f }})
		if rt := m.ReachableTime(); rt < 15*sec || rt >= 45*sec {
			t.Fatalf("ReachableTime %v outside [15s, 45s)", rt)
		}
	}
	if _, ok := n.NextDeadline(); ok {
		t.Fatal("empty cache has a deadline")
	}
	if State(9).String() != "state(9)" || Probe.String() != "probe" {
		t.Fatal("names")
	}
}

// TestResolution walks INCOMPLETE: three multicast solicitations one
// RetransTimer apart, then failure with the queued packets returned as
// address unreachable.
func TestResolutionFails(t *testing.T) {
	n, rel := newNC(NeighborConfig[int]{MaxQueuePerAddr: 2})
	if _, r := n.Output(ipA, 1, t0); r != Solicit {
		t.Fatalf("first packet: %v", r)
	}
	if _, r := n.Output(ipA, 2, t0); r != Queued {
		t.Fatalf("second packet: %v", r)
	}
	n.Output(ipA, 3, t0) // pushes out 1
	if !slices.Equal(*rel, []int{1}) {
		t.Fatalf("released %v", *rel)
	}
	for i, d := range []time.Duration{1, 2} {
		if dl, _ := n.NextDeadline(); !dl.Equal(at(d * sec)) {
			t.Fatalf("round %d deadline %v", i, dl)
		}
		a := n.Advance(at(d * sec))
		if len(a.Solicit) != 1 || a.Solicit[0].Unicast || a.Solicit[0].Target != ipA {
			t.Fatalf("round %d: %+v", i, a)
		}
	}
	a := n.Advance(at(3 * sec))
	if len(a.Solicit) != 0 || !slices.Equal(a.Failed, []int{2, 3}) ||
		len(a.Unreachable) != 1 || a.Unreachable[0].Addr != ipA {
		t.Fatalf("give up: %+v", a)
	}
	if n.State(ipA, at(3*sec)) != Absent || n.Len() != 0 {
		t.Fatal("entry kept")
	}
}

// TestNUDProbe walks REACHABLE -> STALE -> DELAY -> PROBE -> gone.
func TestNUDProbe(t *testing.T) {
	n, _ := newNC(NeighborConfig[int]{})
	n.Output(ipA, 1, t0)
	u := n.HandleAdvertisement(ipA, Advert{Solicited: true, LinkAddr: macA, HasLinkAddr: true, Router: true}, at(sec/2))
	if !slices.Equal(u.Send, []int{1}) || u.LinkAddr != macA || n.State(ipA, at(sec)) != Reachable {
		t.Fatalf("resolve: %+v %v", u, n.State(ipA, at(sec)))
	}
	if n.State(ipA, at(30*sec+sec/2)) != Stale {
		t.Fatal("not stale after ReachableTime")
	}
	mac, ok := n.Lookup(ipA, at(40*sec))
	if !ok || mac != macA || n.State(ipA, at(40*sec)) != Delay {
		t.Fatal("send to stale did not go to DELAY")
	}
	if dl, _ := n.NextDeadline(); !dl.Equal(at(45 * sec)) {
		t.Fatalf("delay deadline %v", dl)
	}
	a := n.Advance(at(45 * sec))
	if len(a.Solicit) != 1 || !a.Solicit[0].Unicast || a.Solicit[0].LinkAddr != macA || n.State(ipA, at(45*sec)) != Probe {
		t.Fatalf("probe: %+v", a)
	}
	n.Advance(at(46 * sec))
	n.Advance(at(47 * sec))
	a = n.Advance(at(48 * sec))
	if len(a.Unreachable) != 1 || !a.Unreachable[0].IsRouter || n.Len() != 0 {
		t.Fatalf("probe failure: %+v", a)
	}
}

func TestDelayConfirmedByUpperLayer(t *testing.T) {
	n, _ := newNC(NeighborConfig[int]{})
	n.HandleLinkAddr(ipA, macA, RouterUnknown, t0)
	n.Lookup(ipA, at(sec))
	n.Confirm(ipA, at(2*sec))
	if n.State(ipA, at(2*sec)) != Reachable {
		t.Fatal("confirmation did not make REACHABLE")
	}
	if a := n.Advance(at(6 * sec)); len(a.Solicit) != 0 {
		t.Fatalf("probe after confirmation: %+v", a)
	}
	n.Confirm(ipB, t0) // absent: nothing
	if n.State(ipB, t0) != Absent {
		t.Fatal("confirm created an entry")
	}
}

// setup puts ipA into state s with link-layer address macA at t0.
func setup(t *testing.T, n *Neighbors[int], s State) {
	t.Helper()
	switch s {
	case Absent:
	case Incomplete:
		n.Output(ipA, 7, t0)
	case Reachable:
		n.Output(ipA, 7, t0)
		n.HandleAdvertisement(ipA, Advert{Solicited: true, LinkAddr: macA, HasLinkAddr: true}, t0)
	case Stale:
		n.HandleLinkAddr(ipA, macA, RouterUnknown, t0)
	case Delay:
		n.HandleLinkAddr(ipA, macA, RouterUnknown, t0)
		n.Lookup(ipA, t0)
	case Probe:
		n.HandleLinkAddr(ipA, macA, RouterUnknown, t0)
		n.Lookup(ipA, t0)
		n.Advance(t0.Add(DelayFirstProbeTime))
	}
	if got := n.State(ipA, t0.Add(DelayFirstProbeTime)); got != s && !(s == Delay || s == Reachable) {
		t.Fatalf("setup %v: got %v", s, got)
	}
}

// TestAppendixC is RFC 4861 Appendix C, the rows for received messages.
func TestAppendixC(t *testing.T) {
	const (
		same = iota
		diff
		none
	)
	type row struct {
		from      State
		event     string // "NA" or "LL" (NS/RS/RA/Redirect with a link-layer address)
		s, o      bool
		ll        int
		want      State
		wantMAC   ethernet.Addr
		wantQueue bool // queued packets handed back
	}
	var rows []row
	notIncomplete := []State{Reachable, Stale, Delay, Probe}
	rows = append(rows,
		row{from: Incomplete, event: "NA", s: true, ll: diff, want: Reachable, wantMAC: macB, wantQueue: true},
		row{from: Incomplete, event: "NA", s: true, o: true, ll: diff, want: Reachable, wantMAC: macB, wantQueue: true},
		row{from: Incomplete, event: "NA", ll: diff, want: Stale, wantMAC: macB, wantQueue: true},
		row{from: Incomplete, event: "NA", o: true, ll: diff, want: Stale, wantMAC: macB, wantQueue: true},
		row{from: Incomplete, event: "NA", s: true, ll: none, want: Incomplete},
		row{from: Absent, event: "NA", s: true, ll: diff, want: Absent},
		row{from: Absent, event: "LL", ll: diff, want: Stale, wantMAC: macB},
		row{from: Incomplete, event: "LL", ll: diff, want: Stale, wantMAC: macB, wantQueue: true},
	)
	for _, st := range notIncomplete {
		stToStale := st
		if st == Reachable {
			stToStale = Stale
		}
		rows = append(rows,
			// S=1 O=0 different: REACHABLE -> STALE, others unchanged; address kept.
			row{from: st, event: "NA", s: true, ll: diff, want: stToStale, wantMAC: macA},
			// S=1 O=1 different: record, REACHABLE.
			row{from: st, event: "NA", s: true, o: true, ll: diff, want: Reachable, wantMAC: macB},
			// S=1 same or none: REACHABLE.
			row{from: st, event: "NA", s: true, ll: same, want: Reachable, wantMAC: macA},
			row{from: st, event: "NA", s: true, ll: none, want: Reachable, wantMAC: macA},
			row{from: st, event: "NA", s: true, o: true, ll: none, want: Reachable, wantMAC: macA},
			// S=0 O=0 different: REACHABLE -> STALE, others unchanged.
			row{from: st, event: "NA", ll: diff, want: stToStale, wantMAC: macA},
			// S=0 O=1 different: record, STALE.
			row{from: st, event: "NA", o: true, ll: diff, want: Stale, wantMAC: macB},
			// S=0 same or none: unchanged.
			row{from: st, event: "NA", o: true, ll: same, want: st, wantMAC: macA},
			row{from: st, event: "NA", ll: none, want: st, wantMAC: macA},
			// NS/RS/RA/Redirect: same address unchanged, different STALE.
			row{from: st, event: "LL", ll: same, want: st, wantMAC: macA},
			row{from: st, event: "LL", ll: diff, want: Stale, wantMAC: macB},
		)
	}
	for _, r := range rows {
		name := r.from.String() + "/" + r.event
		t.Run(name, func(t *testing.T) {
			n, _ := newNC(NeighborConfig[int]{})
			setup(t, n, r.from)
			now := t0.Add(sec / 2)
			if r.from == Probe {
				now = t0.Add(DelayFirstProbeTime + sec/2)
			}
			mac := map[int]ethernet.Addr{same: macA, diff: macB}[r.ll]
			var u Update[int]
			if r.event == "NA" {
				u = n.HandleAdvertisement(ipA, Advert{Solicited: r.s, Override: r.o, LinkAddr: mac, HasLinkAddr: r.ll != none}, now)
			} else {
				u = n.HandleLinkAddr(ipA, mac, RouterUnknown, now)
			}
			if got := n.State(ipA, now); got != r.want {
				t.Fatalf("%+v: state %v, want %v", r, got, r.want)
			}
			if r.want != Absent && r.want != Incomplete {
				if got, _ := n.Peek(ipA); got != r.wantMAC {
					t.Fatalf("%+v: mac %v, want %v", r, got, r.wantMAC)
				}
			}
			if (len(u.Send) > 0) != r.wantQueue {
				t.Fatalf("%+v: queue handed back %v", r, u.Send)
			}
		})
	}
}

func TestRouterFlag(t *testing.T) {
	n, _ := newNC(NeighborConfig[int]{})
	n.HandleLinkAddr(ipA, macA, RouterYes, t0)
	if !n.IsRouter(ipA) {
		t.Fatal("RA did not set IsRouter")
	}
	u := n.HandleAdvertisement(ipA, Advert{Solicited: true}, at(sec))
	if !u.NoLongerRouter || n.IsRouter(ipA) {
		t.Fatalf("R=0 advert: %+v", u)
	}
	// A router's Stale entry is never garbage-collected.
	n.HandleLinkAddr(ipB, macB, RouterYes, t0)
	n.Advance(at(time.Hour))
	if n.State(ipB, at(time.Hour)) != Stale {
		t.Fatal("router entry collected")
	}
	if n.State(ipA, at(time.Hour)) != Absent {
		t.Fatal("unused stale non-router entry kept")
	}
}

func TestCapacity(t *testing.T) {
	n, rel := newNC(NeighborConfig[int]{MaxEntries: 3, MaxIncomplete: 2})
	n.Output(ipA, 1, t0)
	n.Output(ipB, 2, t0)
	if _, r := n.Output(ipC, 3, t0); r != Refused || !slices.Equal(*rel, []int{3}) {
		t.Fatalf("third incomplete: %v released %v", r, *rel)
	}
	// Unsolicited entries may only evict Stale ones: one slot is free.
	x := netip.MustParseAddr("fe80::1")
	y := netip.MustParseAddr("fe80::2")
	n.HandleLinkAddr(x, macA, RouterUnknown, t0)
	n.HandleLinkAddr(y, macB, RouterUnknown, at(sec))
	if n.State(y, at(sec)) != Stale || n.State(x, at(sec)) != Absent {
		t.Fatal("unsolicited entry did not replace the older stale one")
	}
	n.Lookup(y, at(2*sec)) // DELAY: no longer evictable by unsolicited entries
	n.HandleLinkAddr(x, macA, RouterUnknown, at(3*sec))
	if n.State(x, at(3*sec)) != Absent || n.State(y, at(3*sec)) != Delay {
		t.Fatal("unsolicited entry evicted a DELAY entry")
	}
	// Incomplete entries are never evicted.
	if n.State(ipA, at(3*sec)) != Incomplete || n.State(ipB, at(3*sec)) != Incomplete {
		t.Fatal("incomplete entry evicted")
	}
}

func TestSnapshotAndRemove(t *testing.T) {
	n, rel := newNC(NeighborConfig[int]{})
	n.HandleLinkAddr(ipA, macA, RouterYes, t0)
	n.Output(ipB, 5, t0)
	s := n.Snapshot(t0)
	if len(s) != 1 || s[ipA].LinkAddr != macA || !s[ipA].IsRouter || s[ipA].State != Stale {
		t.Fatalf("snapshot %+v", s)
	}
	n.Remove(ipB)
	if !slices.Equal(*rel, []int{5}) || n.Len() != 1 {
		t.Fatal("remove")
	}
	if _, r := n.Output(ipB, 6, t0); r != Solicit {
		t.Fatal("incomplete count not restored on remove")
	}
}
