// Package udp is the wire format of the User Datagram Protocol (RFC 768):
// a checked byte view of received datagrams and a header representation
// that emits a header and its checksum in place. It holds no state; ports,
// sockets and queues belong to the udp actor.
package udp

import (
	"encoding/binary"
	"errors"

	"github.com/actnet/actnet/layers/checksum"
)

// HeaderLen is the size of the UDP header in bytes (RFC 768).
const HeaderLen = 8

// MaxLen is the largest value the 16-bit length field can hold. IPv6
// jumbograms (RFC 2675, length field zero) are not supported.
const MaxLen = 0xffff

// Protocol is the IP protocol number (IPv4) and Next Header value (IPv6)
// of UDP, for the pseudo-header.
const Protocol = 17

// Reasons a buffer is not a UDP datagram. Each is distinct so that the
// caller can count drops by reason (DESIGN.md principle 2).
var (
	// ErrTruncated: fewer than HeaderLen bytes.
	ErrTruncated = errors.New("udp: shorter than the 8-byte header")
	// ErrLengthTooShort: the length field is below HeaderLen (it counts
	// the header itself, RFC 768). This includes zero, the jumbogram
	// marker of RFC 2675, which is not supported.
	ErrLengthTooShort = errors.New("udp: length field below header size")
	// ErrLengthTooLong: the length field claims more bytes than were
	// received.
	ErrLengthTooLong = errors.New("udp: length field exceeds received bytes")
	// ErrBufferTooSmall: Emit was given fewer than HeaderLen bytes.
	ErrBufferTooSmall = errors.New("udp: buffer shorter than the header")
	// ErrTooBig: Emit was given more than MaxLen bytes, which the length
	// field cannot describe.
	ErrTooBig = errors.New("udp: datagram longer than 65535 bytes")
)

// Datagram is a read-only view of a UDP datagram whose length field has
// been checked by NewDatagram. It aliases the caller's bytes.
//
// The zero Datagram is empty: its accessors return zero values, never
// panic.
type Datagram struct {
	b []byte
}

// NewDatagram checks that b holds a UDP header whose length field is sane
// (at least HeaderLen and at most len(b)) and returns a view truncated to
// that length. Bytes past the length field are link-layer or IP padding
// and are not part of the datagram (RFC 768: the length counts header and
// data).
func NewDatagram(b []byte) (Datagram, error) {
	if len(b) < HeaderLen {
		return Datagram{}, ErrTruncated
	}
	n := int(binary.BigEndian.Uint16(b[4:6]))
	if n < HeaderLen {
		return Datagram{}, ErrLengthTooShort
	}
	if n > len(b) {
		return Datagram{}, ErrLengthTooLong
	}
	return Datagram{b: b[:n:n]}, nil
}

// ok reports whether the view holds a header; false only for the zero
// Datagram.
func (d Datagram) ok() bool { return len(d.b) >= HeaderLen }

// SrcPort returns the source port (zero means "none", RFC 768).
func (d Datagram) SrcPort() uint16 {
	if !d.ok() {
		return 0
	}
	return binary.BigEndian.Uint16(d.b[0:2])
}

// DstPort returns the destination port.
func (d Datagram) DstPort() uint16 {
	if !d.ok() {
		return 0
	}
	return binary.BigEndian.Uint16(d.b[2:4])
}

// Length returns the length field: header plus payload, in bytes. After
// NewDatagram it equals len(d.Bytes()).
func (d Datagram) Length() uint16 {
	if !d.ok() {
		return 0
	}
	return binary.BigEndian.Uint16(d.b[4:6])
}

// Checksum returns the checksum field as received.
func (d Datagram) Checksum() uint16 {
	if !d.ok() {
		return 0
	}
	return binary.BigEndian.Uint16(d.b[6:8])
}

// Payload returns the data after the header, aliasing the view.
func (d Datagram) Payload() []byte {
	if !d.ok() {
		return nil
	}
	return d.b[HeaderLen:]
}

// Bytes returns the whole datagram, header and payload, aliasing the view.
func (d Datagram) Bytes() []byte { return d.b }

// Header returns the header representation of the view.
func (d Datagram) Header() Header {
	return Header{SrcPort: d.SrcPort(), DstPort: d.DstPort()}
}

// VerifyChecksum reports whether the checksum is correct. pseudoSum is the
// partial sum of the IP pseudo-header, for example
// checksum.PseudoHeaderSum(src, dst, udp.Protocol, int(d.Length())); note
// that the length in it is the UDP length field, not the IP payload length.
//
// A zero checksum field means the sender computed none. That is allowed
// over IPv4 (RFC 768), so pass zeroMeansNone = true there and the datagram
// verifies; IPv6 makes the checksum mandatory (RFC 8200 §8.1: "IPv6
// receivers must discard UDP packets containing a zero checksum"), so pass
// false there and a zero field fails. A computed checksum of zero is sent
// as 0xffff (RFC 768), which verifies normally because 0xffff and zero are
// the same number in ones'-complement arithmetic.
func (d Datagram) VerifyChecksum(pseudoSum uint32, zeroMeansNone bool) bool {
	if !d.ok() {
		return false
	}
	if d.Checksum() == 0 {
		return zeroMeansNone
	}
	return checksum.Fold(checksum.Sum(d.b, pseudoSum)) == 0
}

// Header is the representation of a UDP header. The length and checksum
// fields are not stored: Emit derives them from the buffer it fills.
type Header struct {
	SrcPort uint16
	DstPort uint16
}

// Len returns the number of bytes the header occupies on the wire.
func (h Header) Len() int { return HeaderLen }

// Emit writes the header into b[:HeaderLen], where b is the whole datagram
// with its payload already in place at b[HeaderLen:]. The length field is
// set to len(b) and the checksum is computed over header and payload plus
// pseudoSum, which must be the pseudo-header sum for an upper-layer length
// of len(b) (checksum.PseudoHeaderSum(src, dst, udp.Protocol, len(b))).
//
// The checksum is always sent, also over IPv4: a computed zero is
// transmitted as 0xffff, because zero on the wire means "no checksum"
// (RFC 768; RFC 8200 §8.1).
//
// Emit returns ErrBufferTooSmall or ErrTooBig, leaving b untouched, when
// len(b) cannot be described by the header.
func (h Header) Emit(b []byte, pseudoSum uint32) error {
	if len(b) < HeaderLen {
		return ErrBufferTooSmall
	}
	if len(b) > MaxLen {
		return ErrTooBig
	}
	binary.BigEndian.PutUint16(b[0:2], h.SrcPort)
	binary.BigEndian.PutUint16(b[2:4], h.DstPort)
	binary.BigEndian.PutUint16(b[4:6], uint16(len(b)))
	binary.BigEndian.PutUint16(b[6:8], 0)
	c := checksum.Fold(checksum.Sum(b, pseudoSum))
	if c == 0 {
		c = 0xffff
	}
	binary.BigEndian.PutUint16(b[6:8], c)
	return nil
}
