package tests

import (
	"context"
	"fmt"
	"net/netip"
	"testing"
	"time"

	"github.com/actnet/actnet/device"
)

// BenchmarkUDPEcho measures round trips of one datagram between two stacks
// on a memory link: small, one full frame, and fragmented sizes.
func BenchmarkUDPEcho(b *testing.B) {
	for _, size := range []int{64, 1472, 8000, 65507} {
		b.Run(fmt.Sprint(size), func(b *testing.B) {
			x, y, _, _ := pair(b, device.MemoryConfig{})
			srv, err := y.ListenUDP(netip.AddrPortFrom(netip.Addr{}, 7))
			if err != nil {
				b.Fatal(err)
			}
			defer srv.Close()
			go func() {
				buf := make([]byte, 65536)
				for {
					n, from, err := srv.ReadFromUDPAddrPort(buf)
					if err != nil {
						return
					}
					srv.WriteToUDPAddrPort(buf[:n], from)
				}
			}()
			c, err := x.DialUDP(context.Background(), netip.AddrPort{}, netip.AddrPortFrom(y.Addr(), 7))
			if err != nil {
				b.Fatal(err)
			}
			defer c.Close()
			msg, buf := make([]byte, size), make([]byte, 65536)
			b.SetBytes(int64(2 * size))
			b.ResetTimer()
			for range b.N {
				c.Write(msg)
				c.SetReadDeadline(time.Now().Add(time.Second))
				if _, err := c.Read(buf); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
