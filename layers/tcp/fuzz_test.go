package tcp

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"testing"
	"time"
)

// FuzzSegment: the parser never panics, and whatever it accepts survives
// a round trip through Header and Emit unchanged.
func FuzzSegment(f *testing.F) {
	h := fullHeader()
	buf := make([]byte, 100)
	n, _ := h.Emit(buf, []byte("data"), addr4a, addr4b)
	f.Add(buf[:n])
	f.Add(rawSegment([]byte{5, 18, 0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 3, 0, 0, 0, 4, 1, 1}, nil))
	f.Add(rawSegment([]byte{2, 4, 5, 0xb4, 3, 3, 7, 4, 2, 0, 0, 0}, []byte("x")))
	f.Add(rawSegment([]byte{99, 1, 0, 0}, nil))
	f.Fuzz(func(t *testing.T, b []byte) {
		seg, err := NewSegment(b)
		if err != nil {
			if _, ok := err.(ParseError); !ok {
				t.Fatalf("error of type %T", err)
			}
			return
		}
		seg.VerifyChecksumAddrs(addr4a, addr4b)
		seg.VerifyChecksumAddrs(addr6a, addr6b)
		_ = seg.Len()
		hd := seg.Header()
		// What was malformed is not re-emitted: the emitted list holds
		// only what parsing kept.
		hd.Options.Malformed = 0
		out := make([]byte, MaxHeaderLen+len(seg.Payload()))
		n, err := hd.Emit(out, seg.Payload(), addr6a, addr6b)
		if err == ErrOptionsTooLong {
			return // aligned re-encoding of a tightly packed list
		}
		if err != nil {
			t.Fatal(err)
		}
		again, err := NewSegment(out[:n])
		if err != nil {
			t.Fatalf("re-parse: %v", err)
		}
		if again.Header() != hd || !bytes.Equal(again.Payload(), seg.Payload()) {
			t.Fatalf("round trip changed the segment:\n%+v\n%+v", hd, again.Header())
		}
		if !again.VerifyChecksumAddrs(addr6a, addr6b) {
			t.Fatal("emitted checksum does not verify")
		}
	})
}

// FuzzConn drives a control block, starting from one of several states,
// with a program decoded from the input: segments with arbitrary flags,
// numbers near the interesting edges, options and data; time steps; user
// calls. It checks that nothing panics and that the invariants of the
// sequence spaces and buffers hold after every step, and that everything
// emitted is a well-formed segment.
func FuzzConn(f *testing.F) {
	f.Add([]byte{4, 0, 0x10, 0, 0, 0, 0, 0, 100, 3})
	f.Add([]byte{4, 0, 0x18, 0, 0, 0, 0, 0, 100, 200, 1, 50, 2, 10, 3, 4, 0})
	f.Add([]byte{2, 0, 0x12, 0, 0, 0, 1, 0, 100, 0, 1, 255, 1, 255})
	f.Add([]byte{1, 0, 0x02, 0, 0, 0, 0, 0, 100, 0, 0, 0x10, 0, 1, 0, 1, 0, 100, 0})
	f.Add([]byte{10, 0, 0x11, 0, 0, 0, 0, 0, 100, 0, 0, 0x02, 0x7f, 0, 0, 0, 0, 100, 0})
	f.Add([]byte{4, 2, 200, 2, 200, 0, 0x10, 0, 0, 0, 0, 0, 0, 0, 1, 200, 1, 200, 1, 200})
	// SACK: blocks on ACKs to a sender with data in flight, holes in the
	// data a SACK receiver gets.
	f.Add([]byte{13, 0, 0x10, 0, 0, 0, 0, 0, 100, 0x38, 2, 10, 4, 20, 8, 6, 0, 0x10, 0, 0, 0, 0, 0, 100, 0x38, 2, 10, 4, 20, 8, 6, 1, 10, 4, 4})
	f.Add([]byte{12, 0, 0x10, 0, 10, 0, 0, 0, 100, 0, 5, 0, 0x10, 0, 30, 0, 0, 0, 100, 0, 5, 0, 0x10, 0, 0, 0, 0, 0, 100, 0, 5, 3, 200})
	f.Add([]byte{2, 0, 0x12, 0, 0, 0, 1, 0, 100, 0x10, 0, 2, 50})
	f.Fuzz(func(t *testing.T, prog []byte) {
		if len(prog) == 0 {
			return
		}
		h := newHarness(t)
		h.cfg.RecvBufferSize = 5000
		h.cfg.SendBufferSize = 5000
		h.cfg.NoWindowScale = prog[0]&0x80 != 0
		h.cfg.KeepAlive = prog[0]&0x40 != 0
		builders := []func() *harness{h.closed, h.listen, h.synSent, h.synReceived, h.established,
			h.finWait1, h.finWait2, h.closeWait, h.closing, h.lastAck, h.timeWait,
			func() *harness {
				// Established with timestamps in use.
				th, _ := tsEstablished(t)
				th.cfg = h.cfg
				*h = *th
				return h
			},
			h.establishedSACK, // SACK negotiated
			func() *harness {
				// SACK and data in flight, so that SACK blocks
				// and recovery have something to work on.
				h.cfg.Congestion = bigWindow
				h.establishedSACK()
				h.c.SetNoDelay(true)
				h.write(string(make([]byte, 4000)))
				return h
			}}
		builders[int(prog[0]&0x3f)%len(builders)]()
		h.out = nil
		c := h.c
		data := make([]byte, 4096)
		rd := make([]byte, 2048)
		p := prog[1:]
		next := func() byte {
			if len(p) == 0 {
				return 0
			}
			b := p[0]
			p = p[1:]
			return b
		}
		for steps := 0; len(p) > 0 && steps < 200; steps++ {
			switch next() % 6 {
			case 0, 5: // a segment near the connection's numbers
				fl := Flags(next())
				seqOff := int(int16(binary.BigEndian.Uint16([]byte{next(), next()})))
				ackOff := int(int16(binary.BigEndian.Uint16([]byte{next(), next()})))
				s := S{F: fl, Seq: c.rcvNxt.Add(seqOff), Ack: c.sndUna.Add(ackOff), Win: int(next()) << 4}
				if c.state == StateListen || c.state == StateSynSent {
					s.Seq = remoteISS.Add(seqOff)
				}
				if o := next(); o&1 != 0 {
					s.MSS = int(o)
				} else if o&2 != 0 {
					s.WS = int(o>>2)%16 + 1
				} else if o&4 != 0 {
					// Timestamps near the peer clock of tsEstablished,
					// either side of TS.Recent.
					s.TS = true
					s.TSVal = 5000 + uint32(int32(int8(next())))*100
					s.TSEcr = c.tsNow(h.now) - uint32(next())
				} else if o&8 != 0 {
					// SACK blocks around the data in flight, some
					// reversed, overlapping or beyond SND.MAX.
					for k := int(o>>4)%MaxSACKBlocks + 1; k > 0; k-- {
						left := c.sndUna.Add(int(int8(next())) * 64)
						s.SACK = append(s.SACK, SACKBlock{left, left.Add(int(int8(next())) * 32)})
					}
				} else if o&16 != 0 {
					s.SACKOK = true
				}
				s.Data = string(data[:int(next())*8])
				h.send(s)
			case 1:
				h.now = h.now.Add(time.Duration(next()) * 50 * time.Millisecond)
				c.HandleTimer(h.now)
			case 2:
				c.Write(h.now, data[:int(next())*16])
			case 3:
				c.Read(h.now, rd[:int(next())*8])
			case 4:
				switch next() % 6 {
				case 0:
					c.CloseWrite(h.now)
				case 1:
					c.Close(h.now)
				case 2:
					c.Abort(h.now)
				case 3:
					c.SetPathMTU(int(next()) * 8)
				case 4:
					if d := c.NextDeadline(); !d.IsZero() {
						h.now = d
						c.HandleTimer(h.now)
					}
				case 5:
					// ICMP "packet too big" about data in flight, which
					// resends it at once, in or out of recovery.
					c.HandleControlError(h.now, ControlError{Seq: c.sndUna.Add(int(next())), MTU: int(next()) * 8})
				}
			}
			h.out = nil // emit already checked each segment's format
			checkInvariants(t, c)
		}
	})
}

func checkInvariants(t *testing.T, c *Conn) {
	t.Helper()
	fail := func(what string) {
		t.Helper()
		t.Fatalf("%s in %v: una=%d nxt=%d max=%d sndqSeq=%d ext=%d rcvNxt=%d rcvAdv=%d avail=%d ooo=%d",
			what, c.state, c.sndUna, c.sndNxt, c.sndMax, c.sndqSeq, c.sndq.ext, c.rcvNxt, c.rcvAdv, c.rcvAvail, c.nOOO)
	}
	if c.state == StateListen || c.state == StateClosed {
		return
	}
	if !c.sndUna.LessEq(c.sndNxt) || !c.sndNxt.LessEq(c.sndMax) {
		fail("send sequence order")
	}
	if c.sndqSeq.GreaterThan(c.sndUna.Add(1)) || c.sndq.ext > c.cfg.SendBufferSize {
		fail("send buffer")
	}
	if c.sndMax.GreaterThan(c.dataEnd().Add(1)) {
		fail("sent beyond the data and FIN")
	}
	if c.rcvAvail < 0 || c.rcvAvail > c.cfg.RecvBufferSize || c.rcvAvail > c.rcvq.ext {
		fail("receive buffer")
	}
	if c.state.synchronized() && c.rcvWnd() > c.rcvSpace()+(1<<c.rcvShift) {
		fail("window beyond buffer space")
	}
	if c.nOOO < 0 || c.nOOO > maxOOORanges {
		fail("ooo count")
	}
	for i := 0; i < c.nOOO; i++ {
		r := c.ooo[i]
		if !r.start.GreaterThan(c.rcvNxt) || !r.start.LessThan(r.end) {
			fail("ooo range")
		}
		if i > 0 && !c.ooo[i-1].end.LessThan(r.start) {
			fail("ooo order")
		}
		if r.end.Sub(c.rcvNxt)+c.rcvAvail > c.cfg.RecvBufferSize {
			fail("ooo beyond buffer")
		}
	}
	if c.sndMSS < 48 || c.sndWnd < 0 || c.cwnd() < 0 {
		fail("sizes")
	}
	// The scoreboard: sorted, disjoint, within [SND.UNA, SND.MAX], its
	// byte count right; pipe and the retransmission marks bounded.
	sb := &c.sb
	sum := 0
	for i := 0; i < sb.n; i++ {
		r := sb.r[i]
		if !r.start.LessThan(r.end) || r.start.LessThan(c.sndUna) || r.end.GreaterThan(c.sndMax) {
			fail(fmt.Sprintf("scoreboard range %d-%d", r.start, r.end))
		}
		if i > 0 && !sb.r[i-1].end.LessThan(r.start) {
			fail("scoreboard order")
		}
		sum += r.end.Sub(r.start)
	}
	if sb.n > maxSACKRanges || sum != sb.sacked {
		fail("scoreboard count")
	}
	if !c.sackOK && sb.n != 0 {
		fail("scoreboard without SACK")
	}
	if c.pipe < 0 || c.nRxt < 0 || c.nRxt > maxRxtMarks {
		fail("pipe")
	}
	if c.dsackSet && !c.sackOK {
		fail("D-SACK without SACK")
	}
}
