package main

import (
	"net/netip"

	"github.com/actnet/actnet/apps/udpecho"
)

// The UDP app kinds, started through otherApps.
func init() {
	otherApps["udp-echo"] = func(env appEnv, port uint16) (func(), error) {
		c, err := env.stack.ListenUDP(netip.AddrPortFrom(netip.Addr{}, port))
		if err != nil {
			return nil, err
		}
		srv := udpecho.Serve(c)
		return func() { srv.Close() }, nil
	}
	availableApps["udp-echo"] = true
}
