package device

import (
	"io"
	"testing"
)

// BenchmarkMemoryRoundTrip sends a 1500-byte frame a→b and back b→a per
// iteration, one frame per call: the latency-bound worst case.
func BenchmarkMemoryRoundTrip(b *testing.B) {
	x, y := NewMemoryPair(MemoryConfig{})
	defer x.Close()
	defer y.Close()
	frame := testFrame(y.HardwareAddr(), x.HardwareAddr(), 1, 1500)
	bufs, sizes := newBufs(1, 2048)
	b.SetBytes(2 * int64(len(frame)))
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if err := x.Write(frame); err != nil {
			b.Fatal(err)
		}
		if _, err := y.ReadBatch(bufs, sizes); err != nil {
			b.Fatal(err)
		}
		if err := y.Write(bufs[0][:sizes[0]]); err != nil {
			b.Fatal(err)
		}
		if _, err := x.ReadBatch(bufs, sizes); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(2*float64(b.N)/b.Elapsed().Seconds(), "frames/s")
}

// BenchmarkMemoryBatch moves 64 frames of 1500 bytes per WriteBatch and
// ReadBatch, the way the stack's reader and writer use the link.
func BenchmarkMemoryBatch(b *testing.B) {
	const batch = 64
	x, y := NewMemoryPair(MemoryConfig{})
	defer x.Close()
	defer y.Close()
	frames := make([][]byte, batch)
	for i := range frames {
		frames[i] = testFrame(y.HardwareAddr(), x.HardwareAddr(), uint32(i), 1500)
	}
	bufs, sizes := newBufs(batch, 2048)
	b.SetBytes(batch * 1500)
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if err := x.WriteBatch(frames); err != nil {
			b.Fatal(err)
		}
		if n, err := y.ReadBatch(bufs, sizes); n != batch || err != nil {
			b.Fatal(n, err)
		}
	}
	b.ReportMetric(batch*float64(b.N)/b.Elapsed().Seconds(), "frames/s")
}

// BenchmarkMemoryStreaming has a writer and a reader goroutine, so the cost
// of waking a blocked reader is included.
func BenchmarkMemoryStreaming(b *testing.B) {
	x, y := NewMemoryPair(MemoryConfig{})
	defer x.Close()
	frame := testFrame(y.HardwareAddr(), x.HardwareAddr(), 1, 1500)
	done := make(chan int)
	go func() {
		bufs, sizes := newBufs(64, 2048)
		got := 0
		for {
			n, err := y.ReadBatch(bufs, sizes)
			if err != nil {
				done <- got
				return
			}
			got += n
		}
	}()
	b.SetBytes(1500)
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		_ = x.Write(frame)
	}
	b.StopTimer()
	_ = y.Close()
	got := <-done
	b.ReportMetric(float64(got)/b.Elapsed().Seconds(), "frames/s")
	b.ReportMetric(float64(y.Stats().DropsRingFull)/float64(b.N), "drops/frame")
}

// BenchmarkMemoryFaults measures the cost of the fault path (every draw
// taken, 1% loss) on top of BenchmarkMemoryBatch.
func BenchmarkMemoryFaults(b *testing.B) {
	const batch = 64
	x, y := NewMemoryPair(MemoryConfig{FaultsAToB: Faults{Seed: 1, DropPercent: 1}})
	defer x.Close()
	defer y.Close()
	frames := make([][]byte, batch)
	for i := range frames {
		frames[i] = testFrame(y.HardwareAddr(), x.HardwareAddr(), uint32(i), 1500)
	}
	bufs, sizes := newBufs(batch, 2048)
	b.SetBytes(batch * 1500)
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if err := x.WriteBatch(frames); err != nil {
			b.Fatal(err)
		}
		if _, err := y.ReadBatch(bufs, sizes); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkPcapWrite is the cost of capturing one 1500-byte frame.
func BenchmarkPcapWrite(b *testing.B) {
	x, y := NewMemoryPair(MemoryConfig{FaultsAToB: Faults{DropPercent: 100}})
	defer y.Close()
	p, err := NewPcap(x, io.Discard)
	if err != nil {
		b.Fatal(err)
	}
	defer p.Close()
	frame := testFrame(y.HardwareAddr(), x.HardwareAddr(), 1, 1500)
	b.SetBytes(1500)
	b.ReportAllocs()
	for b.Loop() {
		_ = p.Write(frame)
	}
}

// TestReadBatchAllocs pins the zero-allocation property the benchmarks show,
// so a regression fails the tests rather than waiting for someone to look.
func TestReadBatchAllocs(t *testing.T) {
	x, y := NewMemoryPair(MemoryConfig{})
	defer x.Close()
	defer y.Close()
	frame := testFrame(y.HardwareAddr(), x.HardwareAddr(), 1, 1500)
	bufs, sizes := newBufs(4, 2048)
	_ = x.Write(frame) // warm the ring slot
	_, _ = y.ReadBatch(bufs, sizes)
	allocs := testing.AllocsPerRun(100, func() {
		_ = x.Write(frame)
		_, _ = y.ReadBatch(bufs, sizes)
	})
	if allocs != 0 {
		t.Fatalf("%v allocations per write+read, want 0", allocs)
	}
}
