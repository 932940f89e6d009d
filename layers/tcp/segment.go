package tcp

import (
	"encoding/binary"
	"net/netip"

	"github.com/actnet/actnet/layers/checksum"
)

// HeaderLen is the length of a TCP header without options.
const HeaderLen = 20

// MaxHeaderLen is the length of a TCP header with the largest option list.
const MaxHeaderLen = HeaderLen + maxOptionsLen

// ProtocolNumber is TCP's IP protocol number, used in the pseudo-header.
const ProtocolNumber = 6

// Flags are the control bits of a segment (RFC 9293 §3.1).
type Flags uint8

// Control bits. URG is accepted and ignored (RFC 6093 recommends against
// new uses of urgent data); ECE and CWR are carried but not acted upon.
const (
	FlagFIN Flags = 1 << iota
	FlagSYN
	FlagRST
	FlagPSH
	FlagACK
	FlagURG
	FlagECE
	FlagCWR
)

// Has reports whether all bits of m are set in f.
func (f Flags) Has(m Flags) bool { return f&m == m }

func (f Flags) String() string {
	const names = "FSRPAUEC"
	var b [8]byte
	n := 0
	for i := 0; i < 8; i++ {
		if f&(1<<i) != 0 {
			b[n] = names[i]
			n++
		}
	}
	if n == 0 {
		return "."
	}
	return string(b[:n])
}

// ParseError is the reason a segment was rejected by NewSegment. Each value
// is distinct and small, so a caller can count drops in an array indexed by
// it.
type ParseError uint8

// Reasons NewSegment rejects a segment (ErrTruncated, ErrDataOffset), and
// the problems Options.Malformed records (the option errors, which do not
// reject the segment).
const (
	ErrTruncated           ParseError = iota + 1 // shorter than 20 bytes
	ErrDataOffset                                // data offset < 5 or beyond the segment
	ErrOptionTruncated                           // an option runs past the header
	ErrOptionLength                              // an option length below 2
	ErrMSSOption                                 // MSS option length is not 4
	ErrWindowScaleOption                         // window scale length is not 3
	ErrSACKPermittedOption                       // SACK-permitted length is not 2
	ErrSACKOption                                // SACK length is not 2+8n with 1<=n<=4
	ErrTimestampsOption                          // timestamps length is not 10
	numParseErrors
)

// NumParseErrors is one more than the largest ParseError value, for sizing
// counter arrays.
const NumParseErrors = int(numParseErrors)

var parseErrorText = [...]string{
	ErrTruncated:           "tcp: segment shorter than header",
	ErrDataOffset:          "tcp: bad data offset",
	ErrOptionTruncated:     "tcp: option truncated",
	ErrOptionLength:        "tcp: option length below two",
	ErrMSSOption:           "tcp: bad MSS option length",
	ErrWindowScaleOption:   "tcp: bad window scale option length",
	ErrSACKPermittedOption: "tcp: bad SACK-permitted option length",
	ErrSACKOption:          "tcp: bad SACK option length",
	ErrTimestampsOption:    "tcp: bad timestamps option length",
}

func (e ParseError) Error() string {
	if int(e) < len(parseErrorText) && parseErrorText[e] != "" {
		return parseErrorText[e]
	}
	return "tcp: parse error"
}

// Segment is a validated byte view of one TCP segment (header, options and
// payload). It is built only by NewSegment, so every accessor can index the
// bytes without further checks. The options are parsed once, into a value
// carried with the view, so a Segment can travel with its packet to the
// connection without being parsed again. Segment refers to the caller's
// bytes; it does not copy them.
type Segment struct {
	b    []byte
	opts Options
}

// NewSegment validates b as a TCP segment: at least a minimal header and a
// data offset within [5, 15] words that fits in b. Malformed options do not
// fail it (see Options.Malformed): parsing stops at them as Linux's does.
// It does not verify the checksum (see VerifyChecksum), because that needs
// the addresses from the IP layer. It does not allocate.
func NewSegment(b []byte) (Segment, error) {
	if len(b) < HeaderLen {
		return Segment{}, ErrTruncated
	}
	off := int(b[12]>>4) * 4
	if off < HeaderLen || off > len(b) {
		return Segment{}, ErrDataOffset
	}
	s := Segment{b: b}
	parseOptions(b[HeaderLen:off], &s.opts)
	return s, nil
}

// Bytes returns the whole segment.
func (s *Segment) Bytes() []byte { return s.b }

// SrcPort returns the source port.
func (s *Segment) SrcPort() uint16 { return binary.BigEndian.Uint16(s.b[0:]) }

// DstPort returns the destination port.
func (s *Segment) DstPort() uint16 { return binary.BigEndian.Uint16(s.b[2:]) }

// Seq returns the sequence number.
func (s *Segment) Seq() Seq { return Seq(binary.BigEndian.Uint32(s.b[4:])) }

// Ack returns the acknowledgment number (meaningful when ACK is set).
func (s *Segment) Ack() Seq { return Seq(binary.BigEndian.Uint32(s.b[8:])) }

// HeaderLen returns the header length including options.
func (s *Segment) HeaderLen() int { return int(s.b[12]>>4) * 4 }

// Flags returns the control bits.
func (s *Segment) Flags() Flags { return Flags(s.b[13]) }

// Window returns the raw (unscaled) window field.
func (s *Segment) Window() uint16 { return binary.BigEndian.Uint16(s.b[14:]) }

// Checksum returns the checksum field.
func (s *Segment) Checksum() uint16 { return binary.BigEndian.Uint16(s.b[16:]) }

// Urgent returns the urgent pointer field.
func (s *Segment) Urgent() uint16 { return binary.BigEndian.Uint16(s.b[18:]) }

// Options returns the parsed options.
func (s *Segment) Options() *Options { return &s.opts }

// Payload returns the data carried after the header.
func (s *Segment) Payload() []byte { return s.b[s.HeaderLen():] }

// Len returns SEG.LEN: the payload length plus one for each of SYN and FIN,
// the amount of sequence space the segment occupies (RFC 9293 §3.4).
func (s *Segment) Len() int {
	n := len(s.b) - s.HeaderLen()
	f := s.Flags()
	if f&FlagSYN != 0 {
		n++
	}
	if f&FlagFIN != 0 {
		n++
	}
	return n
}

// VerifyChecksum reports whether the checksum is correct, given the sum of
// the IP pseudo-header (source, destination, protocol 6 and this segment's
// length) as an unfolded 32-bit one's-complement accumulator.
func (s *Segment) VerifyChecksum(pseudoHeaderSum uint32) bool {
	return checksum.Fold(checksum.Sum(s.b, pseudoHeaderSum)) == 0
}

// VerifyChecksumAddrs is VerifyChecksum with the pseudo-header computed from
// the IP addresses the segment came with.
func (s *Segment) VerifyChecksumAddrs(src, dst netip.Addr) bool {
	return s.VerifyChecksum(checksum.PseudoHeaderSum(src, dst, ProtocolNumber, len(s.b)))
}

// Header returns the representation of the segment's header, for logging or
// to re-emit it.
func (s *Segment) Header() Header {
	return Header{
		SrcPort: s.SrcPort(),
		DstPort: s.DstPort(),
		Seq:     s.Seq(),
		Ack:     s.Ack(),
		Flags:   s.Flags(),
		Window:  s.Window(),
		Urgent:  s.Urgent(),
		Options: s.opts,
	}
}

// Header is the representation of a TCP header used to build segments.
type Header struct {
	SrcPort, DstPort uint16
	Seq, Ack         Seq
	Flags            Flags
	Window           uint16
	Urgent           uint16
	Options          Options
}

// EmitError is the reason Header.Emit refused to write a segment.
type EmitError uint8

// Reasons Emit fails.
const (
	ErrBufferTooSmall EmitError = iota + 1 // buffer shorter than Len()+payload
	ErrOptionsTooLong                      // options exceed 40 bytes
)

func (e EmitError) Error() string {
	switch e {
	case ErrBufferTooSmall:
		return "tcp: buffer too small for segment"
	case ErrOptionsTooLong:
		return "tcp: options longer than 40 bytes"
	}
	return "tcp: emit error"
}

// Len returns the header length including options.
func (h *Header) Len() int { return HeaderLen + h.Options.Len() }

// Emit writes the header followed by payload into b and fills in the
// checksum computed with the pseudo-header of src and dst. It returns the
// number of bytes written (h.Len()+len(payload)). payload may already sit
// at b[h.Len():], in which case it is not moved.
func (h *Header) Emit(b []byte, payload []byte, src, dst netip.Addr) (int, error) {
	n, err := h.emitNoChecksum(b, payload)
	if err != nil {
		return 0, err
	}
	setChecksum(b[:n], src, dst)
	return n, nil
}

// emitNoChecksum writes header and payload and leaves the checksum zero.
func (h *Header) emitNoChecksum(b []byte, payload []byte) (int, error) {
	ol := h.Options.Len()
	if ol > maxOptionsLen {
		return 0, ErrOptionsTooLong
	}
	hl := HeaderLen + ol
	total := hl + len(payload)
	if len(b) < total {
		return 0, ErrBufferTooSmall
	}
	h.putHeader(b, hl)
	copy(b[hl:total], payload)
	return total, nil
}

func (h *Header) putHeader(b []byte, hl int) {
	binary.BigEndian.PutUint16(b[0:], h.SrcPort)
	binary.BigEndian.PutUint16(b[2:], h.DstPort)
	binary.BigEndian.PutUint32(b[4:], uint32(h.Seq))
	binary.BigEndian.PutUint32(b[8:], uint32(h.Ack))
	b[12] = byte(hl/4) << 4
	b[13] = byte(h.Flags)
	binary.BigEndian.PutUint16(b[14:], h.Window)
	b[16], b[17] = 0, 0
	binary.BigEndian.PutUint16(b[18:], h.Urgent)
	h.Options.emit(b[HeaderLen:hl])
}

// setChecksum computes and stores the checksum of the segment in b.
func setChecksum(b []byte, src, dst netip.Addr) {
	b[16], b[17] = 0, 0
	s := checksum.Sum(b, checksum.PseudoHeaderSum(src, dst, ProtocolNumber, len(b)))
	binary.BigEndian.PutUint16(b[16:], checksum.Fold(s))
}
