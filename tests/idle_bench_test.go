package tests

import (
	"context"
	"net"
	"net/netip"
	"runtime"
	"testing"
	"time"

	"github.com/actnet/actnet/device"
)

// BenchmarkIdleConnMemory reports the heap held by one idle established
// TCP connection end (control block, connection actor, mailbox, socket),
// measured over b.N connections between two stacks on a memory link. Run
// it at scale with -benchtime=10000x.
func BenchmarkIdleConnMemory(b *testing.B) {
	a, s, _, _ := pair(b, device.MemoryConfig{RingSize: 8192})
	l, err := s.Listen("tcp", ":80")
	if err != nil {
		b.Fatal(err)
	}
	accepted := make(chan net.Conn, b.N)
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			accepted <- c
		}
	}()
	to := netip.AddrPortFrom(s.Addr(), 80)
	before := heapInUse()
	b.ResetTimer()
	conns := make([]net.Conn, 0, 2*b.N)
	for i := 0; i < b.N; i++ {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		c, err := a.DialTCP(ctx, to)
		cancel()
		if err != nil {
			b.Fatalf("dial %d: %v", i, err)
		}
		conns = append(conns, c)
	}
	for i := 0; i < b.N; i++ {
		select {
		case c := <-accepted:
			conns = append(conns, c)
		case <-time.After(10 * time.Second):
			b.Fatalf("accepted %d of %d", i, b.N)
		}
	}
	b.StopTimer()
	after := heapInUse()
	b.ReportMetric(float64(after-before)/float64(2*b.N), "B/conn")
	runtime.KeepAlive(conns)
	for _, c := range conns {
		c.Close()
	}
	l.Close()
}

func heapInUse() uint64 {
	var m runtime.MemStats
	for i := 0; i < 3; i++ {
		runtime.GC()
	}
	runtime.ReadMemStats(&m)
	return m.HeapInuse
}
