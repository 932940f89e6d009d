package ipv6

import (
	"encoding/binary"
	"errors"
)

// Bounds on the extension-header chain. RFC 8200 §4.1 asks nodes to accept
// headers in any order and number, but a chain of hundreds of 8-byte
// headers, or of options, costs a receiver time for nothing; RFC 8504 §5.3
// lets a host set limits, and RFC 8883 gives the ICMPv6 codes to report
// them. The values:
const (
	// MaxExtHeaders caps the extension headers walked in one packet. The
	// order RFC 8200 §4.1 recommends has at most seven (hop-by-hop,
	// destination options, routing, fragment, AH, ESP, destination
	// options), of which this walker reads five at most before the upper
	// layer; 8 leaves room for one repeated header and stops chains
	// built to exhaust (RFC 8883 §2.1.4, code 8).
	MaxExtHeaders = 8
	// MaxExtLen caps the bytes of extension headers before the
	// upper-layer header. With it the fixed header and the whole chain
	// (1,064 bytes) fit in IPv6's minimum MTU with room for an
	// upper-layer header, which is what RFC 7112 §5 demands of a first
	// fragment and what an ICMPv6 error can quote in full
	// (RFC 4443 §2.4 (c)); a legitimate chain (a Router Alert, a
	// routing header with segments left 0, a fragment header, a few
	// destination options) is well under 100 bytes (RFC 8883 §2.1.3,
	// code 7).
	MaxExtLen = 1024
	// MaxOptions caps the options, padding not counted, in one
	// hop-by-hop or destination options header (Linux's
	// max_hbh_opts_number and max_dst_opts_number default to 8;
	// RFC 8883 §2.1.5, code 9).
	MaxOptions = 8
	// MaxPadding is the longest run of padding (Pad1 and PadN) an options
	// header may hold: padding only aligns the next option to a multiple
	// of 8, so more than 7 bytes in a row is a covert channel or an
	// attack (RFC 4942 §2.1.9.5; Linux refuses it too).
	MaxPadding = 7
)

// Option types this package knows (RFC 8200 §4.2, RFC 2711).
const (
	OptPad1        = 0x00
	OptPadN        = 0x01
	OptRouterAlert = 0x05 // hop-by-hop only; 2 data bytes
)

// Router Alert values (RFC 2711 §2.1).
const RouterAlertMLD = 0

// Parameter Problem codes (RFC 4443 §3.4, RFC 7112 §5, RFC 8883 §2). The
// icmpv6 package uses the same values.
const (
	CodeErroneousHeader        = 0
	CodeUnrecognizedNextHeader = 1
	CodeUnrecognizedOption     = 2
	CodeIncompleteChain        = 3
	CodeExtHeaderTooBig        = 6
	CodeChainTooLong           = 7
	CodeTooManyExtHeaders      = 8
	CodeTooManyOptions         = 9
	CodeOptionTooBig           = 10
)

// Reasons Walk rejects a packet, each distinct so the actor counts drops by
// reason. Chain.Problem says whether RFC 8200 (or RFC 7112, RFC 8883) calls
// for an ICMPv6 Parameter Problem, and with which code and pointer.
var (
	// ErrExtTruncated: an extension header runs past the payload (not a
	// first fragment: see ErrIncompleteChain). Dropped silently.
	ErrExtTruncated = errors.New("ipv6: extension header truncated")
	// ErrHopByHopNotFirst: a hop-by-hop header anywhere but right after
	// the fixed header (RFC 8200 §4.3): Parameter Problem code 1 at the
	// Next Header field naming it.
	ErrHopByHopNotFirst = errors.New("ipv6: hop-by-hop options header not first")
	// ErrTooManyHeaders: more than MaxExtHeaders extension headers
	// (RFC 8883 code 8, at the Next Header field naming the extra one).
	ErrTooManyHeaders = errors.New("ipv6: too many extension headers")
	// ErrChainTooLong: the extension headers exceed MaxExtLen bytes
	// (RFC 8883 code 7, at the header that crosses the bound).
	ErrChainTooLong = errors.New("ipv6: extension header chain too long")
	// ErrOptionLength: an option runs past the end of its header.
	// Dropped silently, as Linux does.
	ErrOptionLength = errors.New("ipv6: option runs past its header")
	// ErrPadding: more than MaxPadding bytes of padding in a row, or a
	// PadN option whose data is not zero (RFC 4942 §2.1.9.5). Dropped
	// silently.
	ErrPadding = errors.New("ipv6: bad option padding")
	// ErrTooManyOptions: more than MaxOptions options in one header
	// (RFC 8883 code 9, at the extra option).
	ErrTooManyOptions = errors.New("ipv6: too many options")
	// ErrUnknownOption: an option this node does not recognise whose
	// action bits say discard (RFC 8200 §4.2: 01 silently, 10 with a
	// Parameter Problem code 2 at the option type, 11 likewise unless
	// the destination is multicast).
	ErrUnknownOption = errors.New("ipv6: unrecognised option")
	// ErrRouterAlertLength: a Router Alert option whose length is not 2
	// (RFC 2711 §2.1). Parameter Problem code 0 at the length.
	ErrRouterAlertLength = errors.New("ipv6: router alert option length is not 2")
	// ErrRoutingType0: a type 0 routing header with segments left
	// (RFC 5095 §3 deprecates it: handled as an unrecognised type,
	// Parameter Problem code 0 at the routing type).
	ErrRoutingType0 = errors.New("ipv6: type 0 routing header refused")
	// ErrRoutingHeader: a routing header of any other type with segments
	// left. A host forwards nothing, so every type is unrecognised for
	// it (RFC 8200 §4.4): Parameter Problem code 0 at the routing type.
	ErrRoutingHeader = errors.New("ipv6: routing header with segments left")
	// ErrNestedFragment: a second Fragment header in one chain. IPv6
	// routers never fragment (RFC 8200 §5), so only a crafted packet has
	// one. Dropped silently.
	ErrNestedFragment = errors.New("ipv6: fragment header after a fragment header")
	// ErrIncompleteChain: a first fragment that does not hold the whole
	// header chain up to and including the upper-layer header (RFC 7112
	// §5): Parameter Problem code 3, pointer 0.
	ErrIncompleteChain = errors.New("ipv6: first fragment without the whole header chain")
)

// Problem is the ICMPv6 Parameter Problem that RFC 8200 asks for when Walk
// rejects a packet. Send is false when the packet is to be dropped
// silently; Pointer is the offset of the offending byte from the start of
// the fixed header (RFC 4443 §3.4).
type Problem struct {
	Send    bool
	Code    uint8
	Pointer uint32
}

// Chain is what Walk learned from a packet's extension headers.
type Chain struct {
	// Proto is the upper-layer protocol: the Next Header value that is
	// not an extension header this package walks (59 for none). For a
	// fragment that is not the first it is the Fragment header's Next
	// Header, which RFC 8200 §4.5 says only counts in fragment zero.
	Proto uint8
	// Offset is where the upper-layer header starts, from the start of
	// the fixed header; for a fragment other than the first, where the
	// fragment's data starts. (A fragment's data always starts at
	// Fragment + FragmentHeaderLen; in a first fragment the upper-layer
	// header may come after more headers of the fragmentable part.)
	Offset int
	// NextHeaderField is the offset of the Next Header field that holds
	// Proto (6 when there are no extension headers): the pointer of the
	// Parameter Problem code 1 a host sends for a protocol it does not
	// know (RFC 8200 §4).
	NextHeaderField int
	// Headers is the number of extension headers walked.
	Headers int

	HopByHop         bool   // a hop-by-hop options header was present
	RouterAlert      bool   // it carried a Router Alert option (RFC 2711)
	RouterAlertValue uint16 // the option's value: RouterAlertMLD for MLD

	// Routing is the offset of the routing header (with segments left
	// 0, or Walk would have refused it), 0 if none.
	Routing int
	// Fragment is the offset of the Fragment header, 0 if none. The
	// bytes before it are the fixed header and the unfragmentable part.
	Fragment       int
	FragmentOffset int    // in bytes (the field counts 8-byte units)
	More           bool   // the M flag
	ID             uint32 // the Identification

	// Problem is set when Walk returns an error.
	Problem Problem
}

// IsFragment reports whether the packet is a fragment that needs
// reassembly: it has a Fragment header with a non-zero offset or the M
// flag. An atomic fragment (offset 0, M 0) is not: RFC 6946 §4 has it
// processed as a whole packet, and Walk has walked past its Fragment
// header to the upper layer.
func (c Chain) IsFragment() bool { return c.Fragment != 0 && (c.FragmentOffset != 0 || c.More) }

// IsAtomicFragment reports a Fragment header with offset 0 and M 0
// (RFC 6946).
func (c Chain) IsAtomicFragment() bool { return c.Fragment != 0 && c.FragmentOffset == 0 && !c.More }

// fragment header fields.
const (
	fragOffsetMask = 0xfff8
	fragMore       = 0x0001
)

// isExtension reports the Next Header values Walk walks.
func isExtension(nh uint8) bool {
	return nh == ProtoHopByHop || nh == ProtoRouting || nh == ProtoFragment || nh == ProtoDestOpts
}

// upperMinLen is how much of an upper-layer header a first fragment must
// hold for its chain to count as complete (RFC 7112 §5; the sizes are
// Linux's ipv6_frag_thdr_truncated: the fixed part of each header, one
// byte of anything else, none after No Next Header).
func upperMinLen(proto uint8) int {
	switch proto {
	case ProtoTCP:
		return 20
	case ProtoUDP, ProtoICMPv6:
		return 8
	case ProtoNoNext:
		return 0
	}
	return 1
}

// Walk processes the extension-header chain of p as a destination host
// does (RFC 8200 §4), and returns where the upper layer starts and what it
// is. In order of the chain:
//
//   - a hop-by-hop header must come first (§4.3); its options are
//     processed (§4.2): Pad1 and PadN (padding bounded by MaxPadding),
//     Router Alert recorded, unknown options by their two high bits;
//   - destination options are processed likewise (§4.6);
//   - a routing header with segments left 0 is skipped whatever its type;
//     with segments left it is refused, type 0 first of all (RFC 5095);
//   - a Fragment header (§4.5): an atomic fragment is walked past
//     (RFC 6946); a later fragment ends the walk at its data; in a first
//     fragment the rest of the chain (the fragmentable part) is checked
//     for completeness (RFC 7112) but its options are not processed,
//     since they will be after reassembly.
//
// Anything else is the upper layer. The chain is bounded by MaxExtHeaders
// and MaxExtLen. On error the Chain's Problem says which ICMPv6 error, if
// any, RFC 8200 asks for; the other fields describe what was walked so far.
func Walk(p Packet) (Chain, error) {
	var c Chain
	next, field, off := p.NextHeader(), 6, HeaderLen
	firstFragment := false // walking the fragmentable part of a first fragment
	multicast := p[24] == 0xff
	fail := func(err error, send bool, code uint8, ptr int) (Chain, error) {
		c.Problem = Problem{Send: send, Code: code, Pointer: uint32(ptr)}
		return c, err
	}
	for isExtension(next) {
		if next == ProtoHopByHop && off != HeaderLen {
			return fail(ErrHopByHopNotFirst, true, CodeUnrecognizedNextHeader, field)
		}
		if c.Headers == MaxExtHeaders {
			return fail(ErrTooManyHeaders, true, CodeTooManyExtHeaders, field)
		}
		hlen := 8
		if next != ProtoFragment {
			if off+2 > len(p) {
				if firstFragment {
					return fail(ErrIncompleteChain, true, CodeIncompleteChain, 0)
				}
				return fail(ErrExtTruncated, false, 0, 0)
			}
			hlen = (int(p[off+1]) + 1) * 8
		}
		if off+hlen-HeaderLen > MaxExtLen {
			return fail(ErrChainTooLong, true, CodeChainTooLong, off)
		}
		if off+hlen > len(p) {
			if firstFragment {
				return fail(ErrIncompleteChain, true, CodeIncompleteChain, 0)
			}
			return fail(ErrExtTruncated, false, 0, 0)
		}
		c.Headers++
		h := p[off : off+hlen]
		switch {
		case next == ProtoFragment:
			if c.Fragment != 0 {
				return fail(ErrNestedFragment, false, 0, 0)
			}
			fo := binary.BigEndian.Uint16(h[2:4])
			c.Fragment = off
			c.FragmentOffset = int(fo & fragOffsetMask)
			c.More = fo&fragMore != 0
			c.ID = binary.BigEndian.Uint32(h[4:8])
			if c.FragmentOffset != 0 {
				// A later fragment: the rest is data, headers included.
				c.Proto, c.Offset, c.NextHeaderField = h[0], off+8, off
				return c, nil
			}
			firstFragment = c.More
		case firstFragment:
			// Fragmentable part: checked for length only.
		case next == ProtoHopByHop || next == ProtoDestOpts:
			c.HopByHop = c.HopByHop || next == ProtoHopByHop
			if err := c.options(h, off, next == ProtoHopByHop, multicast); err != nil {
				return c, err
			}
		case next == ProtoRouting:
			if segLeft := h[3]; segLeft != 0 {
				if h[2] == 0 {
					return fail(ErrRoutingType0, true, CodeErroneousHeader, off+2)
				}
				return fail(ErrRoutingHeader, true, CodeErroneousHeader, off+2)
			}
			c.Routing = off
		}
		next, field, off = h[0], off, off+hlen
	}
	c.Proto, c.Offset, c.NextHeaderField = next, off, field
	if firstFragment && len(p)-off < upperMinLen(next) {
		return fail(ErrIncompleteChain, true, CodeIncompleteChain, 0)
	}
	return c, nil
}

// options processes the TLV options of a hop-by-hop or destination options
// header h found at offset off in the packet (RFC 8200 §4.2).
func (c *Chain) options(h []byte, off int, hopByHop, multicast bool) error {
	fail := func(err error, send bool, code uint8, ptr int) error {
		c.Problem = Problem{Send: send, Code: code, Pointer: uint32(off + ptr)}
		return err
	}
	pad, n := 0, 0
	for i := 2; i < len(h); {
		t := h[i]
		if t == OptPad1 {
			if pad++; pad > MaxPadding {
				return fail(ErrPadding, false, 0, i)
			}
			i++
			continue
		}
		if i+2 > len(h) {
			return fail(ErrOptionLength, false, CodeErroneousHeader, i)
		}
		l := int(h[i+1])
		if i+2+l > len(h) {
			return fail(ErrOptionLength, false, CodeErroneousHeader, i+1)
		}
		data := h[i+2 : i+2+l]
		if t == OptPadN {
			if pad += 2 + l; pad > MaxPadding {
				return fail(ErrPadding, false, 0, i)
			}
			for _, b := range data {
				if b != 0 {
					return fail(ErrPadding, false, 0, i)
				}
			}
			i += 2 + l
			continue
		}
		pad = 0
		if n++; n > MaxOptions {
			return fail(ErrTooManyOptions, true, CodeTooManyOptions, i)
		}
		switch {
		case hopByHop && t == OptRouterAlert:
			if l != 2 {
				return fail(ErrRouterAlertLength, true, CodeErroneousHeader, i+1)
			}
			c.RouterAlert, c.RouterAlertValue = true, binary.BigEndian.Uint16(data)
		default:
			switch t >> 6 {
			case 0: // skip over this option
			case 1:
				return fail(ErrUnknownOption, false, CodeUnrecognizedOption, i)
			case 2:
				return fail(ErrUnknownOption, true, CodeUnrecognizedOption, i)
			case 3:
				return fail(ErrUnknownOption, !multicast, CodeUnrecognizedOption, i)
			}
		}
		i += 2 + l
	}
	return nil
}

// UpperLayer skips the extension headers of a packet that may be cut
// short, such as the one an ICMPv6 error quotes, without processing their
// options: b starts with a fixed header. It returns the upper-layer
// protocol, its offset in b, and whether b is a fragment other than the
// first (whose upper-layer header is elsewhere). ok is false when b is
// shorter than the fixed header or the chain runs past b or the
// MaxExtHeaders and MaxExtLen bounds; the offset may then still be short
// of the upper-layer header's end, which callers check against len(b).
func UpperLayer(b []byte) (proto uint8, off int, laterFragment bool, ok bool) {
	if len(b) < HeaderLen {
		return 0, 0, false, false
	}
	next, off := b[6], HeaderLen
	for n := 0; isExtension(next); n++ {
		if n == MaxExtHeaders {
			return next, off, false, false
		}
		hlen := 8
		if next != ProtoFragment {
			if off+2 > len(b) {
				return next, off, false, false
			}
			hlen = (int(b[off+1]) + 1) * 8
		}
		if off+hlen > len(b) || off+hlen-HeaderLen > MaxExtLen {
			return next, off, false, false
		}
		if next == ProtoFragment && binary.BigEndian.Uint16(b[off+2:off+4])&fragOffsetMask != 0 {
			return b[off], off + 8, true, true
		}
		next, off = b[off], off+hlen
	}
	return next, off, false, true
}
