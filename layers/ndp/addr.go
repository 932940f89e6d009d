package ndp

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"math/rand/v2"
	"net/netip"
	"slices"
	"time"

	"github.com/actnet/actnet/layers/ethernet"
)

// Well-known multicast groups (RFC 4291 §2.7.1).
var (
	AllNodes   = netip.MustParseAddr("ff02::1")
	AllRouters = netip.MustParseAddr("ff02::2")
)

// SolicitedNode returns ip's solicited-node multicast group,
// ff02::1:ff00:0/104 followed by the low 24 bits of ip (RFC 4291 §2.7.1).
func SolicitedNode(ip netip.Addr) netip.Addr {
	a := ip.As16()
	return netip.AddrFrom16([16]byte{0: 0xff, 1: 0x02, 11: 0x01, 12: 0xff, 13: a[13], 14: a[14], 15: a[15]})
}

// IsSolicitedNode reports whether ip is a solicited-node multicast group.
func IsSolicitedNode(ip netip.Addr) bool {
	if !ip.Is6() || ip.Is4In6() {
		return false
	}
	a := ip.As16()
	return a == [16]byte{0: 0xff, 1: 0x02, 11: 0x01, 12: 0xff, 13: a[13], 14: a[14], 15: a[15]}
}

// SolicitedNodeMAC returns the Ethernet group of ip's solicited-node group,
// 33:33:ff followed by the low 24 bits of ip (RFC 2464 §7).
func SolicitedNodeMAC(ip netip.Addr) ethernet.Addr {
	return ethernet.MulticastAddrForIPv6(SolicitedNode(ip))
}

// IID is a 64-bit interface identifier (RFC 4291 §2.5.1).
type IID [8]byte

// EUI64 returns the modified EUI-64 interface identifier of mac (RFC 4291
// Appendix A): ff:fe inserted in the middle and the universal/local bit
// inverted, so 02:00:00:00:00:02 gives 0000:00ff:fe00:0002.
func EUI64(mac ethernet.Addr) IID {
	return IID{mac[0] ^ 0x02, mac[1], mac[2], 0xff, 0xfe, mac[3], mac[4], mac[5]}
}

// StableIID returns the RFC 7217 semantically opaque interface identifier
// for prefix: the first 64 bits of HMAC-SHA256(secret, prefix | netIface |
// networkID | dadCounter), where the prefix is its first 8 bytes. The same
// inputs always give the same identifier; a different prefix, interface or
// network gives an unrelated one. Callers skip reserved identifiers by
// incrementing dadCounter (RFC 7217 §5).
func StableIID(secret []byte, prefix netip.Prefix, netIface, networkID []byte, dadCounter uint8) IID {
	m := hmac.New(sha256.New, secret)
	p := prefix.Masked().Addr().As16()
	m.Write(p[:8])
	m.Write(netIface)
	m.Write(networkID)
	m.Write([]byte{dadCounter})
	var sum [sha256.Size]byte
	return IID(m.Sum(sum[:0])[:8])
}

// RandomIID returns an identifier from r (RFC 4941 style), with the
// universal/local bit clear as RFC 4941 §3.3.1 asks.
func RandomIID(r func() uint64) IID {
	var id IID
	binary.BigEndian.PutUint64(id[:], r())
	id[0] &^= 0x02
	return id
}

// IsReserved reports whether id is a reserved interface identifier (RFC
// 5453): the subnet-router anycast (all zeros), the proxy mobile range
// 0200:5eff:fe00:5213 and the 0200:5eff:fe00:0000-5212 range, and the
// subnet anycast range fdff:ffff:ffff:ff80-ffff.
func IsReserved(id IID) bool {
	v := binary.BigEndian.Uint64(id[:])
	switch {
	case v == 0:
		return true
	case v>>16 == 0x02005efffe00 && v&0xffff <= 0x5213:
		return true
	case v >= 0xfdffffffffffff80:
		return true
	}
	return false
}

// AddrFrom returns the address with prefix's first 64 bits and id.
func AddrFrom(prefix netip.Prefix, id IID) netip.Addr {
	a := prefix.Masked().Addr().As16()
	copy(a[8:], id[:])
	return netip.AddrFrom16(a)
}

// LinkLocal returns fe80::/64 with id.
func LinkLocal(id IID) netip.Addr {
	return AddrFrom(netip.MustParsePrefix("fe80::/64"), id)
}

// IIDKind chooses how SLAAC forms interface identifiers.
type IIDKind uint8

// Kinds of interface identifier.
const (
	IIDEUI64  IIDKind = iota // from the MAC (RFC 4291), mnet's default
	IIDStable                // RFC 7217, stable per prefix and network
	IIDRandom                // random per address
)

// AddrState is the state of one of our addresses (RFC 4862 §2).
type AddrState uint8

// Address states. Invalid addresses are removed from the table.
const (
	AddrTentative  AddrState = iota + 1 // DAD running; not used
	AddrPreferred                       // usable
	AddrDeprecated                      // usable for existing communication, not new
	AddrDuplicate                       // DAD failed; never used
)

// String names the state.
func (s AddrState) String() string {
	switch s {
	case AddrTentative:
		return "tentative"
	case AddrPreferred:
		return "preferred"
	case AddrDeprecated:
		return "deprecated"
	case AddrDuplicate:
		return "duplicate"
	}
	return "addrstate(" + itoa(int(s)) + ")"
}

// AddrOrigin says where an address came from.
type AddrOrigin uint8

// Origins.
const (
	OriginLinkLocal AddrOrigin = iota + 1
	OriginSLAAC
	OriginStatic
)

// Address is one of our addresses.
type Address struct {
	Addr           netip.Addr
	Prefix         netip.Prefix
	State          AddrState
	Origin         AddrOrigin
	ValidUntil     time.Time // removal; far future for infinite lifetimes
	PreferredUntil time.Time // deprecation
	dadSent        int
	dadNext        time.Time
	dadCounter     uint8
}

// TwoHours is the RFC 4862 §5.5.3 (e) floor on a valid lifetime that an
// unauthenticated router advertisement may shorten.
const TwoHours = 2 * time.Hour

// Defaults of AddrConfig.
const (
	DefaultMaxAddrs               = 16
	DefaultDupAddrDetectTransmits = 1
	IDGenRetries                  = 3 // RFC 7217 §6
)

// AddrConfig configures an Addrs table.
type AddrConfig struct {
	MAC  ethernet.Addr
	Kind IIDKind
	// Secret, NetIface and NetworkID feed RFC 7217 identifiers.
	Secret, NetIface, NetworkID []byte
	// MaxAddrs caps the table (DefaultMaxAddrs): router advertisements
	// with many autonomous prefixes cannot grow it beyond.
	MaxAddrs int
	// DupAddrDetectTransmits is the number of DAD solicitations (default
	// 1; negative turns DAD off).
	DupAddrDetectTransmits int
	// RetransTimer is the wait after each DAD solicitation (default 1 s).
	RetransTimer time.Duration
	// MaxDADDelay bounds the random delay before the first DAD
	// solicitation (RFC 4862 §5.4.2 asks for up to MAX_RTR_SOLICITATION_
	// DELAY when the interface starts); 0 sends at once.
	MaxDADDelay time.Duration
	// Rand returns uniform 64-bit values: random identifiers and delays.
	// Nil uses math/rand/v2.
	Rand func() uint64
}

// Addrs is the table of our IPv6 addresses on one interface, with SLAAC
// (RFC 4862 §5.5) and duplicate address detection (§5.4). Like the other
// tables it takes time as an argument and reports its next deadline.
type Addrs struct {
	cfg   AddrConfig
	addrs []*Address // in creation order
}

// NewAddrs returns an empty table.
func NewAddrs(cfg AddrConfig) *Addrs {
	if cfg.MaxAddrs <= 0 {
		cfg.MaxAddrs = DefaultMaxAddrs
	}
	if cfg.DupAddrDetectTransmits == 0 {
		cfg.DupAddrDetectTransmits = DefaultDupAddrDetectTransmits
	}
	if cfg.RetransTimer <= 0 {
		cfg.RetransTimer = RetransTimer
	}
	if cfg.Rand == nil {
		cfg.Rand = rand.Uint64
	}
	return &Addrs{cfg: cfg}
}

// SetRetransTimer follows a router advertisement's Retrans Timer.
func (t *Addrs) SetRetransTimer(d time.Duration) {
	if d > 0 {
		t.cfg.RetransTimer = d
	}
}

// All returns a copy of every address, duplicates included.
func (t *Addrs) All() []Address {
	out := make([]Address, len(t.addrs))
	for i, a := range t.addrs {
		out[i] = *a
	}
	return out
}

// Lookup returns our address ip.
func (t *Addrs) Lookup(ip netip.Addr) (Address, bool) {
	if a := t.find(ip); a != nil {
		return *a, true
	}
	return Address{}, false
}

// Usable reports whether ip is ours and may be used as a source or
// accepted as a destination (preferred or deprecated, not tentative or
// duplicate).
func (t *Addrs) Usable(ip netip.Addr) bool {
	a := t.find(ip)
	return a != nil && (a.State == AddrPreferred || a.State == AddrDeprecated)
}

// Preferred returns the preferred addresses, in creation order.
func (t *Addrs) Preferred() []netip.Addr {
	var out []netip.Addr
	for _, a := range t.addrs {
		if a.State == AddrPreferred {
			out = append(out, a.Addr)
		}
	}
	return out
}

func (t *Addrs) find(ip netip.Addr) *Address {
	for _, a := range t.addrs {
		if a.Addr == ip {
			return a
		}
	}
	return nil
}

func (t *Addrs) iid(prefix netip.Prefix, counter uint8) (IID, uint8) {
	for range 256 {
		var id IID
		switch t.cfg.Kind {
		case IIDStable:
			id = StableIID(t.cfg.Secret, prefix, t.cfg.NetIface, t.cfg.NetworkID, counter)
		case IIDRandom:
			id = RandomIID(t.cfg.Rand)
		default:
			return EUI64(t.cfg.MAC), counter
		}
		if !IsReserved(id) {
			return id, counter
		}
		counter++
	}
	return EUI64(t.cfg.MAC), counter
}

// far is used for infinite lifetimes.
func far(now time.Time, d time.Duration) time.Time {
	if d >= Lifetime(Infinity) {
		return now.Add(200 * 365 * 24 * time.Hour)
	}
	return now.Add(d)
}

func (t *Addrs) add(a *Address, now time.Time) bool {
	if len(t.addrs) >= t.cfg.MaxAddrs || t.find(a.Addr) != nil {
		return false
	}
	a.State = AddrTentative
	a.dadNext = now
	if t.cfg.MaxDADDelay > 0 {
		a.dadNext = now.Add(time.Duration(t.cfg.Rand() % uint64(t.cfg.MaxDADDelay)))
	}
	t.addrs = append(t.addrs, a)
	return true
}

// AddLinkLocal adds the link-local address fe80::/64 with this table's
// identifier, tentative; DAD starts at the next Advance. It reports false if
// it exists or the table is full.
func (t *Addrs) AddLinkLocal(now time.Time) (netip.Addr, bool) {
	p := netip.MustParsePrefix("fe80::/64")
	id, c := t.iid(p, 0)
	a := &Address{Addr: AddrFrom(p, id), Prefix: p, Origin: OriginLinkLocal,
		ValidUntil: far(now, Lifetime(Infinity)), PreferredUntil: far(now, Lifetime(Infinity)), dadCounter: c}
	return a.Addr, t.add(a, now)
}

// AddStatic adds a configured address with infinite lifetimes, tentative
// until DAD passes.
func (t *Addrs) AddStatic(p netip.Prefix, now time.Time) bool {
	a := &Address{Addr: p.Addr(), Prefix: p.Masked(), Origin: OriginStatic,
		ValidUntil: far(now, Lifetime(Infinity)), PreferredUntil: far(now, Lifetime(Infinity))}
	return t.add(a, now)
}

// HandlePrefix applies a Prefix Information option of a valid router
// advertisement (RFC 4862 §5.5.3). It returns the address formed, if a new
// one was.
func (t *Addrs) HandlePrefix(pi PrefixInfo, now time.Time) (netip.Addr, bool) {
	// (a), (b), (c)
	if !pi.Autonomous || pi.Prefix.Addr().IsLinkLocalUnicast() || pi.PreferredLifetime > pi.ValidLifetime {
		return netip.Addr{}, false
	}
	// Ethernet identifiers are 64 bits (RFC 2464 §4): other lengths cannot
	// form an address and are ignored.
	if pi.Prefix.Bits() != 64 {
		return netip.Addr{}, false
	}
	valid, preferred := Lifetime(pi.ValidLifetime), Lifetime(pi.PreferredLifetime)
	prefix := pi.Prefix.Masked()
	seen := false
	for _, a := range t.addrs {
		if a.Origin != OriginSLAAC || a.Prefix != prefix {
			continue
		}
		seen = true
		// (e)
		a.PreferredUntil = far(now, preferred)
		if a.State == AddrPreferred && !now.Before(a.PreferredUntil) {
			a.State = AddrDeprecated
		} else if a.State == AddrDeprecated && now.Before(a.PreferredUntil) {
			a.State = AddrPreferred
		}
		remaining := a.ValidUntil.Sub(now)
		switch {
		case valid > TwoHours || valid > remaining:
			a.ValidUntil = far(now, valid)
		case remaining <= TwoHours:
			// ignore the valid lifetime
		default:
			a.ValidUntil = now.Add(TwoHours)
		}
	}
	if seen || valid == 0 {
		return netip.Addr{}, false
	}
	// (d): a new prefix.
	id, c := t.iid(prefix, 0)
	a := &Address{Addr: AddrFrom(prefix, id), Prefix: prefix, Origin: OriginSLAAC,
		ValidUntil: far(now, valid), PreferredUntil: far(now, preferred), dadCounter: c}
	if !t.add(a, now) {
		return netip.Addr{}, false
	}
	return a.Addr, true
}

// DADResult says what a received message meant for our addresses.
type DADResult uint8

// Results of HandleSolicitation and HandleAdvertisement.
const (
	NotOurs   DADResult = iota // the target is not one of our addresses
	Ours                       // ours and usable: answer a solicitation; an advertisement from elsewhere is a conflict to log (RFC 4862 §5.4.4)
	Duplicate                  // a tentative address is a duplicate: never used
	Ignore                     // ours and tentative, from someone resolving it: drop silently (RFC 4862 §5.4.3)
)

// HandleSolicitation checks a valid neighbour solicitation for target
// against our addresses. srcUnspecified is true for another node's DAD. A
// solicitation for a tentative address from the unspecified source means
// another node is claiming it (RFC 4862 §5.4.3). The caller must first
// discard its own solicitations looped back (RFC 7527's nonce), which
// this table cannot tell apart.
func (t *Addrs) HandleSolicitation(target netip.Addr, srcUnspecified bool, now time.Time) DADResult {
	a := t.find(target)
	switch {
	case a == nil:
		return NotOurs
	case a.State == AddrDuplicate:
		return Ignore
	case a.State != AddrTentative:
		return Ours
	case srcUnspecified:
		t.fail(a, now)
		return Duplicate
	}
	return Ignore
}

// HandleAdvertisement checks a valid neighbour advertisement for target: an
// advertisement for a tentative address means it is in use (RFC 4862
// §5.4.4).
func (t *Addrs) HandleAdvertisement(target netip.Addr, now time.Time) DADResult {
	a := t.find(target)
	switch {
	case a == nil:
		return NotOurs
	case a.State == AddrTentative:
		t.fail(a, now)
		return Duplicate
	case a.State == AddrDuplicate:
		return Ignore
	}
	return Ours
}

// fail marks a duplicate and, for RFC 7217 and random identifiers,
// schedules a new address for the same prefix (RFC 7217 §6: up to
// IDGenRetries times); EUI-64 addresses are not retried (RFC 4862 §5.4.5:
// manual intervention is needed).
func (t *Addrs) fail(a *Address, now time.Time) {
	a.State = AddrDuplicate
	if a.Origin == OriginStatic || t.cfg.Kind == IIDEUI64 || int(a.dadCounter) >= IDGenRetries {
		return
	}
	id, c := t.iid(a.Prefix, a.dadCounter+1)
	n := &Address{Addr: AddrFrom(a.Prefix, id), Prefix: a.Prefix, Origin: a.Origin,
		ValidUntil: a.ValidUntil, PreferredUntil: a.PreferredUntil, dadCounter: c}
	t.add(n, now)
}

// AddrActions is what Addrs.Advance asks of the caller.
type AddrActions struct {
	// DAD are the tentative addresses to send a solicitation for: from the
	// unspecified address to SolicitedNode(addr) (and its MAC), no source
	// link-layer option, after joining that group (RFC 4862 §5.4.2).
	DAD []netip.Addr
	// Ready are the addresses that passed DAD and can be used.
	Ready []netip.Addr
	// Deprecated are addresses whose preferred lifetime ended.
	Deprecated []netip.Addr
	// Removed are addresses whose valid lifetime ended (duplicates
	// included): the caller leaves their solicited-node group and drops
	// connections bound to them.
	Removed []netip.Addr
}

// Advance runs DAD and lifetimes up to now.
func (t *Addrs) Advance(now time.Time) AddrActions {
	var act AddrActions
	t.addrs = slices.DeleteFunc(t.addrs, func(a *Address) bool {
		if !now.Before(a.ValidUntil) {
			act.Removed = append(act.Removed, a.Addr)
			return true
		}
		return false
	})
	for _, a := range t.addrs {
		switch a.State {
		case AddrTentative:
			if now.Before(a.dadNext) {
				continue
			}
			if a.dadSent < t.cfg.DupAddrDetectTransmits {
				a.dadSent++
				a.dadNext = now.Add(t.cfg.RetransTimer)
				act.DAD = append(act.DAD, a.Addr)
				continue
			}
			a.State = AddrPreferred
			act.Ready = append(act.Ready, a.Addr)
			if !now.Before(a.PreferredUntil) {
				a.State = AddrDeprecated
			}
		case AddrPreferred:
			if !now.Before(a.PreferredUntil) {
				a.State = AddrDeprecated
				act.Deprecated = append(act.Deprecated, a.Addr)
			}
		}
	}
	return act
}

// NextDeadline returns when Advance next has work, and false if never.
func (t *Addrs) NextDeadline() (time.Time, bool) {
	var next time.Time
	found := false
	see := func(d time.Time) {
		if !found || d.Before(next) {
			next, found = d, true
		}
	}
	for _, a := range t.addrs {
		see(a.ValidUntil)
		switch a.State {
		case AddrTentative:
			see(a.dadNext)
		case AddrPreferred:
			see(a.PreferredUntil)
		}
	}
	return next, found
}
