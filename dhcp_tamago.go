//go:build tamago

package actnet

import (
	"errors"
	"net/netip"
	"time"

	"github.com/rs/zerolog"

	"github.com/actnet/actnet/actors"
)

// dhcpClient has no implementation on GOOS=tamago: apps/dhcp's packet
// library (github.com/insomniacslk/dhcp) depends on
// github.com/u-root/uio/rand, which has no tamago port, so a unikernel
// takes a static address. make portable builds this file.
type dhcpClient = *struct{}

// errNoDHCP is what Config.IPv4DHCP gets on GOOS=tamago.
var errNoDHCP = errors.New("actnet: DHCP is not available in GOOS=tamago builds (its packet library's dependency github.com/u-root/uio/rand has no tamago port): give a static IPv4 address")

func (s *Stack) startDHCP(Config, zerolog.Logger) error { return errNoDHCP }

// DHCPLease is the lease a DHCP client holds (apps/dhcp's Lease on other
// targets).
type DHCPLease struct {
	Addr             netip.Prefix
	Router           netip.Addr
	DNS              []netip.Addr
	Server           netip.Addr
	Duration, T1, T2 time.Duration
	Start            time.Time
}

// DHCPLease reports no lease: there is no DHCP client on GOOS=tamago.
func (s *Stack) DHCPLease() (DHCPLease, bool) { return DHCPLease{}, false }

func (s *Stack) releaseDHCP() {}

func (s *Stack) dhcpActive() actors.Active { return nil }
