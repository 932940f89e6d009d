package tcp

import (
	"testing"
	"time"
)

// BenchmarkTransfer measures the pure control-block data path: two Conns
// back to back in memory, every segment serialized, parsed and checksummed
// on the way, no loss.
func BenchmarkTransfer(b *testing.B) {
	type pkt struct {
		toB bool
		buf []byte
	}
	var queue []pkt
	free := make([][]byte, 0, 256)
	get := func() []byte {
		if n := len(free); n > 0 {
			p := free[n-1]
			free = free[:n-1]
			return p
		}
		return make([]byte, 1600)
	}
	emitter := func(toB bool) Emitter {
		return func(o *Outgoing) {
			buf := get()
			n, err := o.Emit(buf)
			if err != nil {
				b.Fatal(err)
			}
			queue = append(queue, pkt{toB, buf[:n]})
		}
	}
	now := t0
	cfg := Config{}
	a, _ := Connect(&cfg, tupleA, 1, now, emitter(true))
	var c *Conn
	pump := func() {
		for len(queue) > 0 {
			p := queue[0]
			queue = queue[1:]
			seg, err := NewSegment(p.buf)
			if err != nil {
				b.Fatal(err)
			}
			if p.toB {
				if !seg.VerifyChecksumAddrs(tupleA.Local.Addr(), tupleA.Remote.Addr()) {
					b.Fatal("checksum")
				}
				if c == nil {
					c, _ = Accept(&cfg, tTuple, &seg, 2, now, emitter(false))
				} else {
					c.HandleSegment(now, tTuple, &seg)
				}
			} else {
				a.HandleSegment(now, tupleA, &seg)
			}
			free = append(free, p.buf[:cap(p.buf)])
		}
	}
	pump()
	chunk := make([]byte, 64<<10)
	rd := make([]byte, 64<<10)
	b.SetBytes(int64(len(chunk)))
	b.ReportAllocs()
	for b.Loop() {
		off := 0
		for off < len(chunk) {
			n, _ := a.Write(now, chunk[off:])
			off += n
			pump()
			for {
				n, _ := c.Read(now, rd)
				if n == 0 {
					break
				}
			}
			now = now.Add(time.Millisecond)
			c.HandleTimer(now)
			a.HandleTimer(now)
			pump()
		}
	}
}
