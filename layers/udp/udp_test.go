package udp

import (
	"bytes"
	"encoding/hex"
	"errors"
	"net/netip"
	"testing"

	"github.com/actnet/actnet/layers/checksum"
)

// Fixtures were computed independently (a few lines of Python summing the
// RFC 768 pseudo-header and datagram), not with this package.
var (
	// 10.0.0.1:1234 -> 10.0.0.2:80, payload "hello".
	fixtureV4 = mustHex("04d20050000da2dd68656c6c6f")
	// [2001:db8::1]:5353 -> [2001:db8::2]:53, payload "odd" (odd length
	// exercises the padding byte of RFC 1071 §4.1).
	fixtureV6 = mustHex("14e90035000bbbe06f6464")
	// 192.0.2.1:1000 -> 192.0.2.2:2000, payload 0x701e chosen so that
	// the computed checksum is zero and must be sent as 0xffff.
	fixtureZero = mustHex("03e807d0000affff701e")
)

func mustHex(s string) []byte {
	b, err := hex.DecodeString(s)
	if err != nil {
		panic(err)
	}
	return b
}

func pseudo(src, dst string, length int) uint32 {
	return checksum.PseudoHeaderSum(netip.MustParseAddr(src), netip.MustParseAddr(dst), Protocol, length)
}

func TestNewDatagramFixture(t *testing.T) {
	d, err := NewDatagram(fixtureV4)
	if err != nil {
		t.Fatal(err)
	}
	if d.SrcPort() != 1234 || d.DstPort() != 80 || d.Length() != 13 || d.Checksum() != 0xa2dd {
		t.Fatalf("fields: src %d dst %d len %d csum %#x", d.SrcPort(), d.DstPort(), d.Length(), d.Checksum())
	}
	if string(d.Payload()) != "hello" {
		t.Fatalf("payload %q", d.Payload())
	}
	if h := d.Header(); h != (Header{SrcPort: 1234, DstPort: 80}) || h.Len() != HeaderLen {
		t.Fatalf("header %+v", h)
	}
	if !d.VerifyChecksum(pseudo("10.0.0.1", "10.0.0.2", 13), true) {
		t.Fatal("v4 fixture does not verify")
	}
	// Same bytes, wrong pseudo-header (swapped destination): must fail.
	if d.VerifyChecksum(pseudo("10.0.0.1", "10.0.0.3", 13), true) {
		t.Fatal("verified against the wrong pseudo-header")
	}
}

func TestNewDatagramV6Fixture(t *testing.T) {
	d, err := NewDatagram(fixtureV6)
	if err != nil {
		t.Fatal(err)
	}
	ps := pseudo("2001:db8::1", "2001:db8::2", int(d.Length()))
	if !d.VerifyChecksum(ps, false) {
		t.Fatal("v6 fixture does not verify")
	}
	if string(d.Payload()) != "odd" {
		t.Fatalf("payload %q", d.Payload())
	}
}

func TestNewDatagramErrors(t *testing.T) {
	cases := []struct {
		name string
		b    []byte
		err  error
	}{
		{"nil", nil, ErrTruncated},
		{"seven bytes", fixtureV4[:7], ErrTruncated},
		{"length zero (jumbogram marker)", mustHex("04d2005000000000"), ErrLengthTooShort},
		{"length seven", mustHex("04d2005000070000"), ErrLengthTooShort},
		{"length past buffer", mustHex("04d20050000e0000686868"), ErrLengthTooLong},
		{"length 65535 in 8 bytes", mustHex("04d20050ffff0000"), ErrLengthTooLong},
	}
	for _, c := range cases {
		if _, err := NewDatagram(c.b); !errors.Is(err, c.err) {
			t.Errorf("%s: got %v, want %v", c.name, err, c.err)
		}
	}
	// The reasons are distinct values.
	errs := []error{ErrTruncated, ErrLengthTooShort, ErrLengthTooLong, ErrBufferTooSmall, ErrTooBig}
	for i := range errs {
		for j := range errs {
			if i != j && errors.Is(errs[i], errs[j]) {
				t.Errorf("%v and %v are not distinct", errs[i], errs[j])
			}
		}
	}
}

func TestNewDatagramTruncatesPadding(t *testing.T) {
	// Ethernet pads short frames; the IP payload can carry trailing junk
	// past the UDP length. The view must exclude it, and so must the
	// checksum.
	padded := append(append([]byte(nil), fixtureV4...), 0xde, 0xad, 0xbe, 0xef)
	d, err := NewDatagram(padded)
	if err != nil {
		t.Fatal(err)
	}
	if len(d.Bytes()) != 13 || string(d.Payload()) != "hello" {
		t.Fatalf("view not truncated: %x", d.Bytes())
	}
	if cap(d.Payload()) != 5 {
		t.Fatalf("payload capacity %d exposes bytes past the length", cap(d.Payload()))
	}
	if !d.VerifyChecksum(pseudo("10.0.0.1", "10.0.0.2", 13), true) {
		t.Fatal("padding leaked into the checksum")
	}
}

func TestHeaderOnly(t *testing.T) {
	b := make([]byte, HeaderLen)
	h := Header{SrcPort: 7, DstPort: 9}
	ps := pseudo("192.0.2.1", "192.0.2.2", HeaderLen)
	if err := h.Emit(b, ps); err != nil {
		t.Fatal(err)
	}
	d, err := NewDatagram(b)
	if err != nil {
		t.Fatal(err)
	}
	if len(d.Payload()) != 0 || d.Length() != HeaderLen || !d.VerifyChecksum(ps, false) {
		t.Fatalf("empty datagram: %x", b)
	}
}

func TestZeroChecksum(t *testing.T) {
	b := append([]byte(nil), fixtureV4...)
	b[6], b[7] = 0, 0
	d, err := NewDatagram(b)
	if err != nil {
		t.Fatal(err)
	}
	ps := pseudo("10.0.0.1", "10.0.0.2", 13)
	if !d.VerifyChecksum(ps, true) {
		t.Error("IPv4: zero checksum means none and must be accepted (RFC 768)")
	}
	if d.VerifyChecksum(ps, false) {
		t.Error("IPv6: zero checksum must be rejected (RFC 8200 §8.1)")
	}
}

func TestEmitMatchesFixtures(t *testing.T) {
	cases := []struct {
		name     string
		want     []byte
		src, dst string
	}{
		{"v4", fixtureV4, "10.0.0.1", "10.0.0.2"},
		{"v6 odd length", fixtureV6, "2001:db8::1", "2001:db8::2"},
		{"computed zero sent as 0xffff", fixtureZero, "192.0.2.1", "192.0.2.2"},
	}
	for _, c := range cases {
		b := make([]byte, len(c.want))
		copy(b[HeaderLen:], c.want[HeaderLen:])
		// Garbage in the header area must be overwritten, not summed.
		copy(b, []byte{1, 2, 3, 4, 5, 6, 7, 8})
		d, _ := NewDatagram(c.want)
		h := d.Header()
		if err := h.Emit(b, pseudo(c.src, c.dst, len(b))); err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if !bytes.Equal(b, c.want) {
			t.Errorf("%s: emitted %x, want %x", c.name, b, c.want)
		}
	}
	d, _ := NewDatagram(fixtureZero)
	if d.Checksum() != 0xffff {
		t.Fatalf("fixture checksum %#x", d.Checksum())
	}
	if !d.VerifyChecksum(pseudo("192.0.2.1", "192.0.2.2", 10), false) {
		t.Error("0xffff checksum does not verify")
	}
}

func TestEmitErrors(t *testing.T) {
	var h Header
	b := []byte{1, 2, 3, 4, 5, 6, 7}
	if err := h.Emit(b, 0); !errors.Is(err, ErrBufferTooSmall) {
		t.Errorf("short: %v", err)
	}
	if !bytes.Equal(b, []byte{1, 2, 3, 4, 5, 6, 7}) {
		t.Error("short buffer modified")
	}
	if err := h.Emit(nil, 0); !errors.Is(err, ErrBufferTooSmall) {
		t.Errorf("nil: %v", err)
	}
	big := make([]byte, MaxLen+1)
	if err := h.Emit(big, 0); !errors.Is(err, ErrTooBig) {
		t.Errorf("big: %v", err)
	}
	if err := h.Emit(big[:MaxLen], 0); err != nil {
		t.Errorf("65535 bytes: %v", err)
	}
}

func TestZeroDatagram(t *testing.T) {
	var d Datagram
	if d.SrcPort() != 0 || d.DstPort() != 0 || d.Length() != 0 || d.Checksum() != 0 ||
		d.Payload() != nil || d.Bytes() != nil || d.VerifyChecksum(0, true) {
		t.Fatal("zero Datagram is not empty")
	}
}

func TestCorruptionDetected(t *testing.T) {
	ps := pseudo("10.0.0.1", "10.0.0.2", 13)
	for i := range fixtureV4 {
		if i == 4 || i == 5 {
			continue // the length field is covered by TestNewDatagramErrors
		}
		b := append([]byte(nil), fixtureV4...)
		b[i] ^= 0x10
		d, err := NewDatagram(b)
		if err != nil {
			t.Fatalf("byte %d: %v", i, err)
		}
		if d.VerifyChecksum(ps, false) {
			t.Errorf("flip in byte %d not detected", i)
		}
	}
}

func BenchmarkEmitVerify1472(b *testing.B) {
	buf := make([]byte, HeaderLen+1472)
	ps := pseudo("10.0.0.1", "10.0.0.2", len(buf))
	h := Header{SrcPort: 1, DstPort: 2}
	b.SetBytes(int64(len(buf)))
	b.ReportAllocs()
	for b.Loop() {
		_ = h.Emit(buf, ps)
		d, err := NewDatagram(buf)
		if err != nil || !d.VerifyChecksum(ps, false) {
			b.Fatal("round trip failed")
		}
	}
}
