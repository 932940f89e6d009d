package tests

import (
	"io"
	"net/netip"
	"runtime"
	"testing"
	"time"

	"github.com/actnet/actnet/device"
)

// Steady-state bulk receive must not allocate per packet: buffers, batches
// and received-data chunks all come from pools. The whole process is
// counted (every actor's goroutine), so what remains is per-batch runtime
// work such as scheduling an idle mailbox, which must stay well below one
// allocation per segment.
func TestBulkReceiveDoesNotAllocatePerPacket(t *testing.T) {
	if testing.Short() {
		t.Skip("moves 64 MiB")
	}
	if raceEnabled {
		t.Skip("the race detector allocates on its own")
	}
	// Plain frames, and super-frames with offload metadata (TSO on the
	// sender, partial checksums, the reader's large buffers).
	t.Run("plain", func(t *testing.T) { bulkReceiveAllocs(t, device.MemoryConfig{RingSize: 4096}) })
	t.Run("offload", func(t *testing.T) { bulkReceiveAllocs(t, device.MemoryConfig{RingSize: 4096, Offload: true}) })
}

func bulkReceiveAllocs(t *testing.T, cfg device.MemoryConfig) {
	a, b, _, _ := pair(t, cfg)
	l, err := b.Listen("tcp", ":9000")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	const warm, measured = 16 << 20, 64 << 20
	received := make(chan int64, 2)
	go func() {
		c, err := l.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		buf := make([]byte, 64<<10)
		var n int64
		for _, want := range []int64{warm, warm + measured} {
			for n < want {
				k, err := c.Read(buf)
				n += int64(k)
				if err != nil {
					return
				}
			}
			received <- n
		}
		io.Copy(io.Discard, c)
	}()
	c, err := a.Dial("tcp", netip.AddrPortFrom(b.Addr(), 9000).String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	chunk := make([]byte, 64<<10)
	send := func(total int) {
		for sent := 0; sent < total; sent += len(chunk) {
			if _, err := c.Write(chunk); err != nil {
				t.Fatal(err)
			}
		}
	}
	send(warm)
	select {
	case <-received:
	case <-time.After(30 * time.Second):
		t.Fatal("warm-up transfer stalled")
	}
	segsBefore := b.Stats().TCP.SegmentsReceived
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	send(measured)
	select {
	case <-received:
	case <-time.After(60 * time.Second):
		t.Fatal("transfer stalled")
	}
	runtime.ReadMemStats(&after)
	segs := b.Stats().TCP.SegmentsReceived - segsBefore
	allocs := after.Mallocs - before.Mallocs
	// With offloads a segment is a super-frame of up to 45 MSS, and the
	// sender's one allocation or two per 64 KiB app write (queueWrite,
	// Socket.reserve: the whole process is counted) would count against
	// each: count per MSS of data received instead, which is what a
	// segment is without offloads.
	units := max(segs, uint64(measured/1448))
	perSeg := float64(allocs) / float64(units)
	t.Logf("%d allocations for %d segments received (%d MSS of data): %.3f per segment", allocs, segs, measured/1448, perSeg)
	if perSeg > 0.1 {
		t.Fatalf("%.3f allocations per segment on the steady receive path; want none per packet", perSeg)
	}
}
