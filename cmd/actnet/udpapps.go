package main

import (
	"net/netip"

	"github.com/actnet/actnet"
	"github.com/actnet/actnet/apps/udpecho"
)

// The UDP app kinds, started through otherApps.
func init() {
	otherApps["udp-echo"] = func(s *actnet.Stack, port uint16) (func(), error) {
		c, err := s.ListenUDP(netip.AddrPortFrom(netip.Addr{}, port))
		if err != nil {
			return nil, err
		}
		srv := udpecho.Serve(c)
		return func() { srv.Close() }, nil
	}
	availableApps["udp-echo"] = true
}
