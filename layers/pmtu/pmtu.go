// Package pmtu keeps path MTU estimates per destination (RFC 1191 for IPv4,
// RFC 8201 for IPv6): a bounded table that "packet too big" reports lower,
// that forgets each estimate after a while so a path that grew is found
// again, and the plateau guess RFC 1191 §5 makes for routers that report no
// MTU. It is a plain data structure with the time passed in; the IP send
// path owns one behind a lock.
package pmtu

import (
	"container/list"
	"net/netip"
	"time"
)

// Defaults applied to zero Config fields.
const (
	// DefaultMaxEntries bounds the table: a flood of reports about many
	// destinations evicts the oldest estimates instead of growing memory.
	DefaultMaxEntries = 1024
	// DefaultExpiry is how long an estimate is kept after it was last
	// lowered: RFC 1191 §6 suggests 10 minutes before trying a larger MTU
	// again (RFC 8201 §4 agrees for IPv6).
	DefaultExpiry = 10 * time.Minute
	// DefaultMinMTU4 is the floor for IPv4 estimates. RFC 1191 §3 forbids
	// going below 68; actnet, like Linux's min_pmtu, stops at 552 so that a
	// forged report cannot shrink TCP segments to a few bytes each. Below
	// the floor the estimate is "locked" and the sender lets routers
	// fragment (it clears DF), as Linux does.
	DefaultMinMTU4 = 552
	// MinMTU6 is IPv6's minimum link MTU (RFC 8200 §5), which RFC 8201 §4
	// makes the floor of every estimate.
	MinMTU6 = 1280
)

// Config bounds a Table.
type Config struct {
	MaxEntries int           // default DefaultMaxEntries
	Expiry     time.Duration // default DefaultExpiry
	MinMTU     int           // the floor; default DefaultMinMTU4
}

// Estimate is what the table knows about one destination.
type Estimate struct {
	MTU int
	// Locked reports that a router asked for less than the floor: the
	// estimate stays at the floor and the sender should allow
	// fragmentation on the path (send without DF).
	Locked bool
}

type entry struct {
	dst     netip.Addr
	est     Estimate
	updated time.Time
	elem    *list.Element
}

// Table holds path MTU estimates. The zero Table is not usable; call New.
type Table struct {
	cfg     Config
	entries map[netip.Addr]*entry
	order   *list.List // least recently lowered at the front
}

// New returns an empty table bounded by cfg.
func New(cfg Config) *Table {
	if cfg.MaxEntries <= 0 {
		cfg.MaxEntries = DefaultMaxEntries
	}
	if cfg.Expiry <= 0 {
		cfg.Expiry = DefaultExpiry
	}
	if cfg.MinMTU <= 0 {
		cfg.MinMTU = DefaultMinMTU4
	}
	return &Table{cfg: cfg, entries: make(map[netip.Addr]*entry), order: list.New()}
}

// Len is the number of estimates held, expired ones included until they
// are looked up or evicted.
func (t *Table) Len() int { return len(t.entries) }

// Lookup returns the estimate for dst, and false when there is none (the
// caller then uses the link MTU). An expired estimate is forgotten.
func (t *Table) Lookup(dst netip.Addr, now time.Time) (Estimate, bool) {
	e, ok := t.entries[dst]
	if !ok {
		return Estimate{}, false
	}
	if now.Sub(e.updated) >= t.cfg.Expiry {
		t.remove(e)
		return Estimate{}, false
	}
	return e.est, true
}

// Lower applies a "fragmentation needed" (or ICMPv6 "packet too big")
// report of mtu for dst. current is the MTU the sender uses for dst now
// (the link MTU or the table's estimate): a report that does not lower it
// is ignored (RFC 1191 §6: "the PMTU estimate is never increased by a
// Datagram Too Big message"). A report of zero comes from a router older
// than RFC 1191; pass the quoted datagram's total length as sentLen and
// the table guesses the next plateau below it (RFC 1191 §5, §7). It
// returns the estimate now in force and whether it changed.
func (t *Table) Lower(dst netip.Addr, mtu, sentLen, current int, now time.Time) (Estimate, bool) {
	if mtu == 0 {
		mtu = Plateau(sentLen)
	}
	est := Estimate{MTU: mtu}
	if mtu < t.cfg.MinMTU {
		est = Estimate{MTU: t.cfg.MinMTU, Locked: true}
	}
	e, ok := t.entries[dst]
	if ok && now.Sub(e.updated) >= t.cfg.Expiry {
		t.remove(e)
		ok = false
	}
	if ok {
		current = min(current, e.est.MTU)
		if est.MTU > current || (est.MTU == current && (!est.Locked || e.est.Locked)) {
			return e.est, false
		}
		e.est, e.updated = est, now
		t.order.MoveToBack(e.elem)
		return est, true
	}
	if est.MTU > current || (est.MTU == current && !est.Locked) {
		return Estimate{MTU: current}, false
	}
	for len(t.entries) >= t.cfg.MaxEntries {
		t.remove(t.order.Front().Value.(*entry))
	}
	e = &entry{dst: dst, est: est, updated: now}
	e.elem = t.order.PushBack(e)
	t.entries[dst] = e
	return est, true
}

func (t *Table) remove(e *entry) {
	delete(t.entries, e.dst)
	t.order.Remove(e.elem)
}

// plateaus are RFC 1191 §7's table of common MTUs.
var plateaus = [...]int{65535, 32000, 17914, 8166, 4352, 2002, 1492, 1006, 508, 296, 68}

// Plateau returns the largest plateau of RFC 1191 §7 below sentLen, the
// length of a datagram that was too big: the estimate to try next when a
// router did not say what would fit. It is at least 68.
func Plateau(sentLen int) int {
	for _, p := range plateaus {
		if p < sentLen {
			return p
		}
	}
	return 68
}
