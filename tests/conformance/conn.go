package conformance

import (
	"time"

	"github.com/actnet/actnet/actors"
	"github.com/actnet/actnet/layers/ethernet"
	"github.com/actnet/actnet/layers/ipv4"
	"github.com/actnet/actnet/layers/tcp"
)

// PeerISS is the initial sequence number of the scripted peer.
const PeerISS tcp.Seq = 0x10000000

// Conn is the peer's view of one TCP connection with the stack.
type Conn struct {
	B        *Bench
	Port     uint16 // the stack's port
	PeerPort uint16
	Nxt      tcp.Seq // the peer's next sequence number
	Rcv      tcp.Seq // the stack's next sequence number (what the peer ACKs)
	ISS      tcp.Seq // the stack's initial sequence number
	Win      uint16
	SynAck   tcp.Header
	Sock     *actors.Socket // the stack's end, once accepted
}

// SYN is the segment that opens a connection from peerPort to port with
// options opts.
func SYN(peerPort, port uint16, opts tcp.Options) Seg {
	return Seg{SrcPort: peerPort, DstPort: port, Seq: PeerISS, Flags: tcp.FlagSYN, Win: 64240, Options: opts}
}

// DefaultSYNOptions is what the peer offers unless a case says otherwise:
// an MSS only, so the stack's windows read as byte counts.
var DefaultSYNOptions = tcp.Options{HasMSS: true, MSS: 1460}

// Handshake opens a connection from a fresh peer port to the stack's
// listening port, with the peer's SYN options opts, and takes the
// accepted socket from q when q is not nil.
func (b *Bench) Handshake(port uint16, q *actors.AcceptQueue, opts tcp.Options) *Conn {
	b.T.Helper()
	c := &Conn{B: b, Port: port, PeerPort: b.NextPort(), Nxt: PeerISS + 1, Win: 64240}
	b.Send(b.TCP(SYN(c.PeerPort, port, opts)))
	f := b.Expect(TCPM{Flags: V(tcp.FlagSYN | tcp.FlagACK), Ack: V(PeerISS + 1), DstPort: V(c.PeerPort)})
	sa := SegmentOf(f)
	c.SynAck = sa.Header()
	c.ISS = c.SynAck.Seq
	c.Rcv = c.ISS + 1
	ack := c.Seg(tcp.FlagACK, nil)
	if opts.HasTimestamps {
		ack.Options = tcp.Options{HasTimestamps: true, TSVal: opts.TSVal + 1, TSEcr: c.SynAck.Options.TSVal}
	}
	b.Send(b.TCP(ack))
	if q != nil {
		c.Sock = Accept(b, q)
	}
	return c
}

// Accept takes the next established connection from q.
func Accept(b *Bench, q *actors.AcceptQueue) *actors.Socket {
	b.T.Helper()
	deadline := time.After(frameWait)
	for {
		if s, ok := q.Take(); ok {
			return s
		}
		select {
		case <-q.Ready():
		case <-deadline:
			b.T.Fatal("no connection accepted")
			return nil
		}
	}
}

// SegmentOf parses the TCP segment in a frame already matched as TCP.
func SegmentOf(f ethernet.Frame) *tcp.Segment {
	p, _ := ipv4.NewPacket(f.Payload())
	s, _ := tcp.NewSegment(p.Payload())
	return &s
}

// Seg is a segment on the connection at the current numbers.
func (c *Conn) Seg(flags tcp.Flags, data []byte) Seg {
	return Seg{SrcPort: c.PeerPort, DstPort: c.Port, Seq: c.Nxt, Ack: c.Rcv, Flags: flags, Win: c.Win, Data: data}
}

// Send sends s on the connection.
func (c *Conn) Send(s Seg) { c.B.Send(c.B.TCP(s)) }

// SendData sends data at the current numbers with ACK|PSH and advances.
func (c *Conn) SendData(data string) {
	c.Send(c.Seg(tcp.FlagACK|tcp.FlagPSH, []byte(data)))
	c.Nxt = c.Nxt.Add(len(data))
}

// Expect checks the next frame is a segment of this connection matching
// m (ports are filled in).
func (c *Conn) Expect(m TCPM) *tcp.Segment {
	c.B.T.Helper()
	m.DstPort, m.SrcPort = V(c.PeerPort), V(c.Port)
	return SegmentOf(c.B.Expect(m))
}

// ExpectACK checks the next frame is an ACK of everything the peer sent.
func (c *Conn) ExpectACK() *tcp.Segment {
	c.B.T.Helper()
	return c.Expect(TCPM{Flags: V(tcp.FlagACK), Ack: V(c.Nxt)})
}

// Probe is old data (one byte below the window): the connection answers
// it with an immediate ACK every time (RFC 9293 §3.10.7.4, "If an
// incoming segment is not acceptable, an acknowledgment should be sent"),
// with no rate limit because it carries data. It reaches the connection
// by the same path as any segment of it.
func (c *Conn) Probe() Probe {
	s := c.Seg(tcp.FlagACK, []byte{'p'})
	s.Seq = c.Nxt.Add(-1)
	return Probe{Frame: c.B.TCP(s), Answer: TCPM{Flags: V(tcp.FlagACK), Ack: V(c.Nxt), DstPort: V(c.PeerPort)}}
}

// GoneProbe is Probe for a connection that should no longer exist: the
// tcp actor resets the segment.
func (c *Conn) GoneProbe() Probe {
	s := c.Seg(tcp.FlagACK, []byte{'p'})
	return Probe{Frame: c.B.TCP(s), Answer: TCPM{Flags: V(tcp.FlagRST), Seq: V(c.Rcv), DstPort: V(c.PeerPort)}}
}

// Write writes data from the stack's end.
func (c *Conn) Write(data string) {
	c.B.T.Helper()
	if _, err := c.Sock.Write([]byte(data), c.B.Within()); err != nil {
		c.B.T.Fatal(err)
	}
}
