package actnet

import (
	"context"
	"net/netip"

	"github.com/actnet/actnet/actors"
)

// IPv6Mode chooses how a stack gets its IPv6 addresses.
type IPv6Mode uint8

// The IPv6 modes. Every mode but IPv6Off also forms a link-local address
// (RFC 4862 §5.3), and every address goes through duplicate address
// detection before it is used (RFC 4862 §5.4).
const (
	// IPv6Auto (the zero value) adds an address for each prefix that
	// router advertisements announce for autoconfiguration (SLAAC, RFC
	// 4862) and takes the default routers they announce (RFC 4861, RFC
	// 4191 preferences). A router solicitation goes out at start.
	IPv6Auto IPv6Mode = iota
	// IPv6Static uses IPv6Config.Addr (and IPv6Config.Gateway) as given,
	// besides the link-local address; router advertisements still
	// configure routes and MTU, not addresses.
	IPv6Static
	// IPv6Off runs no IPv6 at all: IPv6 frames are dropped and counted.
	IPv6Off
)

// IIDKind chooses how interface identifiers are formed (the low 64 bits of
// link-local and SLAAC addresses).
type IIDKind uint8

// The interface identifier kinds.
const (
	// IIDEUI64 (the zero value) derives the identifier from the MAC
	// (RFC 4291 Appendix A), as mnet does: 02:00:00:00:00:02 gives
	// ::ff:fe00:2.
	IIDEUI64 IIDKind = iota
	// IIDStable is RFC 7217's: stable per prefix and network, opaque,
	// from IPv6Config.StableSecret.
	IIDStable
	// IIDRandom draws a random identifier per address.
	IIDRandom
)

// IPv6Config configures a stack's IPv6.
type IPv6Config struct {
	Mode IPv6Mode
	// Addr is the static address with its on-link prefix length
	// (IPv6Static).
	Addr netip.Prefix
	// Gateway is the static default router (IPv6Static); router
	// advertisements may add others.
	Gateway netip.Addr
	// IID chooses the interface identifiers.
	IID IIDKind
	// StableSecret keys IIDStable; a random one is drawn when empty (the
	// addresses are then stable for the life of the stack only).
	StableSecret []byte
}

// ErrNoIPv6 is returned by WaitIPv6 on a stack that runs no IPv6.
var ErrNoIPv6 = actors.ErrNoIPv6

// ipv6Ready is how a running stack reports its usable IPv6 addresses; the
// IPv6 family implements it.
type ipv6Ready interface {
	// IPv6Addrs returns the usable addresses (preferred or deprecated,
	// never tentative or duplicate) with their prefix lengths.
	IPv6Addrs() []netip.Prefix
	// WaitIPv6 waits until an address is usable (a global one when
	// global is set) and returns it.
	WaitIPv6(ctx context.Context, global bool) (netip.Addr, error)
}

var _ ipv6Ready = (*actors.Running)(nil)

// IPv6Addrs returns the stack's usable IPv6 addresses (preferred or
// deprecated, never tentative or duplicate) with their prefix lengths;
// none when IPv6 is off.
func (s *Stack) IPv6Addrs() []netip.Prefix { return s.run.IPv6Addrs() }

// WaitIPv6 waits until an IPv6 address is usable — a global one (not
// link-local) when global is set — and returns it. It returns ErrNoIPv6 on
// a stack that runs no IPv6, and ctx's error when ctx ends first. A client
// bounds the wait with ctx: duplicate address detection takes about a
// second, SLAAC waits for a router advertisement.
func (s *Stack) WaitIPv6(ctx context.Context, global bool) (netip.Addr, error) {
	return s.run.WaitIPv6(ctx, global)
}
