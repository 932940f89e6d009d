package checksum

import (
	"encoding/binary"
	"math/rand/v2"
	"net/netip"
	"testing"
)

// referenceSum is the textbook RFC 1071 loop: 16-bit words, fold at the end.
func referenceSum(b []byte, initial uint32) uint32 {
	sum := uint64(initial)
	for i := 0; i+1 < len(b); i += 2 {
		sum += uint64(b[i])<<8 | uint64(b[i+1])
	}
	if len(b)%2 == 1 {
		sum += uint64(b[len(b)-1]) << 8
	}
	for sum>>16 != 0 {
		sum = (sum >> 16) + (sum & 0xFFFF)
	}
	return uint32(sum)
}

func referenceChecksum(b []byte) uint16 {
	return ^uint16(referenceSum(b, 0))
}

func TestChecksumMatchesReference(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	buf := make([]byte, 300+7)
	for n := 0; n <= 300; n++ {
		for trial := 0; trial < 20; trial++ {
			// Vary the start offset so unaligned slices are covered too.
			off := trial % 8
			b := buf[off : off+n]
			for i := range b {
				b[i] = byte(rng.Uint32())
			}
			if trial == 0 {
				for i := range b {
					b[i] = 0xFF // worst case for carries
				}
			}
			init := uint32(0)
			if trial%3 == 1 {
				init = rng.Uint32()
			}
			got := Fold(Sum(b, init))
			want := ^uint16(referenceSum(b, init))
			if got != want {
				t.Fatalf("len %d off %d init %#x: got %#04x want %#04x", n, off, init, got, want)
			}
			if got, want := Checksum(b), referenceChecksum(b); got != want {
				t.Fatalf("Checksum len %d: got %#04x want %#04x", n, got, want)
			}
		}
	}
}

func TestAllOnesDoesNotLoseCarries(t *testing.T) {
	b := make([]byte, 9000)
	for i := range b {
		b[i] = 0xFF
	}
	if got, want := Checksum(b), referenceChecksum(b); got != want {
		t.Fatalf("got %#04x want %#04x", got, want)
	}
	if got, want := Fold(Sum(b, 0xFFFFFFFF)), ^uint16(referenceSum(b, 0xFFFFFFFF)); got != want {
		t.Fatalf("with initial: got %#04x want %#04x", got, want)
	}
}

func TestChaining(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	b := make([]byte, 1000)
	for i := range b {
		b[i] = byte(rng.Uint32())
	}
	for split := 0; split <= len(b); split += 2 {
		s := Sum(b[split:], Sum(b[:split], 0))
		if Fold(s) != Checksum(b) {
			t.Fatalf("split %d: chained sum differs", split)
		}
	}
}

// TestRFC1071Example uses the worked example of RFC 1071 §3.
func TestRFC1071Example(t *testing.T) {
	b := []byte{0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7}
	if got := Sum(b, 0); Fold(got) != ^uint16(0xddf2) {
		t.Fatalf("sum %#x, folded %#04x, want ones-complement of 0xddf2", got, Fold(got))
	}
}

// TestIPv4HeaderFixture checks the header of a Linux ping (10.0.0.1 to
// 10.0.0.2, ID 0x5c8a, DF, TTL 64); the sum was verified by hand:
// 4500+0054+5c8a+4000+4001+0a00+0001+0a00+0002 = 0x135e2 → 0x35e3 → ^ = 0xca1c.
func TestIPv4HeaderFixture(t *testing.T) {
	hdr := []byte{
		0x45, 0x00, 0x00, 0x54, 0x5c, 0x8a, 0x40, 0x00, 0x40, 0x01,
		0x00, 0x00, // checksum zeroed
		0x0a, 0x00, 0x00, 0x01, 0x0a, 0x00, 0x00, 0x02,
	}
	const want = 0xca1c
	if got := Checksum(hdr); got != want {
		t.Fatalf("got %#04x want %#04x", got, want)
	}
	binary.BigEndian.PutUint16(hdr[10:], want)
	if got := Checksum(hdr); got != 0 {
		t.Fatalf("verification sum %#04x, want 0", got)
	}
}

func TestPseudoHeaderSumIPv4(t *testing.T) {
	src := netip.MustParseAddr("192.168.1.10")
	dst := netip.MustParseAddr("10.0.0.1")
	ph := []byte{192, 168, 1, 10, 10, 0, 0, 1, 0, 17, 0x01, 0x2c}
	if got, want := Fold(PseudoHeaderSum(src, dst, 17, 300)), referenceChecksum(ph); got != want {
		t.Fatalf("got %#04x want %#04x", got, want)
	}
	// IPv4-mapped addresses use the IPv4 layout.
	m := netip.AddrFrom16(src.As16())
	n := netip.AddrFrom16(dst.As16())
	if PseudoHeaderSum(m, n, 17, 300) != PseudoHeaderSum(src, dst, 17, 300) {
		t.Fatal("mapped addresses summed differently")
	}
}

func TestPseudoHeaderSumIPv6(t *testing.T) {
	src := netip.MustParseAddr("fe80::1:2:3:4")
	dst := netip.MustParseAddr("ff02::1:ff00:1234")
	s, d := src.As16(), dst.As16()
	var ph []byte
	ph = append(ph, s[:]...)
	ph = append(ph, d[:]...)
	ph = binary.BigEndian.AppendUint32(ph, 70000)
	ph = append(ph, 0, 0, 0, 58)
	if got, want := Fold(PseudoHeaderSum(src, dst, 58, 70000)), referenceChecksum(ph); got != want {
		t.Fatalf("got %#04x want %#04x", got, want)
	}
	// Invalid and mixed addresses must not panic.
	_ = PseudoHeaderSum(netip.Addr{}, dst, 6, 20)
	_ = PseudoHeaderSum(netip.MustParseAddr("1.2.3.4"), dst, 6, -1)
}

func TestZeroAllocs(t *testing.T) {
	b := make([]byte, 1500)
	src := netip.MustParseAddr("fe80::1")
	dst := netip.MustParseAddr("fe80::2")
	allocs := testing.AllocsPerRun(100, func() {
		_ = Fold(Sum(b, PseudoHeaderSum(src, dst, 6, len(b))))
		_ = Checksum(b)
	})
	if allocs != 0 {
		t.Fatalf("%v allocations per run, want 0", allocs)
	}
}

func BenchmarkChecksum(b *testing.B) {
	for _, size := range []int{64, 1500, 9000} {
		buf := make([]byte, size)
		for i := range buf {
			buf[i] = byte(i * 7)
		}
		b.Run(itoa(size), func(b *testing.B) {
			b.SetBytes(int64(size))
			for b.Loop() {
				_ = Checksum(buf)
			}
		})
	}
}

func BenchmarkReference(b *testing.B) {
	buf := make([]byte, 1500)
	b.SetBytes(int64(len(buf)))
	for b.Loop() {
		_ = referenceChecksum(buf)
	}
}

func itoa(n int) string {
	if n == 0 {
		return "0"
	}
	var d []byte
	for ; n > 0; n /= 10 {
		d = append([]byte{byte('0' + n%10)}, d...)
	}
	return string(d)
}
