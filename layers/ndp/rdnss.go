package ndp

import (
	"net/netip"
	"slices"
	"time"
)

// MaxDNSServers bounds the DNS servers kept from router advertisements
// (RFC 8106 §5.3.1 lets a host keep a limited number, and principle 5
// wants every table capped).
const MaxDNSServers = 8

// DNSServer is one recursive DNS server learnt from an RDNSS option (RFC
// 8106 §5.1) and when its lifetime ends.
type DNSServer struct {
	Addr  netip.Addr
	Until time.Time
}

// DNSServers are the RDNSS servers heard, with their lifetimes. The zero
// value is empty and ready.
type DNSServers struct {
	list []DNSServer
}

// Update applies the RDNSS options of one router advertisement received
// at now (RFC 8106 §5.3.1): each server's lifetime is refreshed, a zero
// lifetime withdraws it, and a new server is added while there is room
// (else it replaces the one whose lifetime ends first, if that ends
// sooner). It reports whether the list changed.
func (d *DNSServers) Update(opts []RDNSS, now time.Time) bool {
	changed := false
	for _, o := range opts {
		until := far(now, Lifetime(o.Lifetime))
		for _, a := range o.Servers {
			i := slices.IndexFunc(d.list, func(s DNSServer) bool { return s.Addr == a })
			switch {
			case o.Lifetime == 0:
				if i >= 0 {
					d.list = slices.Delete(d.list, i, i+1)
					changed = true
				}
			case i >= 0:
				d.list[i].Until, changed = until, true
			case len(d.list) < MaxDNSServers:
				d.list, changed = append(d.list, DNSServer{Addr: a, Until: until}), true
			default:
				j := 0
				for k := range d.list {
					if d.list[k].Until.Before(d.list[j].Until) {
						j = k
					}
				}
				if d.list[j].Until.Before(until) {
					d.list[j], changed = DNSServer{Addr: a, Until: until}, true
				}
			}
		}
	}
	return changed
}

// Snapshot returns a copy of the list, expired entries included: a reader
// filters them by its own clock reading (Live).
func (d *DNSServers) Snapshot() []DNSServer { return slices.Clone(d.list) }

// Live returns the servers of list whose lifetime has not ended at now,
// in the order they were learnt.
func Live(list []DNSServer, now time.Time) []netip.Addr {
	var out []netip.Addr
	for _, s := range list {
		if now.Before(s.Until) {
			out = append(out, s.Addr)
		}
	}
	return out
}
