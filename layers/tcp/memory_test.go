package tcp

import (
	"runtime"
	"testing"
	"time"
	"unsafe"
)

var unsafeSizeofConn = unsafe.Sizeof(Conn{})

// idleEstablished builds an established connection that has exchanged some
// data, all of it read and acknowledged, so that its buffers are empty.
func idleEstablished(tb testing.TB) *Conn {
	h := newHarness(tb)
	h.cfg = Config{} // defaults: 256 KiB buffers, window scaling
	h.synReceived()
	h.send(S{F: FlagACK, Seq: h.rem, Ack: h.loc, Win: 30000})
	h.write("request")
	h.send(S{F: FlagACK, Seq: h.rem, Ack: h.loc + 7, Win: 30000, Data: "response"})
	h.read("response")
	h.c.HandleTimer(h.now.Add(time.Second))
	h.c.emit = nil
	return h.c
}

// TestIdleConnMemory checks the per-connection cost of an idle established
// connection: the heap growth per connection, measured over many, must be
// well under 16 KiB (buffers are released when they empty).
func TestIdleConnMemory(t *testing.T) {
	const n = 2000
	conns := make([]*Conn, n)
	runtime.GC()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	for i := range conns {
		conns[i] = idleEstablished(t)
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	per := (int64(after.HeapAlloc) - int64(before.HeapAlloc)) / n
	t.Logf("idle established connection: %d bytes (Conn struct %d bytes)", per, unsafeSizeofConn)
	if per > 4096 {
		t.Fatalf("idle connection costs %d bytes", per)
	}
	for _, c := range conns {
		if len(c.sndq.chunks) != 0 || len(c.rcvq.chunks) != 0 {
			t.Fatal("idle connection holds buffer chunks")
		}
	}
	runtime.KeepAlive(conns)
}

// BenchmarkIdleConnMemory reports bytes per idle established connection.
func BenchmarkIdleConnMemory(b *testing.B) {
	conns := make([]*Conn, 0, b.N)
	runtime.GC()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	for i := 0; i < b.N; i++ {
		conns = append(conns, idleEstablished(b))
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	b.ReportMetric(float64(int64(after.HeapAlloc)-int64(before.HeapAlloc))/float64(b.N), "heap-bytes/conn")
	runtime.KeepAlive(conns)
}

// TestSteadyStateAllocs checks that moving data through an established
// connection allocates nothing per segment: sending, receiving, ACKs.
func TestSteadyStateAllocs(t *testing.T) {
	var out [2][]byte
	bufs := [2][]byte{make([]byte, 2000), make([]byte, 2000)}
	var a, b *Conn
	cfg := Config{}
	emitA := func(o *Outgoing) { n, _ := o.Emit(bufs[0]); out[0] = bufs[0][:n] }
	emitB := func(o *Outgoing) { n, _ := o.Emit(bufs[1]); out[1] = bufs[1][:n] }
	now := t0
	a, _ = Connect(&cfg, tupleA, 1, now, emitA)
	syn, _ := NewSegment(out[0])
	b, _ = Accept(&cfg, tTuple, &syn, 2, now, emitB)
	s, _ := NewSegment(out[1])
	a.HandleSegment(now, tupleA, &s)
	s, _ = NewSegment(out[0])
	b.HandleSegment(now, tTuple, &s)
	a.SetNoDelay(true)
	payload := make([]byte, 1000)
	rd := make([]byte, 4000)
	step := func() {
		now = now.Add(time.Millisecond)
		out[0], out[1] = nil, nil
		a.Write(now, payload)
		if out[0] != nil {
			s, _ := NewSegment(out[0])
			b.HandleSegment(now, tTuple, &s)
		}
		b.Read(now, rd)
		b.HandleTimer(now.Add(time.Second))
		if out[1] != nil {
			s, _ := NewSegment(out[1])
			a.HandleSegment(now, tupleA, &s)
		}
	}
	for i := 0; i < 100; i++ {
		step() // warm the chunk pool
	}
	if n := testing.AllocsPerRun(200, step); n > 0.05 {
		t.Fatalf("%v allocations per segment", n)
	}
	if b.State() != StateEstablished || a.Unsent() != 0 {
		t.Fatalf("transfer broke: %v unsent %d", b.State(), a.Unsent())
	}
}

// TestSteadyStateAllocsSACKRecovery checks that loss recovery with SACK
// allocates nothing per segment either: every 17th data segment is lost,
// so ACKs carry SACK blocks, the scoreboard fills and empties, and the
// sender keeps entering RFC 6675 recovery and resending holes.
func TestSteadyStateAllocsSACKRecovery(t *testing.T) {
	type pkt struct {
		toB bool
		n   int
		buf [1600]byte
	}
	const ring = 1024
	var (
		q          [ring]pkt
		head, tail int
		dataSegs   int
		a, b       *Conn
		now        = t0
	)
	emitter := func(toB bool) Emitter {
		return func(o *Outgoing) {
			if toB && o.PayloadLen() > 0 {
				dataSegs++
				if dataSegs%17 == 0 {
					return // lost
				}
			}
			p := &q[tail%ring]
			n, err := o.Emit(p.buf[:])
			if err != nil {
				t.Fatal(err)
			}
			p.toB, p.n = toB, n
			tail++
			if tail-head > ring {
				t.Fatal("queue overflow")
			}
		}
	}
	cfg := Config{}
	a, _ = Connect(&cfg, tupleA, 1, now, emitter(true))
	pump := func() {
		for head < tail {
			p := &q[head%ring]
			head++
			seg, err := NewSegment(p.buf[:p.n])
			if err != nil {
				t.Fatal(err)
			}
			if p.toB {
				if b == nil {
					b, _ = Accept(&cfg, tTuple, &seg, 2, now, emitter(false))
				} else {
					b.HandleSegment(now, tTuple, &seg)
				}
			} else {
				a.HandleSegment(now, tupleA, &seg)
			}
		}
	}
	pump()
	if !a.sackOK || !b.sackOK {
		t.Fatal("SACK not negotiated")
	}
	payload := make([]byte, 32<<10)
	rd := make([]byte, 64<<10)
	step := func() {
		a.Write(now, payload)
		pump()
		for {
			n, _ := b.Read(now, rd)
			if n == 0 {
				break
			}
		}
		pump()
		now = now.Add(5 * time.Millisecond)
		a.HandleTimer(now)
		b.HandleTimer(now)
		pump()
	}
	for i := 0; i < 200; i++ {
		step() // warm the chunk pool
	}
	before := a.Stats()
	if n := testing.AllocsPerRun(300, step); n > 0.05 && !raceEnabled {
		t.Fatalf("%v allocations per step", n)
	}
	st := a.Stats()
	if st.SACKRecoveries == before.SACKRecoveries || st.Retransmits == before.Retransmits || b.State() != StateEstablished {
		t.Fatalf("no SACK recovery happened: %+v", st)
	}
	t.Logf("%d data segments, %d SACK recoveries, %d retransmissions", dataSegs, st.SACKRecoveries, st.Retransmits)
}
