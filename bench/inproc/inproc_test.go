package inproc

import (
	"context"
	"io"
	"testing"
	"time"
)

// stacks are the pairs every benchmark runs on, as sub-benchmarks named
// actnet and gvisor, so `-bench 'Bulk/actnet'` picks one.
var stacks = []struct {
	name string
	new  func() (Pair, error)
}{
	{"actnet", NewActnet},
	{"gvisor", NewGVisor},
}

// BenchmarkBulk sends b.N 64 KiB writes from client to server on one TCP
// connection and counts the time until the server has read the last byte
// and seen the FIN, so data still in buffers is not counted as delivered.
func BenchmarkBulk(b *testing.B) {
	for _, s := range stacks {
		b.Run(s.name, func(b *testing.B) { bulk(b, s.new) })
	}
}

func bulk(b *testing.B, newPair func() (Pair, error)) {
	p, err := newPair()
	if err != nil {
		b.Fatal(err)
	}
	defer p.Close()
	l, err := p.Listen(9001)
	if err != nil {
		b.Fatal(err)
	}
	defer l.Close()
	type result struct {
		n   int64
		err error
	}
	got := make(chan result, 1)
	go func() {
		c, err := l.Accept()
		if err != nil {
			got <- result{err: err}
			return
		}
		defer c.Close()
		n, err := io.Copy(io.Discard, c)
		got <- result{n, err}
	}()
	// Every wait is bounded, so a stall fails the benchmark instead of
	// hanging it.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := p.Dial(ctx, 9001)
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	const size = 64 << 10
	buf := make([]byte, size)
	b.SetBytes(size)
	b.ResetTimer()
	c.SetWriteDeadline(time.Now().Add(30*time.Second + time.Duration(b.N)*10*time.Millisecond))
	for range b.N {
		if _, err := c.Write(buf); err != nil {
			b.Fatalf("write: %v", err)
		}
	}
	if err := c.(interface{ CloseWrite() error }).CloseWrite(); err != nil {
		b.Fatalf("close write: %v", err)
	}
	var r result
	select {
	case r = <-got:
	case <-time.After(30 * time.Second):
		b.Fatal("the server did not see the end of the stream within 30 s")
	}
	b.StopTimer()
	if r.err != nil {
		b.Fatalf("server: %v", r.err)
	}
	if r.n != int64(b.N)*size {
		b.Fatalf("server read %d bytes, want %d", r.n, int64(b.N)*size)
	}
	b.ReportMetric(float64(r.n)*8/b.Elapsed().Seconds()/1e9, "Gbit/s")
}
