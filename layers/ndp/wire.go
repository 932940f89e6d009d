// Package ndp is IPv6 Neighbor Discovery (RFC 4861) for Ethernet, as plain
// Go: the five ICMPv6 messages and their options (wire.go), the validity
// checks of RFC 4861 §6.1, §7.1 and §8.1 with one error per reason
// (validate.go), the neighbour cache and its Neighbor Unreachability
// Detection state machine (neighbor.go), the prefix list, default router
// list and destination cache with the conceptual sending algorithm of §5.2
// (router.go), and stateless address autoconfiguration with duplicate
// address detection (RFC 4862, addr.go).
//
// Messages here start at the ICMPv6 type byte and include the checksum
// field; checking and filling the checksum over the IPv6 pseudo-header is
// the ICMPv6 layer's business (Checksum is a helper for it and for tests).
// Nothing here reads the clock, starts goroutines or keeps locks: every
// call takes the current time, and the tables report their next deadline.
package ndp

import (
	"encoding/binary"
	"errors"
	"net/netip"
	"time"

	"github.com/actnet/actnet/layers/checksum"
	"github.com/actnet/actnet/layers/ethernet"
)

// Type is the ICMPv6 type of a Neighbor Discovery message.
type Type uint8

// The five Neighbor Discovery messages (RFC 4861 §4).
const (
	TypeRouterSolicitation    Type = 133
	TypeRouterAdvertisement   Type = 134
	TypeNeighborSolicitation  Type = 135
	TypeNeighborAdvertisement Type = 136
	TypeRedirect              Type = 137
)

// String names the message type.
func (t Type) String() string {
	switch t {
	case TypeRouterSolicitation:
		return "router solicitation"
	case TypeRouterAdvertisement:
		return "router advertisement"
	case TypeNeighborSolicitation:
		return "neighbor solicitation"
	case TypeNeighborAdvertisement:
		return "neighbor advertisement"
	case TypeRedirect:
		return "redirect"
	}
	return "type(" + itoa(int(t)) + ")"
}

// headerLen is the fixed part of each message, ICMPv6 header included;
// options follow it.
func headerLen(t Type) int {
	switch t {
	case TypeRouterSolicitation:
		return 8
	case TypeRouterAdvertisement:
		return 16
	case TypeNeighborSolicitation, TypeNeighborAdvertisement:
		return 24
	case TypeRedirect:
		return 40
	}
	return -1
}

// OptionType is the type of a Neighbor Discovery option.
type OptionType uint8

// Options this package understands. Others are skipped (RFC 4861 §4.6:
// "Receivers MUST silently ignore any options they do not recognize").
const (
	OptSourceLinkAddr      OptionType = 1  // RFC 4861 §4.6.1
	OptTargetLinkAddr      OptionType = 2  // RFC 4861 §4.6.1
	OptPrefixInfo          OptionType = 3  // RFC 4861 §4.6.2
	OptRedirectedHeader    OptionType = 4  // RFC 4861 §4.6.3
	OptMTU                 OptionType = 5  // RFC 4861 §4.6.4
	OptNonce               OptionType = 14 // RFC 3971 §5.3.2, used by DAD per RFC 7527
	OptRouteInfo           OptionType = 24 // RFC 4191 §2.3
	OptRecursiveDNSServers OptionType = 25 // RFC 8106 §5.1
)

// Preference is a router or route preference (RFC 4191 §2.1), ordered so
// that a larger value is preferred.
type Preference int8

// Preferences. The reserved encoding (binary 10) is decoded as Medium for a
// router advertisement (RFC 4191 §2.2) and makes a route information option
// be ignored (RFC 4191 §2.3).
const (
	PrefLow    Preference = -1
	PrefMedium Preference = 0
	PrefHigh   Preference = 1
)

// String names the preference.
func (p Preference) String() string {
	switch p {
	case PrefLow:
		return "low"
	case PrefMedium:
		return "medium"
	case PrefHigh:
		return "high"
	}
	return "preference(" + itoa(int(p)) + ")"
}

// decodePref decodes the two-bit Prf field; reserved reports binary 10.
func decodePref(bits byte) (p Preference, reserved bool) {
	switch bits & 3 {
	case 0:
		return PrefMedium, false
	case 1:
		return PrefHigh, false
	case 3:
		return PrefLow, false
	}
	return PrefMedium, true
}

func encodePref(p Preference) byte {
	switch {
	case p > 0:
		return 1
	case p < 0:
		return 3
	}
	return 0
}

// Infinity is the all-ones lifetime (0xffffffff seconds) of prefixes, routes
// and DNS servers: it never expires.
const Infinity = ^uint32(0)

// Lifetime converts a 32-bit lifetime in seconds to a duration; Infinity
// becomes the largest duration, which callers treat as "never".
func Lifetime(sec uint32) time.Duration {
	if sec == Infinity {
		return time.Duration(1<<63 - 1)
	}
	return time.Duration(sec) * time.Second
}

// PrefixInfo is a Prefix Information option (RFC 4861 §4.6.2).
type PrefixInfo struct {
	Prefix            netip.Prefix // masked: bits past the length are cleared
	OnLink            bool         // the L flag
	Autonomous        bool         // the A flag
	ValidLifetime     uint32       // seconds; Infinity never expires
	PreferredLifetime uint32       // seconds; Infinity never expires
}

// RouteInfo is an RFC 4191 Route Information option: a more-specific route
// through the advertising router.
type RouteInfo struct {
	Prefix     netip.Prefix
	Preference Preference
	Lifetime   uint32 // seconds; Infinity never expires
}

// RDNSS is an RFC 8106 Recursive DNS Server option.
type RDNSS struct {
	Lifetime uint32 // seconds; 0 withdraws the servers, Infinity never expires
	Servers  []netip.Addr
}

// Options are the options of one message that this package understands.
// Addresses and sizes have been checked; unknown options were skipped and
// options RFC 4191 and RFC 8106 say to ignore were counted in Ignored.
type Options struct {
	SourceLinkAddr    ethernet.Addr
	HasSourceLinkAddr bool
	TargetLinkAddr    ethernet.Addr
	HasTargetLinkAddr bool
	MTU               uint32
	HasMTU            bool
	// Nonce is the nonce option of a DAD solicitation (RFC 7527): a node
	// that receives its own nonce back sees a looped-back solicitation,
	// not a duplicate. Only 6-byte nonces (the length-1 form Linux sends)
	// are kept; longer ones set HasNonce with a zero Nonce.
	Nonce      [6]byte
	HasNonce   bool
	Prefixes   []PrefixInfo
	Routes     []RouteInfo
	DNSServers []RDNSS
	// Redirected is the data of a Redirected Header option: as much of the
	// redirected packet (IPv6 header onwards) as fitted. It aliases the
	// parsed buffer.
	Redirected []byte
	// Ignored counts options skipped as malformed by the rules of their own
	// RFC (route information with a reserved preference or a length that
	// does not fit its prefix length; DNS server options shorter than one
	// address) and repeated single options after the first.
	Ignored int
}

// Reasons NewMessage and Parse reject a message's structure. Validate adds
// the semantic reasons of validate.go.
var (
	ErrTruncated        = errors.New("ndp: message shorter than its fixed part")
	ErrType             = errors.New("ndp: not a neighbor discovery message type")
	ErrOptionLength     = errors.New("ndp: option with length zero")
	ErrOptionTruncated  = errors.New("ndp: option runs past the end of the message")
	ErrLinkAddrLength   = errors.New("ndp: link-layer address option not 8 bytes (Ethernet)")
	ErrPrefixInfoLength = errors.New("ndp: prefix information option not 32 bytes")
	ErrPrefixInfoLen    = errors.New("ndp: prefix information with prefix length over 128")
	ErrMTULength        = errors.New("ndp: MTU option not 8 bytes")
)

// Message is a byte view of a Neighbor Discovery message whose fixed part
// and option framing have been checked by NewMessage.
type Message []byte

// NewMessage checks that b is one of the five messages, long enough for its
// fixed part, with options that each have a non-zero length and fit (RFC
// 4861 §4.6: "Nodes MUST silently discard an ND packet that contains an
// option with length zero"). It does not check the checksum, the code, the
// hop limit or the addresses; Validate does.
func NewMessage(b []byte) (Message, error) {
	if len(b) < 1 {
		return nil, ErrTruncated
	}
	hl := headerLen(Type(b[0]))
	if hl < 0 {
		return nil, ErrType
	}
	if len(b) < hl {
		return nil, ErrTruncated
	}
	for o := b[hl:]; len(o) > 0; {
		if len(o) < 2 {
			return nil, ErrOptionTruncated
		}
		n := int(o[1]) * 8
		if n == 0 {
			return nil, ErrOptionLength
		}
		if n > len(o) {
			return nil, ErrOptionTruncated
		}
		o = o[n:]
	}
	return Message(b), nil
}

// Type returns the message type.
func (m Message) Type() Type { return Type(m[0]) }

// Code returns the ICMPv6 code, which must be 0.
func (m Message) Code() uint8 { return m[1] }

// Checksum returns the ICMPv6 checksum field.
func (m Message) Checksum() uint16 { return binary.BigEndian.Uint16(m[2:4]) }

// RawOptions returns the options part of the message.
func (m Message) RawOptions() []byte { return m[headerLen(m.Type()):] }

// Option is one option in a message: its type, and its bytes including the
// type and length octets.
type Option struct {
	Type OptionType
	Data []byte
}

// EachOption calls f for each option in order until f returns false. The
// framing was checked by NewMessage.
func (m Message) EachOption(f func(Option) bool) {
	for o := m.RawOptions(); len(o) >= 2 && o[1] != 0 && int(o[1])*8 <= len(o); {
		n := int(o[1]) * 8
		if !f(Option{Type: OptionType(o[0]), Data: o[:n]}) {
			return
		}
		o = o[n:]
	}
}

// Repr is the representation of a Neighbor Discovery message. Fields that a
// message type does not have are zero.
type Repr struct {
	Type Type
	Code uint8 // must be 0 when valid; kept so Validate can tell

	// Router advertisement (RFC 4861 §4.2, RFC 4191 §2.2).
	CurHopLimit    uint8
	Managed        bool       // M: addresses from DHCPv6
	Other          bool       // O: other configuration from DHCPv6
	Preference     Preference // the default router preference
	PrefReserved   bool       // the reserved Prf value (10) was received, decoded as medium
	RouterLifetime uint16     // seconds; 0: not a default router
	ReachableTime  uint32     // milliseconds; 0: unspecified
	RetransTimer   uint32     // milliseconds; 0: unspecified

	// Neighbor solicitation and advertisement, redirect.
	Target netip.Addr
	// Neighbor advertisement flags (RFC 4861 §4.4).
	Router, Solicited, Override bool
	// Redirect (RFC 4861 §4.5).
	Destination netip.Addr

	Options Options
}

// Parse checks b with NewMessage and returns its representation. It fails
// on options of the wrong size for their type (ErrLinkAddrLength,
// ErrPrefixInfoLength, ErrMTULength).
func Parse(b []byte) (Repr, error) {
	m, err := NewMessage(b)
	if err != nil {
		return Repr{}, err
	}
	return m.Repr()
}

// Repr decodes the message and its options.
func (m Message) Repr() (Repr, error) {
	r := Repr{Type: m.Type(), Code: m.Code()}
	switch r.Type {
	case TypeRouterAdvertisement:
		r.CurHopLimit = m[4]
		r.Managed = m[5]&0x80 != 0
		r.Other = m[5]&0x40 != 0
		r.Preference, r.PrefReserved = decodePref(m[5] >> 3)
		r.RouterLifetime = binary.BigEndian.Uint16(m[6:8])
		r.ReachableTime = binary.BigEndian.Uint32(m[8:12])
		r.RetransTimer = binary.BigEndian.Uint32(m[12:16])
	case TypeNeighborSolicitation:
		r.Target = netip.AddrFrom16([16]byte(m[8:24]))
	case TypeNeighborAdvertisement:
		r.Router = m[4]&0x80 != 0
		r.Solicited = m[4]&0x40 != 0
		r.Override = m[4]&0x20 != 0
		r.Target = netip.AddrFrom16([16]byte(m[8:24]))
	case TypeRedirect:
		r.Target = netip.AddrFrom16([16]byte(m[8:24]))
		r.Destination = netip.AddrFrom16([16]byte(m[24:40]))
	}
	var err error
	m.EachOption(func(o Option) bool {
		err = r.Options.add(o, r.Type)
		return err == nil
	})
	if err != nil {
		return Repr{}, err
	}
	return r, nil
}

func (opts *Options) add(o Option, t Type) error {
	d := o.Data
	switch o.Type {
	case OptSourceLinkAddr, OptTargetLinkAddr:
		if len(d) != 8 {
			return ErrLinkAddrLength
		}
		mac := ethernet.Addr(d[2:8])
		if o.Type == OptSourceLinkAddr {
			if opts.HasSourceLinkAddr {
				opts.Ignored++
				return nil
			}
			opts.SourceLinkAddr, opts.HasSourceLinkAddr = mac, true
		} else {
			if opts.HasTargetLinkAddr {
				opts.Ignored++
				return nil
			}
			opts.TargetLinkAddr, opts.HasTargetLinkAddr = mac, true
		}
	case OptMTU:
		if len(d) != 8 {
			return ErrMTULength
		}
		if opts.HasMTU {
			opts.Ignored++
			return nil
		}
		opts.MTU, opts.HasMTU = binary.BigEndian.Uint32(d[4:8]), true
	case OptNonce:
		if opts.HasNonce {
			opts.Ignored++
			return nil
		}
		opts.HasNonce = true
		if len(d) == 8 {
			opts.Nonce = [6]byte(d[2:8])
		}
	case OptPrefixInfo:
		if len(d) != 32 {
			return ErrPrefixInfoLength
		}
		if d[2] > 128 {
			return ErrPrefixInfoLen
		}
		p, _ := netip.AddrFrom16([16]byte(d[16:32])).Prefix(int(d[2]))
		opts.Prefixes = append(opts.Prefixes, PrefixInfo{
			Prefix:            p,
			OnLink:            d[3]&0x80 != 0,
			Autonomous:        d[3]&0x40 != 0,
			ValidLifetime:     binary.BigEndian.Uint32(d[4:8]),
			PreferredLifetime: binary.BigEndian.Uint32(d[8:12]),
		})
	case OptRedirectedHeader:
		if t != TypeRedirect {
			// RFC 4861 §4.6.3 defines it for redirects only; elsewhere it is
			// an option we do not recognise there, so it is skipped.
			opts.Ignored++
			return nil
		}
		opts.Redirected = d[8:]
	case OptRouteInfo:
		// RFC 4191 §2.3: length 1 for /0, 2 up to /64, 3 up to /128; a
		// reserved preference or an inconsistent length is ignored.
		plen := int(d[2])
		pref, reserved := decodePref(d[3] >> 3)
		n := len(d) / 8
		if reserved || plen > 128 || n > 3 || (plen > 64 && n < 3) || (plen > 0 && n < 2) {
			opts.Ignored++
			return nil
		}
		var a [16]byte
		copy(a[:], d[8:])
		p, _ := netip.AddrFrom16(a).Prefix(plen)
		opts.Routes = append(opts.Routes, RouteInfo{
			Prefix:     p,
			Preference: pref,
			Lifetime:   binary.BigEndian.Uint32(d[4:8]),
		})
	case OptRecursiveDNSServers:
		// RFC 8106 §5.1: length 3 + 2 per extra address, so odd and >= 3.
		if len(d) < 24 || (len(d)/8)%2 == 0 {
			opts.Ignored++
			return nil
		}
		s := RDNSS{Lifetime: binary.BigEndian.Uint32(d[4:8])}
		for a := d[8:]; len(a) >= 16; a = a[16:] {
			s.Servers = append(s.Servers, netip.AddrFrom16([16]byte(a[:16])))
		}
		opts.DNSServers = append(opts.DNSServers, s)
	}
	return nil
}

// Len returns the length of the emitted message.
func (r Repr) Len() int {
	n := headerLen(r.Type)
	if n < 0 {
		return 0
	}
	return n + r.Options.Len()
}

// Len returns the length of the emitted options.
func (o *Options) Len() int {
	n := 0
	if o.HasSourceLinkAddr {
		n += 8
	}
	if o.HasTargetLinkAddr {
		n += 8
	}
	if o.HasMTU {
		n += 8
	}
	if o.HasNonce {
		n += 8
	}
	n += 32 * len(o.Prefixes)
	for _, r := range o.Routes {
		n += 8 * routeInfoUnits(r.Prefix.Bits())
	}
	for _, s := range o.DNSServers {
		n += 8 + 16*len(s.Servers)
	}
	if o.Redirected != nil {
		n += redirectedLen(len(o.Redirected))
	}
	return n
}

// MaxRedirectLen is the most a redirect may take: the IPv6 minimum MTU less
// the IPv6 header (RFC 4861 §4.5: the redirected header is trimmed so that
// the redirect does not exceed 1280 bytes).
const MaxRedirectLen = 1280 - 40

// redirectedLen is the size of a redirected header option carrying n bytes:
// at most what fits with the fixed part and a target link-layer address.
func redirectedLen(n int) int {
	n = min(n, MaxRedirectLen-40-8-8)
	return 8 + (n+7)&^7
}

func routeInfoUnits(bits int) int {
	switch {
	case bits <= 0:
		return 1
	case bits <= 64:
		return 2
	}
	return 3
}

// Emit writes the message into b[:r.Len()] with a zero checksum, which the
// ICMPv6 layer fills in (or call SetChecksum). A short b is a caller bug and
// panics. Options are written in a fixed order: source and target
// link-layer address, MTU, nonce, prefixes, routes, DNS servers, redirected
// header; the redirected data is trimmed to keep the message within
// MaxRedirectLen and padded with zeros to a multiple of 8.
func (r Repr) Emit(b []byte) {
	hl := headerLen(r.Type)
	n := r.Len()
	_ = b[n-1]
	clear(b[:hl])
	b[0] = byte(r.Type)
	b[1] = r.Code
	switch r.Type {
	case TypeRouterAdvertisement:
		b[4] = r.CurHopLimit
		if r.Managed {
			b[5] |= 0x80
		}
		if r.Other {
			b[5] |= 0x40
		}
		b[5] |= encodePref(r.Preference) << 3
		binary.BigEndian.PutUint16(b[6:8], r.RouterLifetime)
		binary.BigEndian.PutUint32(b[8:12], r.ReachableTime)
		binary.BigEndian.PutUint32(b[12:16], r.RetransTimer)
	case TypeNeighborSolicitation:
		putAddr(b[8:24], r.Target)
	case TypeNeighborAdvertisement:
		if r.Router {
			b[4] |= 0x80
		}
		if r.Solicited {
			b[4] |= 0x40
		}
		if r.Override {
			b[4] |= 0x20
		}
		putAddr(b[8:24], r.Target)
	case TypeRedirect:
		putAddr(b[8:24], r.Target)
		putAddr(b[24:40], r.Destination)
	}
	r.Options.emit(b[hl:n])
}

func (o *Options) emit(b []byte) {
	clear(b)
	if o.HasSourceLinkAddr {
		b[0], b[1] = byte(OptSourceLinkAddr), 1
		copy(b[2:8], o.SourceLinkAddr[:])
		b = b[8:]
	}
	if o.HasTargetLinkAddr {
		b[0], b[1] = byte(OptTargetLinkAddr), 1
		copy(b[2:8], o.TargetLinkAddr[:])
		b = b[8:]
	}
	if o.HasMTU {
		b[0], b[1] = byte(OptMTU), 1
		binary.BigEndian.PutUint32(b[4:8], o.MTU)
		b = b[8:]
	}
	if o.HasNonce {
		b[0], b[1] = byte(OptNonce), 1
		copy(b[2:8], o.Nonce[:])
		b = b[8:]
	}
	for _, p := range o.Prefixes {
		b[0], b[1], b[2] = byte(OptPrefixInfo), 4, byte(p.Prefix.Bits())
		if p.OnLink {
			b[3] |= 0x80
		}
		if p.Autonomous {
			b[3] |= 0x40
		}
		binary.BigEndian.PutUint32(b[4:8], p.ValidLifetime)
		binary.BigEndian.PutUint32(b[8:12], p.PreferredLifetime)
		putAddr(b[16:32], p.Prefix.Masked().Addr())
		b = b[32:]
	}
	for _, r := range o.Routes {
		u := routeInfoUnits(r.Prefix.Bits())
		b[0], b[1], b[2] = byte(OptRouteInfo), byte(u), byte(max(r.Prefix.Bits(), 0))
		b[3] = encodePref(r.Preference) << 3
		binary.BigEndian.PutUint32(b[4:8], r.Lifetime)
		a := r.Prefix.Masked().Addr().As16()
		copy(b[8:8*u], a[:])
		b = b[8*u:]
	}
	for _, s := range o.DNSServers {
		b[0], b[1] = byte(OptRecursiveDNSServers), byte(1+2*len(s.Servers))
		binary.BigEndian.PutUint32(b[4:8], s.Lifetime)
		b = b[8:]
		for _, a := range s.Servers {
			putAddr(b[:16], a)
			b = b[16:]
		}
	}
	if o.Redirected != nil {
		n := redirectedLen(len(o.Redirected))
		b[0], b[1] = byte(OptRedirectedHeader), byte(n/8)
		copy(b[8:n], o.Redirected)
	}
}

func putAddr(b []byte, a netip.Addr) {
	if !a.Is6() {
		clear(b[:16])
		return
	}
	s := a.As16()
	copy(b, s[:])
}

// Checksum returns the ICMPv6 checksum (RFC 4443 §2.3) of msg sent from src
// to dst, computed with msg's checksum field taken as zero. A received
// message is intact when Checksum equals Message.Checksum.
func Checksum(msg []byte, src, dst netip.Addr) uint16 {
	const nextHeaderICMPv6 = 58
	s := checksum.PseudoHeaderSum(src, dst, nextHeaderICMPv6, len(msg))
	s = checksum.Sum(msg[:2], s)
	s = checksum.Sum(msg[4:], s)
	return checksum.Fold(s)
}

// SetChecksum fills in msg's checksum field for src and dst.
func SetChecksum(msg []byte, src, dst netip.Addr) {
	binary.BigEndian.PutUint16(msg[2:4], Checksum(msg, src, dst))
}

func itoa(n int) string {
	if n == 0 {
		return "0"
	}
	neg := n < 0
	if neg {
		n = -n
	}
	var d [20]byte
	i := len(d)
	for ; n > 0; n /= 10 {
		i--
		d[i] = byte('0' + n%10)
	}
	if neg {
		i--
		d[i] = '-'
	}
	return string(d[i:])
}
