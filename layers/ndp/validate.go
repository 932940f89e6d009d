package ndp

import (
	"errors"
	"net/netip"
)

// Reasons Validate rejects a message, one per check of RFC 4861 §6.1.1
// (router solicitation), §6.1.2 (router advertisement), §7.1.1 (neighbor
// solicitation), §7.1.2 (neighbor advertisement) and §8.1 (redirect), so
// that the actor counts drops by reason. The structural reasons
// (ErrTruncated, ErrOptionLength, ...) come from NewMessage and Parse.
var (
	ErrHopLimit              = errors.New("ndp: IP hop limit is not 255 (sent from off-link or forwarded)")
	ErrCode                  = errors.New("ndp: ICMPv6 code is not 0")
	ErrSourceLinkAddrFromDAD = errors.New("ndp: unspecified source with a source link-layer address option")
	ErrSourceNotLinkLocal    = errors.New("ndp: router advertisement or redirect from a source that is not link-local")
	ErrTargetMulticast       = errors.New("ndp: target address is multicast")
	ErrDADDestination        = errors.New("ndp: solicitation from the unspecified address not sent to a solicited-node group")
	ErrSolicitedMulticast    = errors.New("ndp: solicited advertisement sent to a multicast address")
	ErrRedirectDestination   = errors.New("ndp: redirect for a multicast destination")
	ErrRedirectTarget        = errors.New("ndp: redirect target neither link-local nor the destination")
	// ErrRedirectNotFromRouter is returned by Routing.HandleRedirect, which
	// knows the current first hop (the last check of RFC 4861 §8.1).
	ErrRedirectNotFromRouter = errors.New("ndp: redirect not from the current first-hop router for its destination")
)

// IPInfo is what the checks need from the IPv6 header that carried the
// message.
type IPInfo struct {
	Src, Dst netip.Addr
	HopLimit uint8
}

// Validate applies the receive checks of RFC 4861 to a parsed message. The
// ICMPv6 checksum is the caller's to check, as is the final redirect check
// (ErrRedirectNotFromRouter, in Routing.HandleRedirect). A message that
// fails is silently discarded and counted by the error.
func Validate(ip IPInfo, r *Repr) error {
	if ip.HopLimit != 255 {
		return ErrHopLimit
	}
	if r.Code != 0 {
		return ErrCode
	}
	switch r.Type {
	case TypeRouterSolicitation:
		if ip.Src.IsUnspecified() && r.Options.HasSourceLinkAddr {
			return ErrSourceLinkAddrFromDAD
		}
	case TypeRouterAdvertisement:
		if !ip.Src.IsLinkLocalUnicast() {
			return ErrSourceNotLinkLocal
		}
	case TypeNeighborSolicitation:
		if r.Target.IsMulticast() {
			return ErrTargetMulticast
		}
		if ip.Src.IsUnspecified() {
			if !IsSolicitedNode(ip.Dst) {
				return ErrDADDestination
			}
			if r.Options.HasSourceLinkAddr {
				return ErrSourceLinkAddrFromDAD
			}
		}
	case TypeNeighborAdvertisement:
		if r.Target.IsMulticast() {
			return ErrTargetMulticast
		}
		if ip.Dst.IsMulticast() && r.Solicited {
			return ErrSolicitedMulticast
		}
	case TypeRedirect:
		if !ip.Src.IsLinkLocalUnicast() {
			return ErrSourceNotLinkLocal
		}
		if r.Destination.IsMulticast() {
			return ErrRedirectDestination
		}
		if !r.Target.IsLinkLocalUnicast() && r.Target != r.Destination {
			return ErrRedirectTarget
		}
	default:
		return ErrType
	}
	return nil
}

// ParseValid parses b and validates it against ip: the receive path in one
// call. The error is the first reason found.
func ParseValid(ip IPInfo, b []byte) (Repr, error) {
	r, err := Parse(b)
	if err != nil {
		return Repr{}, err
	}
	if err := Validate(ip, &r); err != nil {
		return Repr{}, err
	}
	return r, nil
}
