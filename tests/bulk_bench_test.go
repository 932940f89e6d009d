package tests

import (
	"io"
	"net"
	"net/netip"
	"testing"

	"github.com/actnet/actnet"
	"github.com/actnet/actnet/device"
)

// BenchmarkTCPBulkMemory measures one TCP connection moving data between
// two stacks over the memory link: the cost of the stack itself, with no
// device syscalls. The ipv4 and ipv6 sub-benchmarks run the same load over
// each family, so their ratio is IPv6's cost (issue 10 wants it within 10%).
func BenchmarkTCPBulkMemory(b *testing.B) {
	b.Run("ipv4", func(b *testing.B) {
		a, s, _, _ := pair(b, device.MemoryConfig{RingSize: 4096})
		benchBulk(b, a, s, netip.AddrPortFrom(s.Addr(), 9000))
	})
	b.Run("ipv6", func(b *testing.B) {
		a, s, _, _ := pair6With(b, true, device.MemoryConfig{RingSize: 4096})
		benchBulk(b, a, s, netip.AddrPortFrom(v6B.Addr(), 9000))
	})
	// The same over a link with checksum and segmentation offloads (TSO
	// one way, super-frames the other, as over a veth with GRO).
	b.Run("ipv4-offload", func(b *testing.B) {
		a, s, _, _ := pair(b, device.MemoryConfig{RingSize: 4096, Offload: true})
		benchBulk(b, a, s, netip.AddrPortFrom(s.Addr(), 9000))
	})
	b.Run("ipv6-offload", func(b *testing.B) {
		a, s, _, _ := pair6With(b, true, device.MemoryConfig{RingSize: 4096, Offload: true})
		benchBulk(b, a, s, netip.AddrPortFrom(v6B.Addr(), 9000))
	})
}

// benchBulk streams b.N chunks of 64 KiB from a to s's discard listener
// at dst and checks that every byte arrived.
func benchBulk(b *testing.B, a, s *actnet.Stack, dst netip.AddrPort) {
	l, err := s.Listen("tcp", ":9000")
	if err != nil {
		b.Fatal(err)
	}
	defer l.Close()
	done := make(chan int64, 1)
	go func() {
		c, err := l.Accept()
		if err != nil {
			done <- 0
			return
		}
		n, _ := io.Copy(io.Discard, c)
		c.Close()
		done <- n
	}()
	c, err := a.Dial("tcp", dst.String())
	if err != nil {
		b.Fatal(err)
	}
	chunk := make([]byte, 64<<10)
	b.SetBytes(int64(len(chunk)))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := c.Write(chunk); err != nil {
			b.Fatal(err)
		}
	}
	c.(interface{ CloseWrite() error }).CloseWrite()
	if n := <-done; n != int64(b.N)*int64(len(chunk)) {
		b.Fatalf("received %d of %d bytes", n, int64(b.N)*int64(len(chunk)))
	}
	b.StopTimer()
	c.Close()
	var _ net.Conn = c
}
