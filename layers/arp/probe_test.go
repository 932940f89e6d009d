package arp

import (
	"net/netip"
	"testing"
	"time"

	"github.com/actnet/actnet/layers/ethernet"
)

func TestProberSendsThreeProbesThenFree(t *testing.T) {
	start := time.Unix(1000, 0)
	cand := netip.MustParseAddr("10.0.0.5")
	// rnd returns half its range: the first probe at 0.5 s, the next ones
	// 1.5 s apart.
	p := NewProber(cand, start, func(n int64) int64 { return n / 2 })
	if send, _ := p.Advance(start); send {
		t.Fatal("probe sent before the random PROBE_WAIT delay")
	}
	want := []time.Duration{500 * time.Millisecond, 2 * time.Second, 3500 * time.Millisecond}
	for i, at := range want {
		if got := p.Deadline().Sub(start); got != at {
			t.Fatalf("probe %d due at %v, want %v", i+1, got, at)
		}
		if send, free := p.Advance(start.Add(at)); !send || free {
			t.Fatalf("probe %d: send=%v free=%v", i+1, send, free)
		}
	}
	end := start.Add(3500*time.Millisecond + AnnounceWait)
	if send, free := p.Advance(end.Add(-time.Millisecond)); send || free {
		t.Fatal("probing ended before ANNOUNCE_WAIT")
	}
	if send, free := p.Advance(end); send || !free {
		t.Fatalf("after ANNOUNCE_WAIT: send=%v free=%v, want free", send, free)
	}
	if send, free := p.Advance(end.Add(time.Hour)); send || free {
		t.Fatal("a finished probe reported again")
	}
}

func TestProberConflicts(t *testing.T) {
	own := ethernet.Addr{2, 0, 0, 0, 0, 1}
	other := ethernet.Addr{2, 0, 0, 0, 0, 2}
	cand := netip.MustParseAddr("10.0.0.5")
	now := time.Unix(1000, 0)
	half := func(n int64) int64 { return n / 2 }
	cases := []struct {
		name string
		r    Repr
		want bool
	}{
		{"reply from the holder", Repr{Op: Reply, SenderHW: other, SenderIP: cand, TargetIP: netip.IPv4Unspecified()}, true},
		{"announcement by another host", NewAnnouncement(other, cand), true},
		{"another host's probe", NewProbe(other, cand), true},
		{"our own probe looped back", NewProbe(own, cand), false},
		{"probe for another address", NewProbe(other, netip.MustParseAddr("10.0.0.6")), false},
		{"request from another address", NewRequest(other, netip.MustParseAddr("10.0.0.7"), cand), false},
	}
	for _, c := range cases {
		p := NewProber(cand, now, half)
		if got := p.Conflicts(c.r, own); got != c.want {
			t.Errorf("%s: conflict %v, want %v", c.name, got, c.want)
		}
		if c.want {
			if _, free := p.Advance(now.Add(time.Minute)); free {
				t.Errorf("%s: a probe that saw a conflict ended free", c.name)
			}
		}
	}
}
