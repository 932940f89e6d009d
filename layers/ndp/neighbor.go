package ndp

import (
	"math/rand/v2"
	"net/netip"
	"slices"
	"time"

	"github.com/actnet/actnet/layers/ethernet"
)

// Protocol constants of RFC 4861 §10 (host side).
const (
	MaxMulticastSolicit     = 3
	MaxUnicastSolicit       = 3
	BaseReachableTime       = 30 * time.Second
	RetransTimer            = time.Second
	DelayFirstProbeTime     = 5 * time.Second
	MinRandomFactor         = 0.5
	MaxRandomFactor         = 1.5
	MaxRtrSolicitationDelay = time.Second
	RtrSolicitationInterval = 4 * time.Second
	MaxRtrSolicitations     = 3
)

// State is the reachability state of a neighbour cache entry (RFC 4861
// §7.3.2).
type State uint8

// Entry states. Absent is what State reports for an address with no entry.
const (
	Absent     State = iota
	Incomplete       // resolution in progress: multicast solicitations out, packets queued
	Reachable        // confirmed within ReachableTime
	Stale            // not confirmed lately; used as is until a packet is sent
	Delay            // a packet was sent to a Stale entry; wait for upper-layer confirmation
	Probe            // unicast solicitations out
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
	case Delay:
		return "delay"
	case Probe:
		return "probe"
	}
	return "state(" + itoa(int(s)) + ")"
}

// Defaults applied by NewNeighbors to zero (or negative) config fields.
const (
	DefaultMaxNeighbors    = 1024
	DefaultMaxIncomplete   = 256
	DefaultMaxQueuePerAddr = 16
	DefaultStaleLifetime   = 10 * time.Minute
)

// NeighborConfig bounds a neighbour cache. Zero fields take the defaults.
type NeighborConfig[P any] struct {
	// MaxEntries caps the entries of any state (DefaultMaxNeighbors).
	MaxEntries int
	// MaxIncomplete caps the entries being resolved (DefaultMaxIncomplete),
	// so that packets to many unresolvable on-link addresses (RFC 6583's
	// neighbour cache exhaustion) cannot take over the table.
	MaxIncomplete int
	// MaxQueuePerAddr caps the packets waiting for one address; a new
	// packet pushes out the oldest, which is released (RFC 4861 §7.2.2:
	// "the oldest packets SHOULD be discarded").
	MaxQueuePerAddr int
	// StaleLifetime is how long a Stale entry that is not a router and is
	// not used lives before it is removed (RFC 4861 leaves garbage
	// collection to the implementation; Linux uses gc_stale_time).
	StaleLifetime time.Duration
	// Rand returns a uniform float64 in [0, 1); it randomises ReachableTime
	// (RFC 4861 §6.3.2). Nil uses math/rand/v2; tests inject their own.
	Rand func() float64
	// Release is called with every packet the cache drops on its own (the
	// oldest of a full queue, a packet for which no entry could be made,
	// the queue of an evicted or removed entry). Packets returned to the
	// caller are not released.
	Release func(P)
}

func (cfg NeighborConfig[P]) withDefaults() NeighborConfig[P] {
	if cfg.MaxEntries <= 0 {
		cfg.MaxEntries = DefaultMaxNeighbors
	}
	if cfg.MaxIncomplete <= 0 {
		cfg.MaxIncomplete = min(DefaultMaxIncomplete, cfg.MaxEntries)
	}
	if cfg.MaxQueuePerAddr <= 0 {
		cfg.MaxQueuePerAddr = DefaultMaxQueuePerAddr
	}
	if cfg.StaleLifetime <= 0 {
		cfg.StaleLifetime = DefaultStaleLifetime
	}
	if cfg.Rand == nil {
		cfg.Rand = rand.Float64
	}
	return cfg
}

type neighbor[P any] struct {
	mac      ethernet.Addr
	state    State
	isRouter bool
	probes   int       // solicitations sent in this Incomplete or Probe round
	deadline time.Time // see Neighbors.deadline
	used     time.Time // last packet sent or state change, for eviction
	queue    []P
}

// Neighbors is the neighbour cache of one interface (RFC 4861 §5.1, §7.3):
// next-hop IPv6 addresses to Ethernet addresses with Neighbor
// Unreachability Detection. It is a plain data structure for one owner: no
// locks, no goroutines, no clock; every call takes the current time, and
// Advance and NextDeadline drive the timers.
//
// The state machine is RFC 4861 Appendix C; Output is the "packet to send"
// event, HandleAdvertisement the NA rows, HandleLinkAddr the NS/RS/RA/
// Redirect rows, Confirm the upper-layer confirmation, Advance the
// timeouts. Reachable becomes Stale lazily (no timer per entry for it).
//
// Capacity policy. Incomplete entries are at most MaxIncomplete and are
// never evicted: each holds queued packets and ends by itself within
// MaxMulticastSolicit·RetransTimer, and evicting them would let a stream of
// new destinations cancel every resolution before its answer came (the
// table would churn and resolve nothing). When Incomplete entries are at
// their cap, a packet for a new address is released (counted by the
// caller) and resolutions already running finish. When the table is full,
// a new entry evicts a resolved one, least valuable first: Stale before
// Probe before Delay before Reachable, non-routers before routers, least
// recently used first. Entries created unsolicited (an NS or RA carrying a
// link-layer address, for a neighbour we never sent to) only evict Stale
// non-router entries, so a flood of solicitations from forged sources
// cannot push out neighbours in use; if there is none, the new entry is
// simply not made (it will be resolved on demand).
type Neighbors[P any] struct {
	cfg           NeighborConfig[P]
	entries       map[netip.Addr]*neighbor[P]
	incomplete    int
	baseReachable time.Duration
	reachableTime time.Duration
	retransTimer  time.Duration
}

// NewNeighbors returns an empty cache with BaseReachableTime and
// RetransTimer in force.
func NewNeighbors[P any](cfg NeighborConfig[P]) *Neighbors[P] {
	n := &Neighbors[P]{
		cfg:          cfg.withDefaults(),
		entries:      make(map[netip.Addr]*neighbor[P]),
		retransTimer: RetransTimer,
	}
	n.SetBaseReachableTime(BaseReachableTime)
	return n
}

// Config returns the configuration in effect, defaults included.
func (n *Neighbors[P]) Config() NeighborConfig[P] { return n.cfg }

// Len returns the number of entries.
func (n *Neighbors[P]) Len() int { return len(n.entries) }

// ReachableTime returns the randomised reachable time in force.
func (n *Neighbors[P]) ReachableTime() time.Duration { return n.reachableTime }

// RetransTimer returns the retransmission interval in force.
func (n *Neighbors[P]) RetransTimer() time.Duration { return n.retransTimer }

// SetBaseReachableTime sets BaseReachableTime (from a router
// advertisement's non-zero Reachable Time) and draws a new ReachableTime
// uniformly in [MinRandomFactor, MaxRandomFactor)·base (RFC 4861 §6.3.2).
// The owner should also call it every few hours with the same value so the
// random draw changes. Entries already Reachable keep their deadline.
func (n *Neighbors[P]) SetBaseReachableTime(base time.Duration) {
	if base <= 0 {
		return
	}
	n.baseReachable = base
	f := MinRandomFactor + (MaxRandomFactor-MinRandomFactor)*n.cfg.Rand()
	n.reachableTime = time.Duration(float64(base) * f)
}

// SetRetransTimer sets RetransTimer (from a router advertisement's non-zero
// Retrans Timer). Timers already running keep their deadline.
func (n *Neighbors[P]) SetRetransTimer(d time.Duration) {
	if d > 0 {
		n.retransTimer = d
	}
}

// deadline meaning by state: Incomplete and Probe, the next solicitation
// or giving up; Delay, the move to Probe; Reachable, the move to Stale;
// Stale, removal (routers' Stale entries have no deadline).

// settle applies the lazy Reachable -> Stale move.
func (n *Neighbors[P]) settle(e *neighbor[P], now time.Time) {
	if e.state == Reachable && !now.Before(e.deadline) {
		e.state = Stale
		e.deadline = e.deadline.Add(n.cfg.StaleLifetime)
	}
}

func (n *Neighbors[P]) setState(e *neighbor[P], s State, now time.Time) {
	if e.state == Incomplete && s != Incomplete {
		n.incomplete--
	} else if e.state != Incomplete && s == Incomplete {
		n.incomplete++
	}
	e.state = s
	e.probes = 0
	e.used = now
	switch s {
	case Reachable:
		e.deadline = now.Add(n.reachableTime)
	case Stale:
		e.deadline = now.Add(n.cfg.StaleLifetime)
	case Delay:
		e.deadline = now.Add(DelayFirstProbeTime)
	case Incomplete, Probe:
		e.deadline = now
	}
}

// State reports ip's state at now without side effects.
func (n *Neighbors[P]) State(ip netip.Addr, now time.Time) State {
	e, ok := n.entries[ip]
	if !ok {
		return Absent
	}
	if e.state == Reachable && !now.Before(e.deadline) {
		return Stale
	}
	return e.state
}

// IsRouter reports whether ip's entry has its IsRouter flag set.
func (n *Neighbors[P]) IsRouter(ip netip.Addr) bool {
	e, ok := n.entries[ip]
	return ok && e.isRouter
}

// Peek returns the link-layer address of a resolved entry without changing
// its state (for a unicast probe, or a snapshot).
func (n *Neighbors[P]) Peek(ip netip.Addr) (ethernet.Addr, bool) {
	e, ok := n.entries[ip]
	if !ok || e.state == Incomplete {
		return ethernet.Addr{}, false
	}
	return e.mac, true
}

// Lookup is the "packet to send" event for a resolved entry: it returns the
// link-layer address to send to, moving a Stale entry to Delay. It reports
// false when ip is absent or Incomplete; the caller then calls Output to
// queue the packet.
func (n *Neighbors[P]) Lookup(ip netip.Addr, now time.Time) (ethernet.Addr, bool) {
	e, ok := n.entries[ip]
	if !ok || e.state == Incomplete {
		return ethernet.Addr{}, false
	}
	n.settle(e, now)
	if e.state == Stale {
		n.setState(e, Delay, now)
	}
	e.used = now
	return e.mac, true
}

// OutputResult says what became of a packet given to Output.
type OutputResult uint8

// Outcomes of Output.
const (
	// Send: ip is resolved; the packet stays the caller's, to send to the
	// returned address now.
	Send OutputResult = iota
	// Queued: the packet waits for a resolution already in progress.
	Queued
	// Solicit: a resolution started and the packet waits; send a multicast
	// solicitation for ip now (to its solicited-node group).
	Solicit
	// Refused: no entry could be made (Incomplete entries at their cap);
	// the packet was released.
	Refused
)

// Output is the "packet to send" event of RFC 4861 §7.2.2 and Appendix C
// for a packet p to next hop ip.
func (n *Neighbors[P]) Output(ip netip.Addr, p P, now time.Time) (ethernet.Addr, OutputResult) {
	if mac, ok := n.Lookup(ip, now); ok {
		return mac, Send
	}
	e, ok := n.entries[ip]
	res := Queued
	if !ok {
		if n.incomplete >= n.cfg.MaxIncomplete || !n.makeRoom(false, now) {
			n.release(p)
			return ethernet.Addr{}, Refused
		}
		e = &neighbor[P]{}
		n.entries[ip] = e
		n.setState(e, Incomplete, now)
		e.probes = 1
		e.deadline = now.Add(n.retransTimer)
		res = Solicit
	}
	if len(e.queue) >= n.cfg.MaxQueuePerAddr {
		n.release(e.queue[0])
		clear(e.queue[:1])
		e.queue = append(e.queue[:0], e.queue[1:]...)
	}
	e.queue = append(e.queue, p)
	return ethernet.Addr{}, res
}

// Update is the result of learning a link-layer address.
type Update[P any] struct {
	// LinkAddr is the entry's link-layer address after the update.
	LinkAddr ethernet.Addr
	// Send are the packets that were waiting for the address, in arrival
	// order, to be sent to LinkAddr now. They belong to the caller.
	Send []P
	// NoLongerRouter reports that the IsRouter flag went from true to
	// false: the caller removes ip from the default router list and
	// updates the destination cache (RFC 4861 §7.2.5).
	NoLongerRouter bool
}

// Advert is what HandleAdvertisement needs from a neighbour advertisement.
type Advert struct {
	Router, Solicited, Override bool
	LinkAddr                    ethernet.Addr // the target link-layer address option
	HasLinkAddr                 bool
}

// AdvertFrom extracts the Advert of a neighbour advertisement.
func AdvertFrom(r *Repr) Advert {
	return Advert{
		Router: r.Router, Solicited: r.Solicited, Override: r.Override,
		LinkAddr: r.Options.TargetLinkAddr, HasLinkAddr: r.Options.HasTargetLinkAddr,
	}
}

// HandleAdvertisement applies a valid neighbour advertisement for target
// (RFC 4861 §7.2.5). Advertisements for addresses without an entry are
// ignored ("silently discarded"); so are advertisements without a target
// link-layer address for an Incomplete entry. The caller checks first that
// target is not one of its own addresses (then it is a DAD conflict).
func (n *Neighbors[P]) HandleAdvertisement(target netip.Addr, a Advert, now time.Time) Update[P] {
	e, ok := n.entries[target]
	if !ok {
		return Update[P]{}
	}
	n.settle(e, now)
	if e.state == Incomplete {
		if !a.HasLinkAddr {
			return Update[P]{}
		}
		e.mac = a.LinkAddr
		if a.Solicited {
			n.setState(e, Reachable, now)
		} else {
			n.setState(e, Stale, now)
		}
		e.isRouter = a.Router
		waiting := e.queue
		e.queue = nil
		return Update[P]{LinkAddr: e.mac, Send: waiting}
	}
	different := a.HasLinkAddr && a.LinkAddr != e.mac
	if !a.Override && different {
		// "not update the entry in any other way"
		if e.state == Reachable {
			n.setState(e, Stale, now)
		}
		return Update[P]{LinkAddr: e.mac}
	}
	if different {
		e.mac = a.LinkAddr
	}
	switch {
	case a.Solicited:
		n.setState(e, Reachable, now)
	case different:
		n.setState(e, Stale, now)
	}
	u := Update[P]{LinkAddr: e.mac}
	if e.isRouter && !a.Router {
		u.NoLongerRouter = true
	}
	e.isRouter = a.Router
	return u
}

// RouterHint is what a message tells about the IsRouter flag.
type RouterHint uint8

// Hints: a neighbour solicitation says nothing (a new entry is not a
// router); a router advertisement says the sender is a router; a redirect
// says its target is a router when the target is not the destination.
const (
	RouterUnknown RouterHint = iota
	RouterYes
)

// HandleLinkAddr applies a link-layer address learnt from a neighbour
// solicitation (source link-layer address, source not unspecified), a
// router advertisement (source link-layer address) or a redirect (target
// link-layer address) for ip (RFC 4861 §7.2.3, §6.3.4, §8.3; Appendix C):
// a new entry is Stale; an Incomplete one becomes Stale and hands back its
// queue; a resolved one with a different address takes it and becomes
// Stale; the same address changes nothing.
func (n *Neighbors[P]) HandleLinkAddr(ip netip.Addr, mac ethernet.Addr, hint RouterHint, now time.Time) Update[P] {
	e, ok := n.entries[ip]
	if !ok {
		if !n.makeRoom(true, now) {
			return Update[P]{LinkAddr: mac}
		}
		e = &neighbor[P]{mac: mac, isRouter: hint == RouterYes}
		n.entries[ip] = e
		n.setState(e, Stale, now)
		return Update[P]{LinkAddr: mac}
	}
	n.settle(e, now)
	if hint == RouterYes {
		e.isRouter = true
	}
	if e.state == Incomplete {
		e.mac = mac
		n.setState(e, Stale, now)
		waiting := e.queue
		e.queue = nil
		return Update[P]{LinkAddr: mac, Send: waiting}
	}
	if mac != e.mac {
		e.mac = mac
		n.setState(e, Stale, now)
	}
	return Update[P]{LinkAddr: e.mac}
}

// Confirm is an upper-layer reachability confirmation for ip (RFC 4861
// §7.3.1: new data acknowledged by TCP, for example): a resolved entry
// becomes Reachable. The caller should rate-limit it (once per
// ReachableTime/2 per neighbour is plenty).
func (n *Neighbors[P]) Confirm(ip netip.Addr, now time.Time) {
	e, ok := n.entries[ip]
	if !ok || e.state == Incomplete {
		return
	}
	n.setState(e, Reachable, now)
}

// Remove deletes ip's entry; its queued packets are released.
func (n *Neighbors[P]) Remove(ip netip.Addr) {
	if e, ok := n.entries[ip]; ok {
		n.remove(ip, e)
	}
}

func (n *Neighbors[P]) remove(ip netip.Addr, e *neighbor[P]) {
	for _, p := range e.queue {
		n.release(p)
	}
	if e.state == Incomplete {
		n.incomplete--
	}
	delete(n.entries, ip)
}

func (n *Neighbors[P]) release(p P) {
	if n.cfg.Release != nil {
		n.cfg.Release(p)
	}
}

// evictRank orders resolved entries for eviction, lowest first; -1 means
// never evicted.
func evictRank(s State, isRouter bool) int {
	var r int
	switch s {
	case Stale:
		r = 0
	case Probe:
		r = 1
	case Delay:
		r = 2
	case Reachable:
		r = 3
	default:
		return -1
	}
	if isRouter {
		r += 4
	}
	return r
}

// makeRoom ensures one more entry fits. staleOnly restricts victims to
// Stale non-router entries (for entries created unsolicited).
func (n *Neighbors[P]) makeRoom(staleOnly bool, now time.Time) bool {
	if len(n.entries) < n.cfg.MaxEntries {
		return true
	}
	var (
		victim    netip.Addr
		victimEnt *neighbor[P]
		best      int
	)
	for ip, e := range n.entries {
		n.settle(e, now)
		r := evictRank(e.state, e.isRouter)
		if r < 0 || (staleOnly && r != 0) {
			continue
		}
		if victimEnt == nil || r < best ||
			(r == best && (e.used.Before(victimEnt.used) || (e.used.Equal(victimEnt.used) && ip.Less(victim)))) {
			victim, victimEnt, best = ip, e, r
		}
	}
	if victimEnt == nil {
		return false
	}
	n.remove(victim, victimEnt)
	return true
}

// Solicitation is a neighbour solicitation Advance asks the caller to send.
type Solicitation struct {
	Target netip.Addr
	// Unicast: send to LinkAddr and Target (a NUD probe); otherwise send to
	// Target's solicited-node group (address resolution).
	Unicast  bool
	LinkAddr ethernet.Addr
}

// Actions is what Advance asks the caller to do.
type Actions[P any] struct {
	Solicit []Solicitation
	// Failed are the packets queued for addresses that never answered:
	// the caller counts them and answers each with ICMPv6 destination
	// unreachable, code 3 "address unreachable" (RFC 4861 §7.2.2).
	Failed []P
	// Unreachable are the addresses whose entries were removed because
	// resolution or probing failed, with whether each was a router (the
	// default router selection then prefers other routers).
	Unreachable []Lost
}

// Lost is an address whose entry NUD removed.
type Lost struct {
	Addr     netip.Addr
	IsRouter bool
}

// Advance runs the timers due at now and returns what to send and what
// failed. Results are ordered by address so runs are deterministic.
func (n *Neighbors[P]) Advance(now time.Time) Actions[P] {
	var due []netip.Addr
	for ip, e := range n.entries {
		n.settle(e, now)
		if e.state == Reachable || (e.state == Stale && e.isRouter) {
			continue
		}
		if !now.Before(e.deadline) {
			due = append(due, ip)
		}
	}
	slices.SortFunc(due, netip.Addr.Compare)
	var a Actions[P]
	for _, ip := range due {
		e := n.entries[ip]
		switch e.state {
		case Stale:
			n.remove(ip, e) // unused for StaleLifetime; its queue is empty
		case Delay:
			n.setState(e, Probe, now)
			e.probes = 1
			e.deadline = now.Add(n.retransTimer)
			a.Solicit = append(a.Solicit, Solicitation{Target: ip, Unicast: true, LinkAddr: e.mac})
		case Incomplete, Probe:
			limit := MaxMulticastSolicit
			if e.state == Probe {
				limit = MaxUnicastSolicit
			}
			if e.probes < limit {
				e.probes++
				e.deadline = now.Add(n.retransTimer)
				a.Solicit = append(a.Solicit, Solicitation{Target: ip, Unicast: e.state == Probe, LinkAddr: e.mac})
				continue
			}
			a.Failed = append(a.Failed, e.queue...)
			e.queue = nil
			a.Unreachable = append(a.Unreachable, Lost{Addr: ip, IsRouter: e.isRouter})
			n.remove(ip, e)
		}
	}
	return a
}

// NextDeadline returns the earliest time Advance has work to do, and false
// if none. Reachable entries count by their eventual removal as Stale, so
// the owner is not woken just for the lazy Reachable -> Stale move.
func (n *Neighbors[P]) NextDeadline() (time.Time, bool) {
	var next time.Time
	found := false
	for _, e := range n.entries {
		d := e.deadline
		switch e.state {
		case Reachable:
			if e.isRouter {
				continue
			}
			d = d.Add(n.cfg.StaleLifetime)
		case Stale:
			if e.isRouter {
				continue
			}
		}
		if !found || d.Before(next) {
			next, found = d, true
		}
	}
	return next, found
}

// Neighbor is one resolved entry of a Snapshot.
type Neighbor struct {
	LinkAddr ethernet.Addr
	State    State
	IsRouter bool
}

// Snapshot returns the resolved entries (not Incomplete) at now, for
// publishing a read-only view to the send path. A sender that finds a
// Stale entry there should tell the owner (Lookup) so NUD starts.
func (n *Neighbors[P]) Snapshot(now time.Time) map[netip.Addr]Neighbor {
	m := make(map[netip.Addr]Neighbor, len(n.entries))
	for ip, e := range n.entries {
		if e.state != Incomplete {
			m[ip] = Neighbor{LinkAddr: e.mac, State: n.State(ip, now), IsRouter: e.isRouter}
		}
	}
	return m
}
