// Package conformance is an adversarial conformance bench in the style of
// packetdrill and gVisor's packetimpact: a scripted peer injects crafted
// Ethernet frames into one actnet stack over the memory link, with the
// stack on a virtual clock, and asserts on what comes back by partial
// matching (only the header fields a case names are checked).
//
// The DSL is four verbs on a Bench: Send a frame, Expect a match of the
// next frame the stack sends, ExpectNone (nothing was sent in answer:
// proven by a probe whose answer must be the very next frame, never by
// sleeping) and Advance the virtual clock. Conn adds TCP bookkeeping on
// top: the peer's and the stack's sequence numbers of one connection.
package conformance

import (
	"context"
	"encoding/binary"
	"fmt"
	"net/netip"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/actnet/actnet/actors"
	"github.com/actnet/actnet/device"
	"github.com/actnet/actnet/layers/arp"
	"github.com/actnet/actnet/layers/checksum"
	"github.com/actnet/actnet/layers/ethernet"
	"github.com/actnet/actnet/layers/icmpv4"
	"github.com/actnet/actnet/layers/icmpv6"
	"github.com/actnet/actnet/layers/ipv4"
	"github.com/actnet/actnet/layers/ipv6"
	"github.com/actnet/actnet/layers/tcp"
	"github.com/actnet/actnet/mailbox"
)

// Addresses of the bench: the stack and the scripted peer on one /24.
var (
	StackPrefix = netip.MustParsePrefix("10.9.0.1/24")
	PeerIP      = netip.MustParseAddr("10.9.0.2")
	// Epoch is where the virtual clock starts.
	Epoch = time.Unix(1_700_000_000, 0)
)

// frameWait bounds how long (wall time) the bench waits for anything the
// stack owes it: a frame (Expect), an accepted connection, the end of a
// connection, an idle stack. It is a failure timeout, never a timing
// assertion and never a proof of absence (ExpectNone proves that with a
// probe): a correct stack answers in microseconds, but a loaded 2-core
// machine running the whole suite under -race can stall it for seconds.
const frameWait = 30 * time.Second

// Bench is one stack under test and the raw peer facing it.
type Bench struct {
	T       testing.TB
	Stack   *actors.Running
	Clock   *actors.VirtualClock
	dev     *device.Memory // the peer's end of the link
	own     *device.Memory // the stack's end
	frames  chan []byte
	PeerMAC ethernet.Addr
	MAC     ethernet.Addr // the stack's
	IP      netip.Addr    // the stack's
	// WatchARP makes Expect see ARP frames; otherwise the stack's ARP
	// traffic (announcements, requests) is skipped.
	WatchARP bool
	// WatchIPv6Start makes Expect see the IPv6 frames the stack sends
	// on its own as it starts and configures addresses (router
	// solicitations, DAD solicitations, MLD reports); otherwise they
	// are skipped.
	WatchIPv6Start bool
	// WatchNDP makes Expect see the stack's neighbour solicitations for
	// the peer's IPv6 addresses; otherwise the peer answers them.
	WatchNDP bool
	ipID     uint16
	echoSeq  uint16
	port     uint16
}

// New starts a stack on a memory link and introduces the peer to it (an
// ARP request, so the stack knows the peer's MAC, then a ping).
func New(t testing.TB) *Bench {
	t.Helper()
	return newBench(t, device.MemoryConfig{}, actors.IPv6Options{})
}

// NewWrapped is New with the stack's end of the link seen through wrap
// (a device that holds or watches what the stack writes).
func NewWrapped(t testing.TB, wrap func(*device.Memory) device.Device) *Bench {
	t.Helper()
	return newBenchOn(t, device.MemoryConfig{}, actors.IPv6Options{}, wrap)
}

func newBench(t testing.TB, link device.MemoryConfig, v6 actors.IPv6Options) *Bench {
	t.Helper()
	return newBenchOn(t, link, v6, nil)
}

func newBenchOn(t testing.TB, link device.MemoryConfig, v6 actors.IPv6Options, wrap func(*device.Memory) device.Device) *Bench {
	t.Helper()
	return newBenchLimits(t, link, v6, wrap, actors.Limits{})
}

// NewLimited is New with the stack's resource caps set.
func NewLimited(t testing.TB, limits actors.Limits) *Bench {
	t.Helper()
	return newBenchLimits(t, device.MemoryConfig{}, actors.IPv6Options{}, nil, limits)
}

func newBenchLimits(t testing.TB, link device.MemoryConfig, v6 actors.IPv6Options, wrap func(*device.Memory) device.Device, limits actors.Limits) *Bench {
	t.Helper()
	da, db := device.NewMemoryPair(link)
	var dev device.Device = da
	if wrap != nil {
		dev = wrap(da)
	}
	clock := actors.NewVirtualClock(Epoch)
	log := zerolog.New(zerolog.ConsoleWriter{Out: zerolog.TestWriter{T: t}, NoColor: true}).Level(zerolog.ErrorLevel)
	run, err := actors.Start(actors.Options{Device: dev, IPv4: StackPrefix, Log: log, Clock: clock, IPv6: v6, Limits: limits})
	if err != nil {
		t.Fatal(err)
	}
	b := &Bench{T: t, Stack: run, Clock: clock, dev: db, own: da, frames: make(chan []byte, 4096),
		PeerMAC: ethernet.Addr(db.HardwareAddr()), MAC: ethernet.Addr(da.HardwareAddr()),
		IP: StackPrefix.Addr(), port: 40000}
	go b.read()
	t.Cleanup(func() {
		run.Close()
		db.Close()
		// Whatever the peer threw at it, every packet buffer came back.
		if n := run.Env.Pool.Outstanding(); n != 0 {
			t.Errorf("%d packet buffers never returned to the pool", n)
		}
	})
	// The stack announces its address as it starts (RFC 5227 §2.3; the
	// second announcement waits on the virtual clock). Take it now: left
	// queued, it could come out in the middle of a test that watches ARP
	// (it did, once in a CI run, behind the ping's reply).
	b.WatchARP = true
	if f := b.Next(); (ARPM{Op: V(arp.Request), SenderIP: V(b.IP), TargetIP: V(b.IP)}).match(b, f) != nil {
		t.Fatalf("the stack's first frame is not its ARP announcement: %s", Describe(f))
	}
	b.WatchARP = false
	req := make([]byte, arp.Len)
	arp.NewRequest(b.PeerMAC, PeerIP, b.IP).Emit(req)
	b.Send(b.Frame(ethernet.ARP, req))
	b.Ping()
	return b
}

func (b *Bench) read() {
	bufs, sizes := [][]byte{make([]byte, 2048)}, []int{0}
	for {
		n, err := b.dev.ReadBatch(bufs, sizes)
		if err != nil {
			close(b.frames)
			return
		}
		if n == 1 {
			b.frames <- append([]byte(nil), bufs[0][:sizes[0]]...)
		}
	}
}

// Send injects one Ethernet frame.
func (b *Bench) Send(frame []byte) {
	b.T.Helper()
	if err := b.dev.Write(frame); err != nil {
		b.T.Fatalf("peer write: %v", err)
	}
}

// Advance moves the stack's virtual clock, once the stack has handled
// everything sent to it and armed the timers that follow (WaitIdle): the
// timers that fire are those the case's past actions set.
func (b *Bench) Advance(d time.Duration) {
	b.T.Helper()
	b.WaitIdle()
	b.Clock.Advance(d)
}

// WaitIdle returns once nothing is in flight in the stack, on the link to
// it or in its clock's callbacks (actors.WaitIdle).
func (b *Bench) WaitIdle() {
	b.T.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), frameWait)
	defer cancel()
	if err := actors.WaitIdle(ctx, b.Stack, b.own, b.Clock); err != nil {
		b.T.Fatalf("the stack did not go idle within %v: %v", frameWait, err)
	}
}

// Within is a deadline for a socket call of the case: closed after
// frameWait, so that a call the stack never answers fails the case.
func (b *Bench) Within() <-chan struct{} {
	ch := make(chan struct{})
	t := time.AfterFunc(frameWait, func() { close(ch) })
	b.T.Cleanup(func() { t.Stop() })
	return ch
}

// WaitDone waits for the end of the stack's end of a connection.
func (b *Bench) WaitDone(s *actors.Socket) {
	b.T.Helper()
	select {
	case <-s.Done():
	case <-time.After(frameWait):
		b.T.Fatalf("the connection did not end within %v", frameWait)
	}
}

// Next returns the next frame the stack sent (ARP skipped unless
// WatchARP), failing the test if none comes.
func (b *Bench) Next() ethernet.Frame {
	b.T.Helper()
	timeout := time.After(frameWait)
	for {
		select {
		case f, ok := <-b.frames:
			if !ok {
				b.T.Fatal("link closed")
			}
			fr, err := ethernet.NewFrame(f)
			if err != nil {
				b.T.Fatalf("stack sent a malformed frame: %v", err)
			}
			if fr.EtherType() == ethernet.ARP && !b.WatchARP {
				b.answerARP(fr)
				continue
			}
			if fr.EtherType() == ethernet.IPv6 && !b.WatchIPv6Start && unsolicited6(fr.Payload()) {
				continue
			}
			if fr.EtherType() == ethernet.IPv6 && !b.WatchNDP && b.answerNS(fr) {
				continue
			}
			return fr
		case <-timeout:
			b.T.Fatalf("no frame from the stack within %v", frameWait)
			return nil
		}
	}
}

// answerARP answers the stack's request for the peer's address, as the
// peer's own stack would (the stack asks again when its entry ages, which
// a case that advances the clock by minutes sees).
func (b *Bench) answerARP(f ethernet.Frame) {
	r, err := arp.Parse(f.Payload())
	if err != nil || r.Op != arp.Request || r.TargetIP != PeerIP {
		return
	}
	rep := make([]byte, arp.Len)
	arp.Repr{Op: arp.Reply, SenderHW: b.PeerMAC, SenderIP: PeerIP, TargetHW: r.SenderHW, TargetIP: r.SenderIP}.Emit(rep)
	b.Send(b.Frame(ethernet.ARP, rep))
}

// Match checks one frame; it returns nil or what differs.
type Match interface {
	match(b *Bench, f ethernet.Frame) error
}

// Expect checks that the next frame the stack sends satisfies m, and
// returns it.
func (b *Bench) Expect(m Match) ethernet.Frame {
	b.T.Helper()
	f := b.Next()
	if err := m.match(b, f); err != nil {
		b.T.Fatalf("unexpected frame: %v\n  got %s", err, Describe(f))
	}
	return f
}

// Probe is a frame that deterministically draws an answer, and the match
// for that answer. It must travel the same path through the stack as the
// frame whose silence is being checked, so that any answer to that frame
// would have come first.
type Probe struct {
	Frame  []byte
	Answer Match
}

// ExpectNone checks that the stack sent nothing before the answer to
// probe, which it sends now.
func (b *Bench) ExpectNone(probe Probe) {
	b.T.Helper()
	b.Send(probe.Frame)
	f := b.Next()
	if err := probe.Answer.match(b, f); err != nil {
		b.T.Fatalf("expected no answer, but the stack sent %s before the probe's answer (%v)", Describe(f), err)
	}
}

// Frame wraps payload in an Ethernet header from the peer to the stack.
func (b *Bench) Frame(typ ethernet.EtherType, payload []byte) []byte {
	f := make([]byte, ethernet.HeaderLen+len(payload))
	ethernet.Header{Dst: b.MAC, Src: b.PeerMAC, Type: typ}.Emit(f)
	copy(f[ethernet.HeaderLen:], payload)
	return f
}

// IP describes an IPv4 header the peer sends; zero fields take defaults
// (source PeerIP, destination the stack, TTL 64, a fresh ID).
type IP struct {
	Src, Dst       netip.Addr
	TTL            uint8
	ID             uint16
	Protocol       uint8
	DontFragment   bool
	MoreFragments  bool
	FragmentOffset int
	Options        []byte // IPv4 options, padded by the caller to 4 bytes
	TotalLen       int    // overrides Total Length when nonzero
}

// IPv4 builds an IPv4 packet (not yet framed) with payload.
func (b *Bench) IPv4(h IP, payload []byte) []byte {
	if !h.Src.IsValid() {
		h.Src = PeerIP
	}
	if !h.Dst.IsValid() {
		h.Dst = b.IP
	}
	if h.TTL == 0 {
		h.TTL = 64
	}
	if h.ID == 0 {
		b.ipID++
		h.ID = b.ipID
	}
	hl := ipv4.HeaderLen + len(h.Options)
	p := make([]byte, hl+len(payload))
	ipv4.Header{ID: h.ID, TTL: h.TTL, Protocol: h.Protocol, Src: h.Src, Dst: h.Dst,
		DontFragment: h.DontFragment, MoreFragments: h.MoreFragments, FragmentOffset: h.FragmentOffset,
		PayloadLen: len(payload)}.Emit(p)
	if len(h.Options) > 0 {
		copy(p[ipv4.HeaderLen:], h.Options)
		p[0] = 4<<4 | byte(hl/4)
		binary.BigEndian.PutUint16(p[2:], uint16(len(p)))
	}
	if h.TotalLen != 0 {
		binary.BigEndian.PutUint16(p[2:], uint16(h.TotalLen))
	}
	copy(p[hl:], payload)
	p[10], p[11] = 0, 0
	binary.BigEndian.PutUint16(p[10:], checksum.Checksum(p[:hl]))
	return p
}

// IPFrame is Frame(IPv4, IPv4(h, payload)).
func (b *Bench) IPFrame(h IP, payload []byte) []byte {
	return b.Frame(ethernet.IPv4, b.IPv4(h, payload))
}

// Seg describes a TCP segment the peer sends.
type Seg struct {
	SrcPort, DstPort uint16
	Seq, Ack         tcp.Seq
	Flags            tcp.Flags
	Win              uint16
	Urgent           uint16
	Options          tcp.Options
	RawOptions       []byte // sent instead of Options when set (padded to 4 bytes)
	Data             []byte
	BadChecksum      bool
}

// TCPBytes builds the TCP segment s between src and dst.
func TCPBytes(s Seg, src, dst netip.Addr) []byte {
	h := tcp.Header{SrcPort: s.SrcPort, DstPort: s.DstPort, Seq: s.Seq, Ack: s.Ack, Flags: s.Flags,
		Window: s.Win, Urgent: s.Urgent, Options: s.Options}
	if s.RawOptions != nil {
		h.Options = tcp.Options{}
	}
	buf := make([]byte, tcp.MaxHeaderLen+len(s.RawOptions)+len(s.Data))
	var n int
	if s.RawOptions == nil {
		var err error
		n, err = h.Emit(buf, s.Data, src, dst)
		if err != nil {
			panic(err)
		}
	} else {
		h.Emit(buf, nil, src, dst) // the fixed header; options and data follow
		hl := tcp.HeaderLen + len(s.RawOptions)
		copy(buf[tcp.HeaderLen:], s.RawOptions)
		copy(buf[hl:], s.Data)
		n = hl + len(s.Data)
		buf[12] = byte(hl/4) << 4
		buf[16], buf[17] = 0, 0
		sum := checksum.Sum(buf[:n], checksum.PseudoHeaderSum(src, dst, tcp.ProtocolNumber, n))
		binary.BigEndian.PutUint16(buf[16:], checksum.Fold(sum))
	}
	if s.BadChecksum {
		buf[16] ^= 0x5a
	}
	return buf[:n]
}

// TCP frames segment s from the peer to the stack.
func (b *Bench) TCP(s Seg) []byte { return b.TCPWith(IP{}, s) }

// TCPWith frames segment s in an IPv4 header described by h.
func (b *Bench) TCPWith(h IP, s Seg) []byte {
	h.Protocol = ipv4.ProtocolTCP
	src, dst := h.Src, h.Dst
	if !src.IsValid() {
		src = PeerIP
	}
	if !dst.IsValid() {
		dst = b.IP
	}
	return b.IPFrame(h, TCPBytes(s, src, dst))
}

// EchoRequest builds a ping from the peer with the next sequence number
// and returns it with the match for its reply.
func (b *Bench) EchoRequest() Probe {
	b.echoSeq++
	m := make([]byte, icmpv4.HeaderLen+16)
	n := icmpv4.EmitEcho(m, icmpv4.TypeEchoRequest, 0x4242, b.echoSeq, []byte("conformance-echo"))
	return Probe{Frame: b.IPFrame(IP{Protocol: ipv4.ProtocolICMP}, m[:n]), Answer: EchoReply{Seq: b.echoSeq}}
}

// Ping sends an echo request and expects its reply.
func (b *Bench) Ping() {
	b.T.Helper()
	p := b.EchoRequest()
	b.Send(p.Frame)
	b.Expect(p.Answer)
}

// ClosedPortProbe is a bare ACK to a closed port, which the tcp actor
// answers with a reset. It travels the same path as segments for unknown
// connections and listeners.
func (b *Bench) ClosedPortProbe() Probe {
	b.port++
	return Probe{
		Frame:  b.TCP(Seg{SrcPort: b.port, DstPort: 9, Seq: 1, Ack: 0x5eed, Flags: tcp.FlagACK}),
		Answer: TCPM{Flags: V(tcp.FlagRST), Seq: V(tcp.Seq(0x5eed)), DstPort: V(b.port)},
	}
}

// ARPProbe is an ARP request for the stack's address; it expects the
// reply (and makes Expect see ARP frames).
func (b *Bench) ARPProbe() Probe {
	b.WatchARP = true
	req := make([]byte, arp.Len)
	arp.NewRequest(b.PeerMAC, PeerIP, b.IP).Emit(req)
	return Probe{Frame: b.Frame(ethernet.ARP, req), Answer: ARPM{Op: V(arp.Reply), SenderIP: V(b.IP), TargetIP: V(PeerIP)}}
}

// NextPort is a fresh source port for a new connection.
func (b *Bench) NextPort() uint16 {
	b.port++
	return b.port
}

// Listen opens a listening port on the stack with the given backlog (0:
// the default) and config.
func (b *Bench) Listen(port uint16, backlog int, cfg tcp.Config) *actors.AcceptQueue {
	b.T.Helper()
	q, _, err := b.Stack.Listen(port, backlog, cfg)
	if err != nil {
		b.T.Fatal(err)
	}
	return q
}

// Stats reads every counter of the stack.
func (b *Bench) Stats() mailbox.Snapshot { return b.Stack.Env.Counters.Snapshot() }

// V returns a pointer to v, for the optional fields of matches.
func V[T any](v T) *T { return &v }

// Describe renders a frame for failure messages.
func Describe(f ethernet.Frame) string {
	switch f.EtherType() {
	case ethernet.ARP:
		r, err := arp.Parse(f.Payload())
		if err != nil {
			return "ARP (malformed)"
		}
		return fmt.Sprintf("ARP %v %v(%v) -> %v(%v)", r.Op, r.SenderIP, r.SenderHW, r.TargetIP, r.TargetHW)
	case ethernet.IPv4:
		p, err := ipv4.NewPacket(f.Payload())
		if err != nil {
			return "IPv4 (malformed)"
		}
		switch p.Protocol() {
		case ipv4.ProtocolTCP:
			s, err := tcp.NewSegment(p.Payload())
			if err != nil {
				return "TCP (malformed)"
			}
			o := s.Options()
			return fmt.Sprintf("TCP %v:%d > %v:%d [%v] seq %d ack %d win %d len %d opts{mss %v/%d ws %v/%d sackok %v ts %v/%d/%d sack %v}",
				p.Src(), s.SrcPort(), p.Dst(), s.DstPort(), s.Flags(), s.Seq(), s.Ack(), s.Window(), len(s.Payload()),
				o.HasMSS, o.MSS, o.HasWindowScale, o.WindowScale, o.SACKPermitted, o.HasTimestamps, o.TSVal, o.TSEcr, o.SACKBlocks())
		case ipv4.ProtocolICMP:
			m, err := icmpv4.NewMessage(p.Payload())
			if err != nil {
				return "ICMP (malformed)"
			}
			return fmt.Sprintf("ICMP %v > %v type %d code %d", p.Src(), p.Dst(), m.Type(), m.Code())
		}
		return fmt.Sprintf("IPv4 %v > %v proto %d", p.Src(), p.Dst(), p.Protocol())
	}
	return fmt.Sprintf("frame type %v", f.EtherType())
}

// unsolicited6 reports an IPv6 packet the stack sends on its own while it
// configures its addresses: a router solicitation, a DAD solicitation
// (from ::), or an MLD report.
func unsolicited6(pkt []byte) bool {
	proto, off, _, ok := ipv6.UpperLayer(pkt)
	if !ok || proto != ipv6.ProtoICMPv6 || off >= len(pkt) {
		return false
	}
	switch pkt[off] {
	case icmpv6.TypeRouterSolicitation, icmpv6.TypeMLDv2Report, icmpv6.TypeMLDv1Report:
		return true
	case icmpv6.TypeNeighborSolicit:
		src, _ := netip.AddrFromSlice(pkt[8:24])
		return src.IsUnspecified()
	}
	return false
}
