package dhcp

import (
	"errors"
	"net"
	"net/netip"
	"time"

	"github.com/insomniacslk/dhcp/dhcpv4"
)

// Infinite is the lease time of a lease that never ends (RFC 2131 §3.3:
// 0xffffffff seconds).
const Infinite = time.Duration(0xffffffff) * time.Second

// maxDNS bounds the DNS servers kept from one lease.
const maxDNS = 8

// Lease is what a server granted: the address with its subnet's prefix
// length, the default router, the DNS servers and the times.
type Lease struct {
	Addr   netip.Prefix
	Router netip.Addr // invalid when the server named none on the subnet
	DNS    []netip.Addr
	Server netip.Addr // the server identifier (option 54)
	// Duration is the lease time (option 51), Infinite for no end; T1
	// and T2 the renewal and rebinding times (options 58, 59; by default
	// half and seven eighths of it, RFC 2131 §4.4.5).
	Duration, T1, T2 time.Duration
	// Start is when the request that got the lease was sent: the times
	// count from there (RFC 2131 §4.4.1).
	Start time.Time
}

// Expiry is when the lease ends; the zero Time for an infinite one.
func (l Lease) Expiry() time.Time {
	if l.Duration == Infinite {
		return time.Time{}
	}
	return l.Start.Add(l.Duration)
}

// Reasons a DHCPACK does not make a lease.
var (
	errNoAddress = errors.New("dhcp: ack without a usable address")
	errNoLease   = errors.New("dhcp: ack without a lease time")
)

// leaseFrom reads the lease an ACK grants. server is the server we asked
// (used when the ACK leaves out its identifier).
func leaseFrom(ack *dhcpv4.DHCPv4, server netip.Addr, start time.Time) (Lease, error) {
	addr, ok := ipv4Of(ack.YourIPAddr)
	if !ok || addr.IsUnspecified() || addr.IsMulticast() || addr.IsLoopback() || addr == broadcastAddr {
		return Lease{}, errNoAddress
	}
	bits := classfulBits(addr)
	if m := ack.SubnetMask(); m != nil {
		if ones, size := m.Size(); size == 32 && ones > 0 {
			bits = ones
		}
	}
	l := Lease{Addr: netip.PrefixFrom(addr, bits), Start: start, Server: server}
	if id, ok := ipv4Of(ack.ServerIdentifier()); ok {
		l.Server = id
	}
	for _, r := range ack.Router() {
		// The first router on the subnet: one elsewhere could not be
		// reached to forward anything.
		if a, ok := ipv4Of(r); ok && l.Addr.Contains(a) && a != addr {
			l.Router = a
			break
		}
	}
	for _, d := range ack.DNS() {
		if a, ok := ipv4Of(d); ok && !a.IsUnspecified() && len(l.DNS) < maxDNS {
			l.DNS = append(l.DNS, a)
		}
	}
	l.Duration = ack.IPAddressLeaseTime(0)
	if l.Duration <= 0 {
		// RFC 2131 §4.3.1: an ACK to a REQUEST must carry the lease time.
		return Lease{}, errNoLease
	}
	if l.Duration == Infinite {
		return l, nil
	}
	l.T1 = ack.IPAddressRenewalTime(l.Duration / 2)
	l.T2 = ack.IPAddressRebindingTime(l.Duration * 7 / 8)
	if l.T2 <= 0 || l.T2 > l.Duration {
		l.T2 = l.Duration * 7 / 8
	}
	if l.T1 <= 0 || l.T1 > l.T2 {
		l.T1 = min(l.Duration/2, l.T2)
	}
	return l, nil
}

// classfulBits is the network's prefix length by its class, for a server
// that sends no subnet mask (RFC 1122 §3.3.1.1's default).
func classfulBits(a netip.Addr) int {
	switch b := a.As4()[0]; {
	case b < 128:
		return 8
	case b < 192:
		return 16
	}
	return 24
}

var broadcastAddr = netip.AddrFrom4([4]byte{255, 255, 255, 255})

// ipv4Of converts a 4- or 16-byte net.IP holding an IPv4 address.
func ipv4Of(ip net.IP) (netip.Addr, bool) {
	if v4 := ip.To4(); v4 != nil {
		return netip.AddrFrom4([4]byte(v4)), true
	}
	return netip.Addr{}, false
}
