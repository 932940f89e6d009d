// Package checksum computes the Internet checksum of RFC 1071: the 16-bit
// ones'-complement of the ones'-complement sum of 16-bit big-endian words,
// as used by IPv4, ICMP, UDP and TCP.
//
// The work is split in two so that callers can chain pieces (pseudo-header,
// header, payload) without copying them into one buffer:
//
//	sum := checksum.PseudoHeaderSum(src, dst, 6, len(segment))
//	sum = checksum.Sum(segment, sum)
//	csum := checksum.Fold(sum)
//
// A buffer that already holds its checksum verifies when
// Fold(Sum(b, initial)) == 0.
package checksum

import (
	"encoding/binary"
	"math/bits"
	"net/netip"
)

// Sum adds the 16-bit big-endian words of b to the partial sum initial and
// returns the new partial sum, not yet folded to 16 bits nor complemented.
//
// An odd trailing byte is treated as the high byte of a word whose low byte
// is zero (RFC 1071 §4.1). Chaining therefore gives the same result as one
// call over the concatenation only if every piece except the last has an
// even length.
//
// Why 8 bytes at a time works: the ones'-complement sum is arithmetic modulo
// 0xFFFF, and 2^16 ≡ 1 (mod 0xFFFF), so four words packed big-endian in a
// uint64 contribute the same residue as the four words summed one by one,
// provided every carry out of bit 63 is added back in (end-around carry,
// RFC 1071 §2(C)). Folding the 64-bit accumulator to 32 bits keeps the same
// residue.
func Sum(b []byte, initial uint32) uint32 {
	acc := uint64(initial)
	var carry uint64
	for len(b) >= 32 {
		acc, carry = bits.Add64(acc, binary.BigEndian.Uint64(b[0:8]), carry)
		acc, carry = bits.Add64(acc, binary.BigEndian.Uint64(b[8:16]), carry)
		acc, carry = bits.Add64(acc, binary.BigEndian.Uint64(b[16:24]), carry)
		acc, carry = bits.Add64(acc, binary.BigEndian.Uint64(b[24:32]), carry)
		b = b[32:]
	}
	for len(b) >= 8 {
		acc, carry = bits.Add64(acc, binary.BigEndian.Uint64(b[0:8]), carry)
		b = b[8:]
	}
	if len(b) >= 4 {
		acc, carry = bits.Add64(acc, uint64(binary.BigEndian.Uint32(b[0:4])), carry)
		b = b[4:]
	}
	if len(b) >= 2 {
		acc, carry = bits.Add64(acc, uint64(binary.BigEndian.Uint16(b[0:2])), carry)
		b = b[2:]
	}
	if len(b) == 1 {
		acc, carry = bits.Add64(acc, uint64(b[0])<<8, carry)
	}
	// Add the last carry back in. If that overflows again, acc is now zero
	// and adding the second carry cannot overflow.
	acc, carry = bits.Add64(acc, 0, carry)
	acc += carry
	return foldTo32(acc)
}

// foldTo32 reduces a 64-bit partial sum to 32 bits, preserving its residue
// modulo 0xFFFF.
func foldTo32(acc uint64) uint32 {
	s := (acc >> 32) + (acc & 0xFFFFFFFF) // at most 2^33 - 2
	s = (s >> 32) + (s & 0xFFFFFFFF)      // fits in 32 bits
	return uint32(s)
}

// Fold reduces a partial sum to 16 bits with end-around carries and returns
// its ones'-complement: the value to store in a checksum field (in network
// byte order), or zero when verifying a buffer that contains a correct
// checksum.
func Fold(sum uint32) uint16 {
	s := (sum >> 16) + (sum & 0xFFFF) // at most 0x1FFFE
	s = (s >> 16) + (s & 0xFFFF)      // fits in 16 bits
	return ^uint16(s)
}

// Checksum returns the Internet checksum of b: Fold(Sum(b, 0)).
func Checksum(b []byte) uint16 {
	return Fold(Sum(b, 0))
}

// PseudoHeaderSum returns the partial sum of the pseudo-header that UDP and
// TCP (and ICMPv6) include in their checksums.
//
// For IPv4 addresses (including IPv4-mapped IPv6 ones, which are unmapped)
// it is the RFC 768 / RFC 793 §3.1 layout: source, destination, a zero
// byte, the protocol and the 16-bit upper-layer length. Otherwise it is the
// RFC 8200 §8.1 layout: source, destination, the 32-bit upper-layer length,
// three zero bytes and the next header. Both reduce to the same sum of
// address words plus length plus protocol, because zero bytes add nothing
// and word positions do not matter modulo 0xFFFF.
//
// length is the upper-layer length in bytes (header plus data); it is
// taken modulo 2^32. If only one of src and dst is IPv4, both are summed as
// 16-byte addresses; mixing families is a caller error but does not panic.
func PseudoHeaderSum(src, dst netip.Addr, proto uint8, length int) uint32 {
	src, dst = src.Unmap(), dst.Unmap()
	var acc uint64
	if src.Is4() && dst.Is4() {
		s, d := src.As4(), dst.As4()
		acc = uint64(binary.BigEndian.Uint32(s[:])) + uint64(binary.BigEndian.Uint32(d[:]))
	} else {
		// As16 of the zero Addr is all zeros; it never panics.
		s, d := src.As16(), dst.As16()
		for _, w := range [4]uint64{
			binary.BigEndian.Uint64(s[0:8]), binary.BigEndian.Uint64(s[8:16]),
			binary.BigEndian.Uint64(d[0:8]), binary.BigEndian.Uint64(d[8:16]),
		} {
			acc = addCarry(acc, w)
		}
	}
	acc = addCarry(acc, uint64(uint32(length)))
	acc = addCarry(acc, uint64(proto))
	return foldTo32(acc)
}

// addCarry is ones'-complement addition of two 64-bit quantities.
func addCarry(a, b uint64) uint64 {
	s, c := bits.Add64(a, b, 0)
	// If c is 1, s <= 2^64-2, so adding it back cannot overflow.
	return s + c
}
