package arp

import (
	"net/netip"
	"slices"
	"time"

	"github.com/actnet/actnet/layers/ethernet"
)

// State is the resolution state of a cache entry.
type State uint8

// Entry states. Absent is what State reports for an address with no entry.
const (
	Absent     State = iota
	Incomplete       // a request is out, no answer yet; packets wait in the entry's queue
	Reachable        // confirmed less than ReachableTime ago
	Stale            // confirmed longer ago; still used, refreshed on use
)

// String names the state.
func (s State) String() string {
	switch s {
	case Absent:
		return "absent"
	case Incomplete:
		return "incomplete"
	case Reachable:
		return "reachable"
	case Stale:
		return "stale"
	}
	return "state(" + itoa(int(s)) + ")"
}

// Defaults applied by NewCache to zero (or negative) Config fields.
const (
	DefaultMaxEntries      = 1024
	DefaultMaxQueuePerAddr = 16
	DefaultRetryInterval   = time.Second
	DefaultMaxRetries      = 3
	DefaultReachableTime   = 60 * time.Second
)

// Config bounds a Cache and sets its timers. Zero fields take the defaults
// above.
type Config[P any] struct {
	// MaxEntries caps the number of entries of any state (principle 5: no
	// unbounded table).
	MaxEntries int
	// Full, when set, is called each time the cap is hit: an entry is
	// evicted to make room, or a new one refused.
	Full func()
	// MaxQueuePerAddr caps the packets waiting for one address; when full,
	// the oldest waiting packet is dropped.
	MaxQueuePerAddr int
	// RetryInterval is the time between requests for one address (RFC 1122
	// §2.3.2.1 asks for at most one request per second per destination).
	RetryInterval time.Duration
	// MaxRetries is how many requests are sent after the first before an
	// address is given up on, so 1+MaxRetries requests in all.
	MaxRetries int
	// ReachableTime is how long an answer is trusted before it must be
	// confirmed again (RFC 1122 §2.3.2.1 asks that entries time out).
	ReachableTime time.Duration
	// Release, if set, is called with every packet the cache drops on its
	// own: the oldest of a full queue, a packet for which no entry could be
	// made, packets of an entry evicted or removed. The caller returns the
	// buffer to its pool and counts the drop. Packets returned from Insert,
	// Update and Advance are not released; they belong to the caller again.
	Release func(P)
}

func (cfg Config[P]) withDefaults() Config[P] {
	if cfg.MaxEntries <= 0 {
		cfg.MaxEntries = DefaultMaxEntries
	}
	if cfg.MaxQueuePerAddr <= 0 {
		cfg.MaxQueuePerAddr = DefaultMaxQueuePerAddr
	}
	if cfg.RetryInterval <= 0 {
		cfg.RetryInterval = DefaultRetryInterval
	}
	if cfg.MaxRetries <= 0 {
		cfg.MaxRetries = DefaultMaxRetries
	}
	if cfg.ReachableTime <= 0 {
		cfg.ReachableTime = DefaultReachableTime
	}
	return cfg
}

type entry[P any] struct {
	mac   ethernet.Addr
	state State // Incomplete, Reachable or Stale (Stale is also set lazily)
	// confirmed is when the mapping was last learnt (resolved entries) or
	// when the entry was created (incomplete ones).
	confirmed time.Time
	// resolving is true while requests are being sent: always for
	// Incomplete, during a refresh for Stale.
	resolving   bool
	requests    int       // requests sent in the current round
	nextRequest time.Time // when the next request, or giving up, is due
	queue       []P
}

// Cache maps IPv4 next hops to Ethernet addresses and holds the packets
// waiting for a resolution. It is a plain data structure for one owner (the
// ARP actor): no locks, no goroutines, no clock; every call takes the
// current time and Advance and NextDeadline drive the timers.
//
// Policy:
//
//   - Resolution. Enqueue on an unknown address creates an Incomplete entry,
//     queues the packet and tells the caller to broadcast a request now.
//     Advance asks for another request every RetryInterval; after
//     1+MaxRetries unanswered requests the entry is removed and its queued
//     packets are returned as failed (the caller counts them and may send
//     ICMP host unreachable, RFC 1122 §2.3.2.2).
//   - Queueing. At most MaxQueuePerAddr packets wait per address; a new
//     packet pushes out the oldest, which goes to Config.Release (RFC 1122
//     §2.3.2.2 asks to keep at least the latest packet).
//   - Learning. Insert stores a mapping as Reachable and hands back the
//     packets that were waiting for it, in arrival order. Update does the
//     same only for addresses already in the cache, which is RFC 826's
//     merge rule for packets not addressed to us.
//   - Ageing. A mapping is Reachable for ReachableTime after it was
//     learnt, then Stale. Lookup still answers from a Stale entry (the peer
//     has most likely not moved) and starts a refresh: Advance then asks for
//     requests as for a new resolution, and if none is answered the entry is
//     removed, so the next packet starts a fresh resolution. A Stale entry
//     that is not used within a further ReachableTime is removed.
//   - Capacity. At most MaxEntries entries exist. Making room evicts the
//     resolved entry learnt longest ago; Incomplete entries are never
//     evicted for room (they hold packets and end by themselves within
//     (1+MaxRetries)·RetryInterval). If every entry is Incomplete, a new
//     address is refused: Enqueue releases its packet, Insert ignores it.
//
// Advance and NextDeadline scan every entry, which is cheap at the default
// size and happens only when a deadline fires.
type Cache[P any] struct {
	cfg     Config[P]
	entries map[netip.Addr]*entry[P]
}

// NewCache returns an empty cache configured by cfg, with defaults filled in.
func NewCache[P any](cfg Config[P]) *Cache[P] {
	return &Cache[P]{cfg: cfg.withDefaults(), entries: make(map[netip.Addr]*entry[P])}
}

// Config returns the configuration in effect, defaults included.
func (c *Cache[P]) Config() Config[P] { return c.cfg }

// Len returns the number of entries in any state.
func (c *Cache[P]) Len() int { return len(c.entries) }

// expired reports whether a resolved entry that is not being refreshed has
// gone unused for too long and should be removed.
func (c *Cache[P]) expired(e *entry[P], now time.Time) bool {
	return e.state != Incomplete && !e.resolving && !now.Before(e.confirmed.Add(2*c.cfg.ReachableTime))
}

// Lookup returns the Ethernet address for ip if it is resolved. A Stale
// answer also starts a refresh: call Advance (or wait for NextDeadline,
// which is then now) to get the request to send.
func (c *Cache[P]) Lookup(ip netip.Addr, now time.Time) (ethernet.Addr, bool) {
	e, ok := c.entries[ip]
	if !ok || e.state == Incomplete {
		return ethernet.Addr{}, false
	}
	if c.expired(e, now) {
		c.remove(ip, e)
		return ethernet.Addr{}, false
	}
	if !now.Before(e.confirmed.Add(c.cfg.ReachableTime)) {
		e.state = Stale
		if !e.resolving {
			e.resolving = true
			e.requests = 0
			e.nextRequest = now
		}
	}
	return e.mac, true
}

// Peek returns the Ethernet address of a resolved entry without touching
// its state, for example to send a refresh request unicast (RFC 1122
// §2.3.2.1).
func (c *Cache[P]) Peek(ip netip.Addr) (ethernet.Addr, bool) {
	e, ok := c.entries[ip]
	if !ok || e.state == Incomplete {
		return ethernet.Addr{}, false
	}
	return e.mac, true
}

// State reports the state of ip's entry at time now, without side effects.
func (c *Cache[P]) State(ip netip.Addr, now time.Time) State {
	e, ok := c.entries[ip]
	switch {
	case !ok:
		return Absent
	case e.state == Incomplete:
		return Incomplete
	case c.expired(e, now):
		return Absent
	case !now.Before(e.confirmed.Add(c.cfg.ReachableTime)):
		return Stale
	}
	return Reachable
}

// Insert records that ip is at mac, creating the entry if needed, and
// returns the packets that were waiting for ip (to be sent now, in order),
// or nil. The caller decides what deserves learning (RFC 826: replies and
// requests addressed to us; never RFC 5227 probes).
func (c *Cache[P]) Insert(ip netip.Addr, mac ethernet.Addr, now time.Time) []P {
	if e, ok := c.entries[ip]; ok {
		return c.confirm(e, mac, now)
	}
	if !c.makeRoom() {
		return nil
	}
	c.entries[ip] = &entry[P]{mac: mac, state: Reachable, confirmed: now}
	return nil
}

// Update is Insert for addresses already in the cache only (RFC 826's
// merge flag): it reports whether ip had an entry, and returns its waiting
// packets.
func (c *Cache[P]) Update(ip netip.Addr, mac ethernet.Addr, now time.Time) ([]P, bool) {
	e, ok := c.entries[ip]
	if !ok {
		return nil, false
	}
	return c.confirm(e, mac, now), true
}

func (c *Cache[P]) confirm(e *entry[P], mac ethernet.Addr, now time.Time) []P {
	e.mac = mac
	e.state = Reachable
	e.confirmed = now
	e.resolving = false
	e.requests = 0
	e.nextRequest = time.Time{}
	waiting := e.queue
	e.queue = nil // the caller owns the returned slice
	return waiting
}

// Enqueue makes p wait for ip to be resolved and reports whether the caller
// should send a request for ip now (true when a resolution starts). Call it
// after Lookup missed.
//
// If ip is resolved anyway, p still waits: a refresh starts (or continues)
// and p is handed back by the Insert that answers it or as failed by
// Advance. If the table is full of Incomplete entries, p is released and
// no request is asked for.
func (c *Cache[P]) Enqueue(ip netip.Addr, p P, now time.Time) (sendRequest bool) {
	e, ok := c.entries[ip]
	if !ok {
		if !c.makeRoom() {
			c.release(p)
			return false
		}
		e = &entry[P]{state: Incomplete, confirmed: now}
		c.entries[ip] = e
	}
	if len(e.queue) >= c.cfg.MaxQueuePerAddr {
		c.release(e.queue[0])
		clear(e.queue[:1]) // drop the reference before shifting
		e.queue = append(e.queue[:0], e.queue[1:]...)
	}
	e.queue = append(e.queue, p)
	if e.resolving && e.requests > 0 {
		return false // a request is already out
	}
	// A new resolution, a refresh started with a request, or a refresh
	// Lookup scheduled but Advance has not sent yet: send one now.
	e.resolving = true
	e.requests = 1
	e.nextRequest = now.Add(c.cfg.RetryInterval)
	return true
}

// Remove deletes ip's entry; packets waiting for it are released.
func (c *Cache[P]) Remove(ip netip.Addr) {
	if e, ok := c.entries[ip]; ok {
		c.remove(ip, e)
	}
}

// Clear deletes every entry; packets waiting are released.
func (c *Cache[P]) Clear() {
	for ip, e := range c.entries {
		c.remove(ip, e)
	}
}

func (c *Cache[P]) remove(ip netip.Addr, e *entry[P]) {
	for _, p := range e.queue {
		c.release(p)
	}
	delete(c.entries, ip)
}

func (c *Cache[P]) release(p P) {
	if c.cfg.Release != nil {
		c.cfg.Release(p)
	}
}

// makeRoom ensures one more entry fits, evicting the resolved entry learnt
// longest ago if needed. It reports false when every entry is Incomplete.
func (c *Cache[P]) makeRoom() bool {
	if len(c.entries) < c.cfg.MaxEntries {
		return true
	}
	if c.cfg.Full != nil {
		c.cfg.Full()
	}
	var (
		victim    netip.Addr
		victimEnt *entry[P]
	)
	for ip, e := range c.entries {
		if e.state == Incomplete {
			continue
		}
		// Ties broken by address so the choice does not depend on map order.
		if victimEnt == nil || e.confirmed.Before(victimEnt.confirmed) ||
			(e.confirmed.Equal(victimEnt.confirmed) && ip.Less(victim)) {
			victim, victimEnt = ip, e
		}
	}
	if victimEnt == nil {
		return false
	}
	c.remove(victim, victimEnt)
	return true
}

// Advance runs the timers due at now. It returns the addresses to send a
// request for (broadcast, or unicast to the address Peek gives when
// refreshing a Stale entry) and the packets whose address could not be resolved,
// which the caller counts as dropped and may answer with ICMP host
// unreachable. Both are ordered by address, then by arrival, so runs are
// deterministic.
func (c *Cache[P]) Advance(now time.Time) (requests []netip.Addr, failed []P) {
	var due []netip.Addr
	for ip, e := range c.entries {
		if (e.resolving && !now.Before(e.nextRequest)) || c.expired(e, now) {
			due = append(due, ip)
		}
	}
	slices.SortFunc(due, netip.Addr.Compare)
	for _, ip := range due {
		e := c.entries[ip]
		if !e.resolving {
			delete(c.entries, ip) // unused Stale entry; its queue is empty
			continue
		}
		if e.requests < 1+c.cfg.MaxRetries {
			e.requests++
			e.nextRequest = now.Add(c.cfg.RetryInterval)
			requests = append(requests, ip)
			continue
		}
		// No answer to any request: give up on the address.
		failed = append(failed, e.queue...)
		delete(c.entries, ip)
	}
	return requests, failed
}

// NextDeadline returns the earliest time Advance has work to do, and false
// if no entry needs a timer. It may be in the past (for example right after
// Lookup started a refresh); the owner then calls Advance at once.
func (c *Cache[P]) NextDeadline() (time.Time, bool) {
	var next time.Time
	found := false
	for _, e := range c.entries {
		var d time.Time
		if e.resolving {
			d = e.nextRequest
		} else {
			d = e.confirmed.Add(2 * c.cfg.ReachableTime)
		}
		if !found || d.Before(next) {
			next, found = d, true
		}
	}
	return next, found
}

// Snapshot returns a copy of the resolved mappings (Reachable and Stale),
// for publishing a read-only view to other actors.
func (c *Cache[P]) Snapshot() map[netip.Addr]ethernet.Addr {
	m := make(map[netip.Addr]ethernet.Addr, len(c.entries))
	for ip, e := range c.entries {
		if e.state != Incomplete {
			m[ip] = e.mac
		}
	}
	return m
}
