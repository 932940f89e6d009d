//go:build !tamago

package actnet

import (
	"context"
	"fmt"
	"net/netip"
	"time"

	"github.com/rs/zerolog"

	"github.com/actnet/actnet/actors"
	"github.com/actnet/actnet/apps/dhcp"
)

// dhcpClient is the DHCP client a stack runs with Config.IPv4DHCP.
type dhcpClient = *dhcp.Client

// startDHCP opens the DHCP client's socket (0.0.0.0:68, broadcast
// allowed) and starts the client.
func (s *Stack) startDHCP(cfg Config, log zerolog.Logger) error {
	conn, err := s.ListenUDP(netip.AddrPortFrom(netip.IPv4Unspecified(), dhcp.ClientPort))
	if err != nil {
		return fmt.Errorf("actnet: DHCP client socket: %w", err)
	}
	conn.SetBroadcast(true)
	clock := cfg.Clock
	if clock == nil {
		clock = actors.RealClock{}
	}
	mac := s.run.Env.MAC
	s.dhcp = dhcp.Start(dhcp.Config{MAC: mac[:], Fallback: cfg.IPv4Fallback}, s.run, conn, clock, log)
	return nil
}

// DHCPLease is the lease the DHCP client holds, and whether it holds one.
type DHCPLease = dhcp.Lease

// DHCPLease returns the DHCP client's lease (Config.IPv4DHCP); false
// without one.
func (s *Stack) DHCPLease() (DHCPLease, bool) {
	if s.dhcp == nil {
		return DHCPLease{}, false
	}
	return s.dhcp.Lease()
}

// releaseDHCP releases the lease while the stack still runs (RFC 2131
// §4.4.6), and gives the DHCPRELEASE up to a second to leave: its next
// hop's MAC may need resolving first.
func (s *Stack) releaseDHCP() {
	if s.dhcp == nil {
		return
	}
	l, held := s.dhcp.Lease()
	s.dhcp.Close()
	if !held {
		return
	}
	hop := l.Server
	if !l.Addr.Contains(hop) {
		hop = l.Router
	}
	if hop.IsValid() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		s.run.AwaitNeighbor4(ctx, hop)
		cancel()
	}
}

// dhcpActive is the DHCP client for the tests' idle barrier; nil without
// one.
func (s *Stack) dhcpActive() actors.Active {
	if s.dhcp == nil {
		return nil
	}
	return s.dhcp
}
