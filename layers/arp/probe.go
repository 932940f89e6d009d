package arp

import (
	"net/netip"
	"time"

	"github.com/actnet/actnet/layers/ethernet"
)

// RFC 5227 §1.1 probe timing.
const (
	ProbeWait    = 1 * time.Second // random delay before the first probe
	ProbeNum     = 3               // probes sent
	ProbeMin     = 1 * time.Second // least delay between probes
	ProbeMax     = 2 * time.Second // most delay between probes
	AnnounceWait = 2 * time.Second // quiet time after the last probe
)

// Prober is one RFC 5227 §2.1.1 address probe: ProbeNum probes for a
// candidate address, ProbeMin to ProbeMax apart after a random start
// within ProbeWait, then AnnounceWait of silence. Any ARP packet from
// another host whose sender address is the candidate, or another host's
// probe for it, is a conflict. The caller sends, keeps the time and feeds
// received packets; Prober draws its delays from rnd (a test seeds it).
type Prober struct {
	addr     netip.Addr
	sent     int
	next     time.Time
	done     bool
	conflict bool
	rnd      func(n int64) int64
}

// NewProber starts probing candidate at now. rnd(n) returns a value in
// [0, n).
func NewProber(candidate netip.Addr, now time.Time, rnd func(n int64) int64) *Prober {
	return &Prober{addr: candidate, next: now.Add(time.Duration(rnd(int64(ProbeWait)))), rnd: rnd}
}

// Addr is the candidate address.
func (p *Prober) Addr() netip.Addr { return p.addr }

// Deadline is when Advance has work next.
func (p *Prober) Deadline() time.Time { return p.next }

// Advance reports whether a probe is due at now (send it), and whether
// probing ended without a conflict.
func (p *Prober) Advance(now time.Time) (send, free bool) {
	if p.done || now.Before(p.next) {
		return false, false
	}
	if p.sent == ProbeNum {
		p.done = true
		return false, true
	}
	p.sent++
	if p.sent == ProbeNum {
		p.next = now.Add(AnnounceWait)
	} else {
		p.next = now.Add(ProbeMin + time.Duration(p.rnd(int64(ProbeMax-ProbeMin))))
	}
	return true, false
}

// Conflicts reports whether r, received while probing, shows another host
// using or probing for the candidate (RFC 5227 §2.1.1); own is our MAC, so
// that our own probes looped back are not taken for a conflict. It ends
// the probe when it does.
func (p *Prober) Conflicts(r Repr, own ethernet.Addr) bool {
	if p.done || r.SenderHW == own {
		return false
	}
	if r.SenderIP == p.addr || (r.IsProbe() && r.TargetIP == p.addr) {
		p.done, p.conflict = true, true
		return true
	}
	return false
}
