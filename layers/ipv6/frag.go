package ipv6

import (
	"encoding/binary"
	"errors"
	"time"

	"github.com/actnet/actnet/layers/ipfrag"
)

// FragmentHeaderLen is the length of the Fragment header (RFC 8200 §4.5).
const FragmentHeaderLen = 8

// FragmentHeader is the representation of a Fragment header.
type FragmentHeader struct {
	NextHeader uint8
	Offset     int  // in bytes; a multiple of 8, low bits are dropped
	More       bool // the M flag
	ID         uint32
}

// Emit writes the 8-byte Fragment header into b[:FragmentHeaderLen]; the
// reserved fields are zero. A shorter b is a caller bug and panics.
func (f FragmentHeader) Emit(b []byte) {
	_ = b[FragmentHeaderLen-1]
	b[0], b[1] = f.NextHeader, 0
	fo := uint16(f.Offset) & fragOffsetMask
	if f.More {
		fo |= fragMore
	}
	binary.BigEndian.PutUint16(b[2:4], fo)
	binary.BigEndian.PutUint32(b[4:8], f.ID)
}

// Unfragmentable returns the length of the fixed header plus the
// unfragmentable part of a packet this host built (RFC 8200 §4.5: the
// hop-by-hop header, and a routing header with the destination options
// header before it), and the offset of the Next Header field a Fragment
// header is inserted behind. b must be a well-formed packet; a chain that
// runs past b ends the unfragmentable part where it stops making sense.
func Unfragmentable(b []byte) (n, nextHeaderField int) {
	n, field := HeaderLen, 6
	if len(b) < HeaderLen {
		return len(b), 0
	}
	next := b[6]
	// The unfragmentable part ends after the last routing header, or
	// after the hop-by-hop header if there is none: a destination
	// options header counts only if a routing header follows it.
	endN, endField := n, field
	for i := 0; i < MaxExtHeaders && (next == ProtoHopByHop || next == ProtoRouting || next == ProtoDestOpts); i++ {
		if n+2 > len(b) {
			break
		}
		hlen := (int(b[n+1]) + 1) * 8
		if n+hlen > len(b) {
			break
		}
		cur := next
		next, field, n = b[n], n, n+hlen
		if cur != ProtoDestOpts {
			endN, endField = n, field
		}
	}
	return endN, endField
}

// Errors of NewFragmenter, besides ipfrag's ErrMTUTooSmall and
// ErrPayloadTooLong.
var (
	// ErrNotPacket: the buffer to fragment is not a packet (NewPacket
	// fails).
	ErrNotPacket = errors.New("ipv6: buffer to fragment is not an IPv6 packet")
	// ErrMTUBelowMinimum: the MTU is below 1280, which no IPv6 link has
	// (RFC 8200 §5); path MTU estimates never go below it (RFC 8201 §4),
	// and atomic fragments are never sent (RFC 8021).
	ErrMTUBelowMinimum = errors.New("ipv6: MTU below 1280")
)

// Fragmenter splits a packet this host originates into fragments that fit
// an MTU (RFC 8200 §4.5): each fragment repeats the fixed header and the
// unfragmentable part, followed by a Fragment header and its share of the
// fragmentable part, in multiples of 8 bytes but the last. It is a small
// value; emitting allocates nothing.
type Fragmenter struct {
	pkt   Packet
	unfr  int // fixed header plus unfragmentable part
	field int // offset of the Next Header field the Fragment header goes behind
	id    uint32
	plan  ipfrag.Plan
}

// NewFragmenter plans the fragmentation of pkt (a whole packet, which the
// Fragmenter aliases) for mtu with the given Identification, which the
// caller picks unpredictably (RFC 7739). A packet that fits is one
// "fragment": the packet itself, without a Fragment header.
func NewFragmenter(pkt []byte, mtu int, id uint32) (Fragmenter, error) {
	p, err := NewPacket(pkt)
	if err != nil {
		return Fragmenter{}, ErrNotPacket
	}
	if mtu < MinMTU {
		return Fragmenter{}, ErrMTUBelowMinimum
	}
	f := Fragmenter{pkt: p, id: id}
	f.unfr, f.field = Unfragmentable(p)
	if len(p) <= mtu {
		f.plan, _ = ipfrag.NewPlan(len(p)-f.unfr, mtu, f.unfr) // fits: one piece
		return f, nil
	}
	f.plan, err = ipfrag.NewPlan(len(p)-f.unfr, mtu, f.unfr+FragmentHeaderLen)
	return f, err
}

// Count returns the number of packets to send, 1 when the packet fits.
func (f Fragmenter) Count() int { return f.plan.Count() }

// Len returns the length of the i-th packet, 0 if i is out of range.
func (f Fragmenter) Len(i int) int {
	fr, ok := f.plan.At(i)
	if !ok {
		return 0
	}
	if f.plan.Count() == 1 {
		return len(f.pkt)
	}
	return f.unfr + FragmentHeaderLen + fr.Len
}

// Emit writes the i-th packet into b and returns its length, or 0 if i is
// out of range or b is shorter than Len(i). b must not overlap the packet.
func (f Fragmenter) Emit(i int, b []byte) int {
	fr, ok := f.plan.At(i)
	n := f.Len(i)
	if !ok || len(b) < n {
		return 0
	}
	if f.plan.Count() == 1 {
		return copy(b, f.pkt)
	}
	copy(b, f.pkt[:f.unfr])
	binary.BigEndian.PutUint16(b[4:6], uint16(n-HeaderLen))
	b[f.field] = ProtoFragment
	FragmentHeader{NextHeader: f.pkt[f.field], Offset: fr.Offset, More: fr.More, ID: f.id}.Emit(b[f.unfr:])
	data := f.pkt[f.unfr+fr.Offset : f.unfr+fr.Offset+fr.Len]
	copy(b[f.unfr+FragmentHeaderLen:n], data)
	return n
}

// Reassembly errors of Reassembler.Insert, besides ipfrag's.
var (
	// ErrNotFragment: Insert was given a packet whose chain is not a
	// fragment (no Fragment header, or an atomic one, which RFC 6946
	// processes whole).
	ErrNotFragment = errors.New("ipv6: not a fragment")
	// ErrFragmentTooLong: the fragment would make the reassembled
	// packet's payload longer than 65,535 bytes (RFC 8200 §4.5):
	// Parameter Problem code 0 at the Fragment Offset field.
	ErrFragmentTooLong = errors.New("ipv6: fragment reaches past 65,535 bytes of payload")
	// ErrFirstHeaderLost: fragment zero's headers were longer than the
	// reassembler keeps (ipfrag.MaxHeaderCopy), so the packet cannot be
	// rebuilt. Walk's MaxExtLen makes this unreachable.
	ErrFirstHeaderLost = errors.New("ipv6: first fragment's headers not kept")
)

// Reassembler reassembles IPv6 fragments (RFC 8200 §4.5) with the
// machinery and caps of ipfrag.Reassembler: fragments are keyed on source,
// destination and the 32-bit Identification; any overlap discards the
// whole packet (RFC 5722), exact duplicates are ignored; a packet waits 60
// seconds from its first fragment. Like ipfrag's it is a plain data
// structure: an actor owns it and passes the time in.
type Reassembler struct {
	r *ipfrag.Reassembler
}

// NewReassembler returns an IPv6 reassembler bounded by cfg; MaxPayload is
// set to ipfrag.MaxPayloadIPv6 and a zero Timeout to ipfrag.TimeoutIPv6.
func NewReassembler(cfg ipfrag.Config) *Reassembler {
	cfg.MaxPayload = ipfrag.MaxPayloadIPv6
	if cfg.Timeout <= 0 {
		cfg.Timeout = ipfrag.TimeoutIPv6
	}
	return &Reassembler{r: ipfrag.NewReassembler(cfg)}
}

// Key returns the reassembly key of a fragment (RFC 8200 §4.5: source,
// destination, Identification; the Next Header is not part of it, since
// only fragment zero's counts).
func Key(p Packet, c Chain) ipfrag.Key {
	return ipfrag.Key{Src: p.Src(), Dst: p.Dst(), ID: c.ID}
}

// Insert adds a fragment, p with the Chain Walk returned for it. When the
// fragment completes its packet, Insert returns the reassembled packet:
// fragment zero's fixed header and unfragmentable part, its Fragment
// header's Next Header in the Next Header field that named the Fragment
// header, the Payload Length recomputed, then the fragmentable part. The
// caller owns it and hands it to NewPacket and Walk again (its
// destination options are processed then). A rejected fragment returns
// ErrNotFragment, ErrFragmentTooLong (with a Problem to send) or one of
// ipfrag's errors; for ipfrag.ErrUnalignedLength RFC 8200 §4.5 asks for a
// Parameter Problem code 0 at the Payload Length field, which the Problem
// says. The fragment's bytes are copied.
func (r *Reassembler) Insert(p Packet, c Chain, now time.Time) (pkt []byte, done bool, prob Problem, err error) {
	if !c.IsFragment() || c.Fragment+FragmentHeaderLen > len(p) {
		return nil, false, Problem{}, ErrNotFragment
	}
	data := p[c.Fragment+FragmentHeaderLen:]
	unfr := c.Fragment - HeaderLen
	if c.FragmentOffset+len(data)+unfr > MaxPayloadLen {
		return nil, false, Problem{Send: true, Code: CodeErroneousHeader, Pointer: uint32(c.Fragment + 2)}, ErrFragmentTooLong
	}
	var hdr []byte
	if c.FragmentOffset == 0 {
		hdr = p[:c.Fragment+FragmentHeaderLen]
	}
	hdr0, payload, done, err := r.r.InsertKeepHeader(Key(p, c), hdr, c.FragmentOffset, c.More, data, now)
	if err != nil {
		if err == ipfrag.ErrUnalignedLength {
			prob = Problem{Send: true, Code: CodeErroneousHeader, Pointer: 4}
		}
		return nil, false, prob, err
	}
	if !done {
		return nil, false, Problem{}, nil
	}
	if len(hdr0) < HeaderLen+FragmentHeaderLen {
		return nil, false, Problem{}, ErrFirstHeaderLost
	}
	frag := len(hdr0) - FragmentHeaderLen
	field := fieldBefore(hdr0, frag)
	if field < 0 || hdr0[field] != ProtoFragment {
		return nil, false, Problem{}, ErrFirstHeaderLost // unreachable: Walk found it
	}
	if frag-HeaderLen+len(payload) > MaxPayloadLen {
		return nil, false, Problem{}, ErrFragmentTooLong // unreachable: checked per fragment
	}
	out := make([]byte, frag+len(payload))
	copy(out, hdr0[:frag])
	out[field] = hdr0[frag]
	binary.BigEndian.PutUint16(out[4:6], uint16(len(out)-HeaderLen))
	copy(out[frag:], payload)
	return out, true, Problem{}, nil
}

// fieldBefore returns the offset of the Next Header field that names the
// header at offset at, walking the chain of h, or -1.
func fieldBefore(h []byte, at int) int {
	field, off := 6, HeaderLen
	for n := 0; off < at && n <= MaxExtHeaders; n++ {
		if off+2 > len(h) {
			return -1
		}
		hlen := 8
		if h[field] != ProtoFragment {
			hlen = (int(h[off+1]) + 1) * 8
		}
		field, off = off, off+hlen
	}
	if off != at {
		return -1
	}
	return field
}

// Expired describes a packet whose reassembly timed out. When First, RFC
// 8200 §4.5 asks for an ICMPv6 Time Exceeded, code 1 ("fragment reassembly
// time exceeded", RFC 4443 §3.3), to the source of the fragment, quoting
// Quote: fragment zero as it arrived (its headers and the start of its
// data). Without fragment zero nothing is sent.
type Expired struct {
	Key   ipfrag.Key
	First bool
	Quote []byte // the caller owns it; nil unless First
}

// Expire drops every packet whose 60 seconds are up at now and describes
// each, oldest first.
func (r *Reassembler) Expire(now time.Time) []Expired {
	es := r.r.Expire(now)
	if es == nil {
		return nil
	}
	out := make([]Expired, len(es))
	for i, e := range es {
		out[i] = Expired{Key: e.Key}
		if e.First && len(e.Header) >= HeaderLen {
			q := append(append(make([]byte, 0, len(e.Header)+len(e.Data)), e.Header...), e.Data...)
			out[i].First, out[i].Quote = true, q
		}
	}
	return out
}

// NextDeadline returns when the oldest packet in progress expires.
func (r *Reassembler) NextDeadline() (time.Time, bool) { return r.r.NextDeadline() }

// Stats returns ipfrag's counters for this reassembler.
func (r *Reassembler) Stats() ipfrag.Stats { return r.r.Stats() }

// Config returns the effective configuration.
func (r *Reassembler) Config() ipfrag.Config { return r.r.Config() }
