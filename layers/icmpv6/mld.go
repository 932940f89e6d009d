package icmpv6

import (
	"encoding/binary"
	"errors"
	"net/netip"
	"time"

	"github.com/actnet/actnet/layers/ipv6"
)

// MLDv2 multicast address record types (RFC 3810 §5.2.12).
const (
	RecordModeIsInclude   = 1 // current state, answering a query
	RecordModeIsExclude   = 2 // current state: "listening to all sources"
	RecordChangeToInclude = 3 // state change; with no sources: leave
	RecordChangeToExclude = 4 // state change; with no sources: join
	RecordAllowNewSources = 5
	RecordBlockOldSources = 6
)

// Lengths of MLD messages.
const (
	mldv2ReportHeaderLen = 8  // type, reserved, checksum, reserved, record count
	mldRecordHeaderLen   = 20 // type, aux len, source count, address
	mldv1QueryLen        = 24 // RFC 2710 §3
	mldv2QueryLen        = 28 // RFC 3810 §5.1
	// MLDHopByHopLen is the hop-by-hop header every MLD message carries:
	// Next Header, length 0, Router Alert (type 5, length 2, value 0 for
	// MLD, RFC 2711) and a PadN of 2 bytes (RFC 3810 §5).
	MLDHopByHopLen = 8
)

// Reasons an MLD message is refused, distinct for counting.
var (
	// ErrMLDTruncated: the message is shorter than its fixed part or its
	// records or sources run past it.
	ErrMLDTruncated = errors.New("icmpv6: MLD message truncated")
	// ErrMLDType: the message is not the MLD type asked for.
	ErrMLDType = errors.New("icmpv6: not an MLD message of that type")
	// ErrMLDHopLimit: hop limit not 1 (RFC 3810 §5.1.14 / §5.2.13:
	// MLD messages never leave the link).
	ErrMLDHopLimit = errors.New("icmpv6: MLD message with hop limit other than 1")
	// ErrMLDRouterAlert: no Router Alert option in a hop-by-hop header
	// (RFC 3810 §5.1.14 / §5.2.13).
	ErrMLDRouterAlert = errors.New("icmpv6: MLD message without router alert")
	// ErrMLDSource: a source that is neither link-local nor, for a
	// report, unspecified (RFC 3810 §5.1.14, §5.2.13).
	ErrMLDSource = errors.New("icmpv6: MLD message from a non-link-local source")
)

// GroupRecord is one multicast address record of an MLDv2 report.
type GroupRecord struct {
	Type    uint8
	Group   netip.Addr
	Sources []netip.Addr
}

// Len returns the record's length on the wire.
func (r GroupRecord) Len() int { return mldRecordHeaderLen + 16*len(r.Sources) }

// Join returns the record a host sends when it starts listening to group
// from any source: CHANGE_TO_EXCLUDE_MODE with no sources (RFC 3810
// §6.1). Answering a query it reports RecordModeIsExclude instead (§6.3),
// and leaving is RecordChangeToInclude with no sources.
func Join(group netip.Addr) GroupRecord {
	return GroupRecord{Type: RecordChangeToExclude, Group: group}
}

// MLDv2ReportLen returns the length of the ICMPv6 message carrying records.
func MLDv2ReportLen(records []GroupRecord) int {
	n := mldv2ReportHeaderLen
	for _, r := range records {
		n += r.Len()
	}
	return n
}

// EmitMLDv2Report writes an MLDv2 report (type 143, RFC 3810 §5.2) of the
// records from src to ff02::16 (all MLDv2-capable routers, §5.2.14) into
// b and returns its length, or 0 if b is too short or there are more than
// 65,535 records. Records whose report would not fit the link MTU are the
// caller's to split over several reports (§5.2.15); the solicited-node
// groups of a host's few addresses take 20 bytes each.
func EmitMLDv2Report(b []byte, records []GroupRecord, src netip.Addr) int {
	n := MLDv2ReportLen(records)
	if len(b) < n || len(records) > 0xffff {
		return 0
	}
	b[0], b[1] = TypeMLDv2Report, 0
	b[4], b[5] = 0, 0
	binary.BigEndian.PutUint16(b[6:8], uint16(len(records)))
	at := mldv2ReportHeaderLen
	for _, r := range records {
		b[at], b[at+1] = r.Type, 0 // no auxiliary data (§5.2.10)
		binary.BigEndian.PutUint16(b[at+2:at+4], uint16(len(r.Sources)))
		g := r.Group.As16()
		copy(b[at+4:at+20], g[:])
		at += mldRecordHeaderLen
		for _, s := range r.Sources {
			a := s.As16()
			copy(b[at:at+16], a[:])
			at += 16
		}
	}
	finish(b[:n], src, ipv6.AllMLDv2Routers)
	return n
}

// MLDv2ReportPacketLen returns the length of the whole IPv6 packet
// EmitMLDv2ReportPacket writes.
func MLDv2ReportPacketLen(records []GroupRecord) int {
	return ipv6.HeaderLen + MLDHopByHopLen + MLDv2ReportLen(records)
}

// EmitMLDv2ReportPacket writes a whole IPv6 packet carrying an MLDv2
// report into b and returns its length, or 0 if b is too short: the fixed
// header (hop limit 1, to ff02::16), a hop-by-hop header with the Router
// Alert option (value 0, MLD; RFC 2711, RFC 3810 §5) padded with PadN, and
// the report. src is the link-local address, or :: while none is usable
// yet (the reports sent during duplicate address detection, RFC 3810
// §5.2.13, RFC 4862 §5.4.2). The result is what Linux sends (see the
// captures in the tests).
func EmitMLDv2ReportPacket(b []byte, records []GroupRecord, src netip.Addr) int {
	n := MLDv2ReportPacketLen(records)
	if len(b) < n || n-ipv6.HeaderLen > ipv6.MaxPayloadLen {
		return 0
	}
	ipv6.Header{
		NextHeader: ipv6.ProtoHopByHop,
		HopLimit:   1,
		Src:        src,
		Dst:        ipv6.AllMLDv2Routers,
		PayloadLen: n - ipv6.HeaderLen,
	}.Emit(b)
	h := b[ipv6.HeaderLen : ipv6.HeaderLen+MLDHopByHopLen]
	copy(h, []byte{ipv6.ProtoICMPv6, 0, ipv6.OptRouterAlert, 2, 0, ipv6.RouterAlertMLD, ipv6.OptPadN, 0})
	if EmitMLDv2Report(b[ipv6.HeaderLen+MLDHopByHopLen:n], records, src) == 0 {
		return 0
	}
	return n
}

// ParseMLDv2Report returns the records of an MLDv2 report, checking that
// they and their sources lie within the message; auxiliary data is
// skipped (§5.2.10). It allocates, and is meant for tests and the rare
// report a host reads (RFC 3810 §6: hosts ignore others' reports).
func ParseMLDv2Report(m Message) ([]GroupRecord, error) {
	if m.Type() != TypeMLDv2Report {
		return nil, ErrMLDType
	}
	count := int(binary.BigEndian.Uint16(m[6:8]))
	// Each record takes at least 20 bytes: a count that cannot fit is
	// refused before anything is allocated.
	if count*mldRecordHeaderLen > len(m)-mldv2ReportHeaderLen {
		return nil, ErrMLDTruncated
	}
	out := make([]GroupRecord, 0, count)
	at := mldv2ReportHeaderLen
	for range count {
		if at+mldRecordHeaderLen > len(m) {
			return nil, ErrMLDTruncated
		}
		aux := int(m[at+1]) * 4
		ns := int(binary.BigEndian.Uint16(m[at+2 : at+4]))
		end := at + mldRecordHeaderLen + 16*ns + aux
		if end > len(m) {
			return nil, ErrMLDTruncated
		}
		r := GroupRecord{Type: m[at], Group: netip.AddrFrom16([16]byte(m[at+4 : at+20]))}
		for i := range ns {
			s := at + mldRecordHeaderLen + 16*i
			r.Sources = append(r.Sources, netip.AddrFrom16([16]byte(m[s:s+16])))
		}
		out = append(out, r)
		at = end
	}
	return out, nil
}

// Query is a byte view of an MLD query (type 130), version 1 (24 bytes,
// RFC 2710) or version 2 (28 bytes and sources, RFC 3810 §5.1), checked
// by NewQuery.
type Query []byte

// NewQuery checks that m is a query long enough for its version and its
// sources. A message of 24 bytes is MLDv1; 28 or more is MLDv2; anything
// in between is refused (RFC 3810 §8.1).
func NewQuery(m Message) (Query, error) {
	if m.Type() != TypeMLDQuery {
		return nil, ErrMLDType
	}
	switch {
	case len(m) == mldv1QueryLen:
	case len(m) < mldv2QueryLen:
		return nil, ErrMLDTruncated
	case mldv2QueryLen+16*int(binary.BigEndian.Uint16(m[26:28])) > len(m):
		return nil, ErrMLDTruncated
	}
	return Query(m), nil
}

// V2 reports whether the query is MLDv2.
func (q Query) V2() bool { return len(q) >= mldv2QueryLen }

// Group returns the multicast address queried, :: for a general query.
func (q Query) Group() netip.Addr { return netip.AddrFrom16([16]byte(q[8:24])) }

// MaxResponseDelay decodes the Maximum Response Code (RFC 3810 §5.1.3;
// MLDv1's field is plain milliseconds, which the same rule gives for values
// below 32768).
func (q Query) MaxResponseDelay() time.Duration {
	code := uint32(binary.BigEndian.Uint16(q[4:6]))
	if q.V2() && code >= 0x8000 {
		mant, exp := code&0x0fff, (code>>12)&7
		code = (mant | 0x1000) << (exp + 3)
	}
	return time.Duration(code) * time.Millisecond
}

// SuppressRouterProcessing returns the S flag (MLDv2).
func (q Query) SuppressRouterProcessing() bool { return q.V2() && q[24]&0x08 != 0 }

// Robustness returns the QRV field (MLDv2; 0 for MLDv1).
func (q Query) Robustness() uint8 {
	if !q.V2() {
		return 0
	}
	return q[24] & 7
}

// Sources returns the number of sources of a group-and-source-specific
// query (MLDv2), and Source the i-th.
func (q Query) Sources() int {
	if !q.V2() {
		return 0
	}
	return int(binary.BigEndian.Uint16(q[26:28]))
}

// Source returns the i-th source; i must be below Sources.
func (q Query) Source(i int) netip.Addr {
	s := mldv2QueryLen + 16*i
	return netip.AddrFrom16([16]byte(q[s : s+16]))
}

// CheckMLD applies the validity checks of RFC 3810 §5.1.14 and §5.2.13 to
// the IPv6 packet carrying an MLD message: hop limit 1, a Router Alert
// option in the hop-by-hop header, and a link-local source (or, for a
// report, the unspecified address). c is ipv6.Walk's result for p.
func CheckMLD(p ipv6.Packet, c ipv6.Chain, report bool) error {
	if p.HopLimit() != 1 {
		return ErrMLDHopLimit
	}
	if !c.RouterAlert || c.RouterAlertValue != ipv6.RouterAlertMLD {
		return ErrMLDRouterAlert
	}
	if src := p.Src(); !src.IsLinkLocalUnicast() && !(report && src.IsUnspecified()) {
		return ErrMLDSource
	}
	return nil
}
