package conformance

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/actnet/actnet/actors"
	"github.com/actnet/actnet/device"
	"github.com/actnet/actnet/layers/ethernet"
	"github.com/actnet/actnet/layers/ipv4"
	"github.com/actnet/actnet/layers/tcp"
)

// holdLink is the stack's end of the link; while armed, it passes the
// next SYN-ACK the stack writes on to the peer and then keeps the writer
// (the tcp actor, inside its handler) waiting until released.
type holdLink struct {
	*device.Memory
	armed   atomic.Bool
	held    chan struct{}
	release chan struct{}
}

func (h *holdLink) Write(f []byte) error {
	err := h.Memory.Write(f)
	if isSYNACK(f) && h.armed.CompareAndSwap(true, false) {
		h.held <- struct{}{}
		<-h.release
	}
	return err
}

func isSYNACK(f []byte) bool {
	fr, err := ethernet.NewFrame(f)
	if err != nil || fr.EtherType() != ethernet.IPv4 {
		return false
	}
	p, err := ipv4.NewPacket(fr.Payload())
	if err != nil || p.Protocol() != ipv4.ProtocolTCP {
		return false
	}
	s, err := tcp.NewSegment(p.Payload())
	return err == nil && s.Flags()&(tcp.FlagSYN|tcp.FlagACK) == tcp.FlagSYN|tcp.FlagACK
}

// The handshake's last ACK and the first data segment, sent back to back,
// reach the connection in that order even when the ACK went by the tcp
// actor (the connection's route was not yet published when the network
// actor looked) and the data straight to the connection actor: no PAWS or
// unacceptable-segment drop, and the data is read. The link holds the tcp
// actor right after it sent the SYN-ACK (before it publishes the route),
// and a Listen whose answer is not read holds it again after, so the
// race that hit 2-3% of connections at scale happens every time.
func TestHandoverKeepsArrivalOrder(t *testing.T) {
	var link *holdLink
	b := NewWrapped(t, func(m *device.Memory) device.Device {
		link = &holdLink{Memory: m, held: make(chan struct{}), release: make(chan struct{})}
		return link
	})
	q := b.Listen(port, 0, tcp.Config{})
	tcpPID := b.Stack.Env.PIDs.TCP
	c := &Conn{B: b, Port: port, PeerPort: b.NextPort(), Nxt: PeerISS + 1, Win: 64240}
	opts := tcp.Options{HasMSS: true, MSS: 1460, HasTimestamps: true, TSVal: 1000}

	b.WaitIdle()
	link.armed.Store(true)
	b.Send(b.TCP(SYN(c.PeerPort, port, opts)))
	<-link.held // the tcp actor sent the SYN-ACK and has not published the route
	sa := SegmentOf(b.Expect(TCPM{Flags: V(tcp.FlagSYN | tcp.FlagACK), Ack: V(PeerISS + 1)})).Header()
	c.ISS, c.Rcv = sa.Seq, sa.Seq+1

	// Behind the SYN in the tcp actor's mailbox: a Listen it will answer
	// only when the test reads, and the handshake's last ACK, which finds
	// no route and so goes to the tcp actor too.
	block := make(chan error)
	b.Stack.Env.System.Root.Send(tcpPID, &actors.ListenTCP{Port: port + 1, Queue: actors.NewAcceptQueue(1), Reply: block})
	ack := c.Seg(tcp.FlagACK, nil)
	ack.Options = tcp.Options{HasTimestamps: true, TSVal: 1001, TSEcr: sa.Options.TSVal}
	b.Send(b.TCP(ack))
	// Three messages in flight, all at the tcp actor: the SYN it is
	// handling, the Listen and the ACK. The network actor is done.
	waitFor(t, "the ACK queued at the tcp actor", func() bool {
		posted, handled := b.Stack.Activity()
		lp, lh := b.own.Activity()
		return posted-handled == 3 && lp == lh
	})

	// The route goes up; the tcp actor then waits on the Listen, with
	// the ACK still in its mailbox.
	link.release <- struct{}{}
	waitFor(t, "the route published", func() bool { return b.Stack.Env.TCPRoutes.Len() == 1 })

	// The data goes straight to the connection actor.
	data := c.Seg(tcp.FlagACK|tcp.FlagPSH, []byte("hello"))
	data.Options = tcp.Options{HasTimestamps: true, TSVal: 1002, TSEcr: sa.Options.TSVal}
	b.Send(b.TCP(data))
	c.Nxt = c.Nxt.Add(5)
	waitFor(t, "the data at the connection (handled or held)", func() bool {
		st := b.Stats().TCP
		return st.Established > 0 || st.HandoverHeld > 0
	})

	<-block // the tcp actor goes on: the ACK is forwarded now
	b.WaitIdle()
	sock := Accept(b, q)
	buf := make([]byte, 16)
	n, err := sock.Read(buf, b.Within())
	if err != nil || string(buf[:n]) != "hello" {
		t.Fatalf("read %q, %v; want hello", buf[:n], err)
	}
	// End the connection so its drops are folded into the layer's
	// counters.
	rst := c.Seg(tcp.FlagRST, nil)
	b.Send(b.TCP(rst))
	b.WaitDone(sock)
	b.WaitIdle()
	st := b.Stats().TCP
	if st.DroppedPAWS != 0 || st.DroppedUnacceptable != 0 {
		t.Fatalf("%d PAWS and %d unacceptable drops at connection start; want none", st.DroppedPAWS, st.DroppedUnacceptable)
	}
}

// waitFor waits (wall time, as a failure timeout only) for cond.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), frameWait)
	defer cancel()
	for !cond() {
		select {
		case <-ctx.Done():
			t.Fatalf("timed out waiting for %s", what)
		case <-time.After(time.Millisecond):
		}
	}
}
