package actnet

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"slices"
)

// checkIPv4Config checks the IPv4 fields of cfg: a static address, or
// DHCP with an optional fallback.
func checkIPv4Config(cfg Config) error {
	if !cfg.IPv4DHCP {
		if cfg.IPv4Fallback.IsValid() {
			return errors.New("actnet: Config.IPv4Fallback is for IPv4DHCP")
		}
		if !cfg.IPv4.IsValid() || !cfg.IPv4.Addr().Is4() {
			return fmt.Errorf("actnet: invalid IPv4 address %v", cfg.IPv4)
		}
		return nil
	}
	if cfg.IPv4.IsValid() || cfg.IPv4Gateway.IsValid() {
		return errors.New("actnet: Config.IPv4 and IPv4Gateway must be zero with IPv4DHCP")
	}
	if f := cfg.IPv4Fallback; f.IsValid() && (!f.Addr().Is4() || f.Addr().IsUnspecified() || f.Addr().IsMulticast()) {
		return fmt.Errorf("actnet: invalid IPv4 fallback address %v", f)
	}
	return nil
}

// WaitIPv4 waits until the stack has an IPv4 address and returns it: at
// once for a static one, when DHCP has bound a lease (or taken the
// fallback) otherwise. It returns ctx's error when ctx ends first, which
// bounds the wait (a DHCP exchange takes about a second when a server
// answers at once, and the ARP probe of the offered address up to seven
// more, RFC 5227 §2.1.1), and the stack's error when it goes down.
func (s *Stack) WaitIPv4(ctx context.Context) (netip.Addr, error) {
	p, err := s.run.WaitIPv4(ctx)
	return p.Addr(), err
}

// DNSServers returns the DNS servers the network named: those of router
// advertisements (RFC 8106 RDNSS, while their lifetime lasts) first, then
// those of the DHCP lease. A resolver with no servers of its own uses them.
func (s *Stack) DNSServers() []netip.Addr {
	out := s.run.DNSServers6()
	if l, ok := s.DHCPLease(); ok {
		for _, a := range l.DNS {
			if !slices.Contains(out, a) {
				out = append(out, a)
			}
		}
	}
	return out
}
