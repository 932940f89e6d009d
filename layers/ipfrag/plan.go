// Package ipfrag is IP fragmentation in both directions: it plans how a
// payload is split into fragments on send and reassembles fragments into
// datagrams on receive, for IPv4 (RFC 791 §3.2, RFC 815) and IPv6
// (RFC 8200 §4.5) alike. It only does the arithmetic and the
// bookkeeping over payload bytes: the IP layers parse and emit headers,
// and an actor owns a Reassembler and drives its timer.
package ipfrag

import (
	"errors"
	"iter"
)

// MaxOffsetLen is the largest payload whose fragment offsets fit the
// 13-bit offset field in 8-byte units: the last offset is then at most
// 65528 (8191 × 8).
const MaxOffsetLen = 0xffff

// Errors of NewPlan. They are distinct from the reassembly errors so the
// send path's failures are not confused with hostile input.
var (
	// ErrBadLength: a negative payload length, MTU or header length.
	ErrBadLength = errors.New("ipfrag: negative length")
	// ErrMTUTooSmall: the MTU leaves fewer than 8 bytes of data per
	// fragment after the header, so no fragment can advance the offset
	// (RFC 791 §3.2: fragment data is counted in 8-byte units).
	ErrMTUTooSmall = errors.New("ipfrag: MTU leaves no room for 8 bytes of fragment data")
	// ErrPayloadTooLong: the payload is longer than the offset field can
	// address (MaxOffsetLen).
	ErrPayloadTooLong = errors.New("ipfrag: payload too long to fragment")
)

// Fragment is one piece of a fragmentation plan: Len payload bytes
// starting at Offset, with More set on every piece but the last (the MF
// flag of RFC 791, the M flag of RFC 8200).
type Fragment struct {
	Offset int
	Len    int
	More   bool
}

// Plan is the fragmentation of one payload for one MTU. It is a small
// value computed by arithmetic; walking it allocates nothing.
type Plan struct {
	payloadLen int
	size       int // data bytes in each fragment but the last
	count      int
}

// NewPlan plans how to send a payload of payloadLen bytes over a link
// with the given MTU when each packet carries headerLen bytes of header
// before its share of the payload.
//
// If the payload fits in one packet (payloadLen <= mtu-headerLen) the plan
// has a single Fragment{0, payloadLen, false}: the datagram goes out
// unfragmented. Otherwise every fragment but the last carries the largest
// multiple of 8 bytes that fits (RFC 791 §3.2, "the number of 8-octet
// blocks"), because offsets are expressed in 8-byte units; the last
// carries the rest.
//
// headerLen is what each fragment repeats: for IPv4 the header with the
// options that are copied into every fragment (RFC 791 §3.1, copied flag)
// — the first fragment may carry more options, so a caller with
// non-copied options plans with the first fragment's length; for IPv6 the
// fixed header, the unfragmentable extension headers and the 8-byte
// Fragment header (RFC 8200 §4.5).
//
// NewPlan checks only what the offset field can express (MaxOffsetLen);
// the version's own limit on the whole datagram (IPv4: header plus payload
// at most 65,535 bytes, RFC 791 §3.1) is checked where that header is
// built.
func NewPlan(payloadLen, mtu, headerLen int) (Plan, error) {
	if payloadLen < 0 || mtu < 0 || headerLen < 0 {
		return Plan{}, ErrBadLength
	}
	if payloadLen > MaxOffsetLen {
		return Plan{}, ErrPayloadTooLong
	}
	room := mtu - headerLen
	if room >= payloadLen {
		// Fits as is. size is still the aligned room so that FragmentSize
		// reports what a fragment on this path would carry.
		return Plan{payloadLen: payloadLen, size: room &^ 7, count: 1}, nil
	}
	if room < 8 {
		return Plan{}, ErrMTUTooSmall
	}
	size := room &^ 7
	return Plan{payloadLen: payloadLen, size: size, count: (payloadLen + size - 1) / size}, nil
}

// Count returns the number of packets to send (1 when no fragmentation is
// needed).
func (p Plan) Count() int { return p.count }

// FragmentSize returns the payload bytes carried by every fragment but the
// last, a multiple of 8.
func (p Plan) FragmentSize() int { return p.size }

// At returns the i-th fragment, and false when i is out of range.
func (p Plan) At(i int) (Fragment, bool) {
	if i < 0 || i >= p.count {
		return Fragment{}, false
	}
	if p.count == 1 {
		return Fragment{Offset: 0, Len: p.payloadLen}, true
	}
	off := i * p.size
	n := min(p.size, p.payloadLen-off)
	return Fragment{Offset: off, Len: n, More: off+n < p.payloadLen}, true
}

// All yields the fragments in order of offset.
func (p Plan) All() iter.Seq[Fragment] {
	return func(yield func(Fragment) bool) {
		for i := range p.count {
			f, _ := p.At(i)
			if !yield(f) {
				return
			}
		}
	}
}
