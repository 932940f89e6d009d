package tcp

import (
	"crypto/sha256"
	"encoding/binary"
	"net/netip"
	"time"
)

// Tuple identifies a connection from this host's point of view: Local is
// the address and port segments arrive at, Remote where they come from.
type Tuple struct {
	Local, Remote netip.AddrPort
}

// valid reports whether both ends have a usable address and port of the
// same family.
func (t Tuple) valid() bool {
	l, r := t.Local.Addr(), t.Remote.Addr()
	return l.IsValid() && r.IsValid() && t.Local.Port() != 0 && t.Remote.Port() != 0 &&
		l.Unmap().Is4() == r.Unmap().Is4()
}

// ISN computes an initial sequence number as RFC 6528 §3 recommends:
// ISN = M + F(localip, localport, remoteip, remoteport, secretkey), where M
// is a 4-microsecond timer and F is a keyed hash, here SHA-256 over the key
// and the tuple truncated to 32 bits. The secret should be random per host
// and kept for the host's lifetime; the same inputs always give the same
// ISN, which keeps tests deterministic. It does not allocate.
func ISN(secret [16]byte, t Tuple, now time.Time) Seq {
	var b [16 + 16 + 2 + 16 + 2]byte
	copy(b[:16], secret[:])
	la, ra := t.Local.Addr().As16(), t.Remote.Addr().As16()
	copy(b[16:], la[:])
	binary.BigEndian.PutUint16(b[32:], t.Local.Port())
	copy(b[34:], ra[:])
	binary.BigEndian.PutUint16(b[50:], t.Remote.Port())
	h := sha256.Sum256(b[:])
	return Seq(isnClock(now) + binary.BigEndian.Uint32(h[:4]))
}

// isnClock is M of RFC 6528 §3: a timer ticking every 4 microseconds.
func isnClock(now time.Time) uint32 { return uint32(now.UnixNano() / 4000) }

// RejectSegment builds the reset a host sends for a segment that reached
// no connection and no listener, the CLOSED rules of RFC 9293 §3.10.7.1:
// a segment carrying RST is dropped silently (ok is false); otherwise, if
// the segment has an ACK the reset takes its sequence number from SEG.ACK,
// and if not, it has sequence zero and acknowledges SEG.SEQ+SEG.LEN. The
// ports of the returned header are swapped so that it goes back to the
// sender.
func RejectSegment(seg *Segment) (rst Header, ok bool) {
	f := seg.Flags()
	if f&FlagRST != 0 {
		return Header{}, false
	}
	rst = Header{SrcPort: seg.DstPort(), DstPort: seg.SrcPort()}
	if f&FlagACK != 0 {
		rst.Seq = seg.Ack()
		rst.Flags = FlagRST
	} else {
		rst.Ack = seg.Seq().Add(seg.Len())
		rst.Flags = FlagRST | FlagACK
	}
	return rst, true
}

// ListenVerdict says what to do with a segment that reached a listening
// port and matched no connection (RFC 9293 §3.10.7.2).
type ListenVerdict uint8

// Listen verdicts.
const (
	// ListenDrop: discard silently (an RST, or a segment with neither SYN
	// nor ACK, or a SYN that also carries FIN).
	ListenDrop ListenVerdict = iota
	// ListenReset: answer with the reset RejectSegment builds (anything
	// carrying an ACK, which cannot belong to a connection that does not
	// exist).
	ListenReset
	// ListenAccept: a connection request; hand it to Accept.
	ListenAccept
)

// ClassifyListen applies the LISTEN rules of RFC 9293 §3.10.7.2 to seg.
// SYN+FIN is dropped rather than accepted as Linux does: it is a scanner's
// probe, not a connection request anyone needs.
func ClassifyListen(seg *Segment) ListenVerdict {
	f := seg.Flags()
	switch {
	case f&FlagRST != 0:
		return ListenDrop
	case f&FlagACK != 0:
		return ListenReset
	case f&FlagSYN != 0 && f&FlagFIN == 0:
		return ListenAccept
	}
	return ListenDrop
}
