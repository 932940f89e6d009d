package ndp

import (
	"errors"
	"net/netip"
	"slices"
	"time"

	"github.com/actnet/actnet/layers/pmtu"
)

// ErrNoRoute is returned by NextHop when a destination is neither on-link
// nor reachable through a router. RFC 5942 §4 withdrew RFC 4861's "assume
// on-link when there is no router": without a router, off-link
// destinations are unreachable.
var ErrNoRoute = errors.New("ndp: no route to destination (not on-link, no router)")

// Defaults of RoutingConfig.
const (
	DefaultMaxRouters      = 16
	DefaultMaxPrefixes     = 32
	DefaultMaxRoutes       = 64
	DefaultMaxDestinations = 1024
	DefaultLinkMTU         = 1500
)

// RoutingConfig bounds a Routing table.
type RoutingConfig struct {
	MaxRouters      int // default router list (DefaultMaxRouters)
	MaxPrefixes     int // prefix list (DefaultMaxPrefixes)
	MaxRoutes       int // RFC 4191 routes (DefaultMaxRoutes)
	MaxDestinations int // redirects and path MTU estimates, each (DefaultMaxDestinations)
	// LinkMTU is the interface's MTU (DefaultLinkMTU); an MTU option may
	// lower it, never raise it above this, nor below 1280.
	LinkMTU int
	// PMTUExpiry is how long a lowered path MTU is kept before trying the
	// link MTU again (RFC 8201 §4: at least 5 minutes, 10 recommended; 0
	// takes pmtu.DefaultExpiry).
	PMTUExpiry time.Duration
}

// Router is an entry of the default router list.
type Router struct {
	Addr       netip.Addr // link-local
	Preference Preference
	Expires    time.Time
}

// OnLinkPrefix is an entry of the prefix list.
type OnLinkPrefix struct {
	Prefix  netip.Prefix
	Expires time.Time
}

// Route is an RFC 4191 more-specific route learnt from a route information
// option.
type Route struct {
	Prefix     netip.Prefix
	Router     netip.Addr
	Preference Preference
	Expires    time.Time
}

type redirect struct {
	nextHop netip.Addr // the target; the destination itself when on-link
	via     netip.Addr // the router that redirected
	used    time.Time
}

// Reachability tells the routing table what NUD knows about a router: its
// neighbour cache state (Neighbors.State).
type Reachability func(netip.Addr) State

func probablyReachable(s State) bool {
	return s != Absent && s != Incomplete
}

// Routing is a host's conceptual data structures for sending (RFC 4861
// §5.1, RFC 4191): the default router list, the prefix list, more-specific
// routes, and the destination cache, here reduced to what next-hop
// determination cannot recompute (redirects) plus per-destination path MTU
// (RFC 8201, kept in a pmtu.Table floored at 1280). Next hops are computed
// on each call instead of memoised, so a change of router reachability or
// of the lists takes effect at once; the lists are small.
type Routing struct {
	cfg       RoutingConfig
	routers   []Router // in round-robin order
	selected  netip.Addr
	prefixes  []OnLinkPrefix
	routes    []Route
	redirects map[netip.Addr]*redirect
	pmtu      *pmtu.Table
	linkMTU   int
}

// NewRouting returns empty lists bounded by cfg.
func NewRouting(cfg RoutingConfig) *Routing {
	if cfg.MaxRouters <= 0 {
		cfg.MaxRouters = DefaultMaxRouters
	}
	if cfg.MaxPrefixes <= 0 {
		cfg.MaxPrefixes = DefaultMaxPrefixes
	}
	if cfg.MaxRoutes <= 0 {
		cfg.MaxRoutes = DefaultMaxRoutes
	}
	if cfg.MaxDestinations <= 0 {
		cfg.MaxDestinations = DefaultMaxDestinations
	}
	if cfg.LinkMTU <= 0 {
		cfg.LinkMTU = DefaultLinkMTU
	}
	return &Routing{
		cfg:       cfg,
		redirects: make(map[netip.Addr]*redirect),
		pmtu:      pmtu.New(pmtu.Config{MaxEntries: cfg.MaxDestinations, Expiry: cfg.PMTUExpiry, MinMTU: pmtu.MinMTU6}),
		linkMTU:   cfg.LinkMTU,
	}
}

// Routers returns a copy of the default router list.
func (r *Routing) Routers() []Router { return slices.Clone(r.routers) }

// Prefixes returns a copy of the prefix list.
func (r *Routing) Prefixes() []OnLinkPrefix { return slices.Clone(r.prefixes) }

// Routes returns a copy of the RFC 4191 routes.
func (r *Routing) Routes() []Route { return slices.Clone(r.routes) }

// LinkMTU returns the link MTU in force.
func (r *Routing) LinkMTU() int { return r.linkMTU }

// PathMTUs is how many destinations have a path MTU of their own (from
// Packet Too Big); while there are none, PathMTU is LinkMTU for all.
func (r *Routing) PathMTUs() int { return r.pmtu.Len() }

func expiry(now time.Time, sec uint32) time.Time { return far(now, Lifetime(sec)) }

// HandleRouterAdvert applies a valid router advertisement from src (RFC
// 4861 §6.3.4, RFC 4191 §3.1) to the router list, the prefix list (L flag
// only; the A flag is Addrs.HandlePrefix's) and the routes, and takes a
// valid MTU option as the link MTU. The caller applies CurHopLimit,
// ReachableTime and RetransTimer itself, and the source link-layer address
// to the neighbour cache (HandleLinkAddr with RouterYes).
func (r *Routing) HandleRouterAdvert(src netip.Addr, ra *Repr, now time.Time) {
	r.setRouter(src, ra.Preference, ra.RouterLifetime, now)
	for _, p := range ra.Options.Prefixes {
		if p.OnLink {
			r.setPrefix(p, now)
		}
	}
	for _, rt := range ra.Options.Routes {
		r.setRoute(src, rt, now)
	}
	if o := ra.Options; o.HasMTU && o.MTU >= pmtu.MinMTU6 && int(o.MTU) <= r.cfg.LinkMTU {
		r.linkMTU = int(o.MTU)
	}
}

func (r *Routing) setRouter(src netip.Addr, pref Preference, lifetime uint16, now time.Time) {
	i := slices.IndexFunc(r.routers, func(x Router) bool { return x.Addr == src })
	if lifetime == 0 {
		if i >= 0 {
			r.RemoveRouter(src)
		}
		return
	}
	e := Router{Addr: src, Preference: pref, Expires: now.Add(time.Duration(lifetime) * time.Second)}
	if i >= 0 {
		r.routers[i] = e
		return
	}
	if len(r.routers) >= r.cfg.MaxRouters {
		// Make room only by dropping a router of lower preference.
		j := -1
		for k, x := range r.routers {
			if x.Preference < pref && (j < 0 || x.Preference < r.routers[j].Preference) {
				j = k
			}
		}
		if j < 0 {
			return
		}
		r.RemoveRouter(r.routers[j].Addr)
	}
	r.routers = append(r.routers, e)
}

// RemoveRouter deletes a router (lifetime 0, or no longer a router by
// RFC 4861 §7.2.5), its routes, and the redirects it made.
func (r *Routing) RemoveRouter(addr netip.Addr) {
	r.routers = slices.DeleteFunc(r.routers, func(x Router) bool { return x.Addr == addr })
	r.routes = slices.DeleteFunc(r.routes, func(x Route) bool { return x.Router == addr })
	for dst, d := range r.redirects {
		if d.via == addr || d.nextHop == addr {
			delete(r.redirects, dst)
		}
	}
	if r.selected == addr {
		r.selected = netip.Addr{}
	}
}

// RouterUnreachable is told that NUD gave up on addr (Actions.Unreachable).
// The router stays in the list but goes to the back of the round-robin
// order, so that next-hop determination tries another one (RFC 4861
// §6.3.6).
func (r *Routing) RouterUnreachable(addr netip.Addr) {
	i := slices.IndexFunc(r.routers, func(x Router) bool { return x.Addr == addr })
	if i < 0 {
		return
	}
	e := r.routers[i]
	r.routers = append(slices.Delete(r.routers, i, i+1), e)
	if r.selected == addr {
		r.selected = netip.Addr{}
	}
}

func (r *Routing) setPrefix(p PrefixInfo, now time.Time) {
	if p.Prefix.Addr().IsLinkLocalUnicast() {
		return // RFC 4861 §6.3.4: the link-local prefix is ignored
	}
	i := slices.IndexFunc(r.prefixes, func(x OnLinkPrefix) bool { return x.Prefix == p.Prefix })
	switch {
	case i >= 0 && p.ValidLifetime == 0:
		r.prefixes = slices.Delete(r.prefixes, i, i+1)
	case i >= 0:
		r.prefixes[i].Expires = expiry(now, p.ValidLifetime)
	case p.ValidLifetime != 0 && len(r.prefixes) < r.cfg.MaxPrefixes:
		r.prefixes = append(r.prefixes, OnLinkPrefix{Prefix: p.Prefix, Expires: expiry(now, p.ValidLifetime)})
	}
}

func (r *Routing) setRoute(src netip.Addr, rt RouteInfo, now time.Time) {
	i := slices.IndexFunc(r.routes, func(x Route) bool { return x.Prefix == rt.Prefix && x.Router == src })
	switch {
	case i >= 0 && rt.Lifetime == 0:
		r.routes = slices.Delete(r.routes, i, i+1)
	case i >= 0:
		r.routes[i].Preference = rt.Preference
		r.routes[i].Expires = expiry(now, rt.Lifetime)
	case rt.Lifetime != 0 && len(r.routes) < r.cfg.MaxRoutes:
		r.routes = append(r.routes, Route{Prefix: rt.Prefix, Router: src, Preference: rt.Preference, Expires: expiry(now, rt.Lifetime)})
	}
}

// OnLink reports whether dst is on-link: link-local, multicast, or in a
// prefix of the prefix list (RFC 4861 §5.2), or redirected as on-link.
func (r *Routing) OnLink(dst netip.Addr, now time.Time) bool {
	if dst.IsLinkLocalUnicast() || dst.IsMulticast() {
		return true
	}
	if d, ok := r.redirects[dst]; ok && d.nextHop == dst {
		return true
	}
	_, ok := r.onLinkMatch(dst, now)
	return ok
}

func (r *Routing) onLinkMatch(dst netip.Addr, now time.Time) (int, bool) {
	best, ok := -1, false
	for _, p := range r.prefixes {
		if now.Before(p.Expires) && p.Prefix.Contains(dst) && p.Prefix.Bits() > best {
			best, ok = p.Prefix.Bits(), true
		}
	}
	return best, ok
}

// NextHop is next-hop determination (RFC 4861 §5.2 with RFC 4191 §3.2):
// a redirect for dst wins; then the longest match among on-link prefixes
// (next hop dst itself) and RFC 4191 routes (ties go to on-link); then
// default router selection. Among routers, those NUD thinks reachable or
// probably reachable (any state but Absent and Incomplete) come first,
// then higher preference, then the router already selected (RFC 4861
// §6.3.6: stick to it), then round-robin order.
func (r *Routing) NextHop(dst netip.Addr, reach Reachability, now time.Time) (netip.Addr, error) {
	if d, ok := r.redirects[dst]; ok {
		d.used = now
		return d.nextHop, nil
	}
	if dst.IsLinkLocalUnicast() || dst.IsMulticast() {
		return dst, nil
	}
	onLinkBits, onLink := r.onLinkMatch(dst, now)
	var (
		best     *Route
		bestBits = -1
	)
	for i := range r.routes {
		rt := &r.routes[i]
		if !now.Before(rt.Expires) || !rt.Prefix.Contains(dst) {
			continue
		}
		b := rt.Prefix.Bits()
		if best == nil || b > bestBits || (b == bestBits && betterRoute(rt, best, reach)) {
			best, bestBits = rt, b
		}
	}
	if onLink && onLinkBits >= bestBits {
		return dst, nil
	}
	if best != nil && bestBits > 0 {
		return best.Router, nil
	}
	if rt, ok := r.defaultRouter(reach, now); ok {
		return rt, nil
	}
	if best != nil {
		return best.Router, nil // a ::/0 route information option
	}
	return netip.Addr{}, ErrNoRoute
}

func betterRoute(a, b *Route, reach Reachability) bool {
	ra, rb := probablyReachable(reach(a.Router)), probablyReachable(reach(b.Router))
	if ra != rb {
		return ra
	}
	return a.Preference > b.Preference
}

// DefaultRouter returns the router default router selection picks now.
func (r *Routing) DefaultRouter(reach Reachability, now time.Time) (netip.Addr, bool) {
	return r.defaultRouter(reach, now)
}

func (r *Routing) defaultRouter(reach Reachability, now time.Time) (netip.Addr, bool) {
	bestI := -1
	var bestReach bool
	for i, x := range r.routers {
		if !now.Before(x.Expires) {
			continue
		}
		rx := probablyReachable(reach(x.Addr))
		if bestI < 0 {
			bestI, bestReach = i, rx
			continue
		}
		b := r.routers[bestI]
		switch {
		case rx != bestReach:
			if rx {
				bestI, bestReach = i, rx
			}
		case x.Preference != b.Preference:
			if x.Preference > b.Preference {
				bestI = i
			}
		case x.Addr == r.selected:
			bestI = i
		}
	}
	if bestI < 0 {
		return netip.Addr{}, false
	}
	r.selected = r.routers[bestI].Addr
	return r.selected, true
}

// HandleRedirect applies a redirect that passed Validate, from src (RFC
// 4861 §8.3). It is honoured only if src is the current first-hop router
// for the redirect's destination (§8.1), else ErrRedirectNotFromRouter.
// The caller then gives a target link-layer address to the neighbour cache
// (HandleLinkAddr, RouterYes unless target equals destination).
func (r *Routing) HandleRedirect(src netip.Addr, rd *Repr, reach Reachability, now time.Time) error {
	nh, err := r.NextHop(rd.Destination, reach, now)
	if err != nil || nh != src || nh == rd.Destination {
		return ErrRedirectNotFromRouter
	}
	if _, ok := r.redirects[rd.Destination]; !ok && len(r.redirects) >= r.cfg.MaxDestinations {
		var (
			victim netip.Addr
			oldest *redirect
		)
		for dst, d := range r.redirects {
			if oldest == nil || d.used.Before(oldest.used) || (d.used.Equal(oldest.used) && dst.Less(victim)) {
				victim, oldest = dst, d
			}
		}
		delete(r.redirects, victim)
	}
	r.redirects[rd.Destination] = &redirect{nextHop: rd.Target, via: src, used: now}
	return nil
}

// PathMTU returns the MTU to use towards dst: the path estimate if Packet
// Too Big lowered it within PMTUExpiry, else the link MTU.
func (r *Routing) PathMTU(dst netip.Addr, now time.Time) int {
	if e, ok := r.pmtu.Lookup(dst, now); ok {
		return min(e.MTU, r.linkMTU)
	}
	return r.linkMTU
}

// PacketTooBig applies an ICMPv6 Packet Too Big for dst reporting mtu
// (RFC 8201 §4): it never raises the estimate and never goes below 1280.
// The caller has matched the quote to a live flow first (RFC 5927). It
// returns the MTU now in force and whether it changed.
func (r *Routing) PacketTooBig(dst netip.Addr, mtu int, now time.Time) (int, bool) {
	mtu = max(mtu, pmtu.MinMTU6)
	e, changed := r.pmtu.Lower(dst, mtu, 0, r.PathMTU(dst, now), now)
	return e.MTU, changed
}

// Advance expires routers (with their routes and redirects), prefixes and
// routes whose lifetime ended.
func (r *Routing) Advance(now time.Time) {
	var gone []netip.Addr
	for _, x := range r.routers {
		if !now.Before(x.Expires) {
			gone = append(gone, x.Addr)
		}
	}
	for _, a := range gone {
		r.RemoveRouter(a)
	}
	r.prefixes = slices.DeleteFunc(r.prefixes, func(x OnLinkPrefix) bool { return !now.Before(x.Expires) })
	r.routes = slices.DeleteFunc(r.routes, func(x Route) bool { return !now.Before(x.Expires) })
}

// NextDeadline returns the next expiry, and false if none.
func (r *Routing) NextDeadline() (time.Time, bool) {
	var next time.Time
	found := false
	see := func(d time.Time) {
		if !found || d.Before(next) {
			next, found = d, true
		}
	}
	for _, x := range r.routers {
		see(x.Expires)
	}
	for _, x := range r.prefixes {
		see(x.Expires)
	}
	for _, x := range r.routes {
		see(x.Expires)
	}
	return next, found
}
