package tests

import (
	"net"
	"net/netip"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	actnet "github.com/actnet/actnet"
	"github.com/actnet/actnet/actors"
	"github.com/actnet/actnet/device"
	"github.com/actnet/actnet/layers/arp"
	"github.com/actnet/actnet/layers/ethernet"
	"github.com/actnet/actnet/layers/ipv4"
	"github.com/actnet/actnet/layers/tcp"
)

// rawOpener is a stateless TCP client on the far end of a memory link:
// it sends SYNs from several source addresses and completes each
// handshake when the SYN-ACK comes back, keeping nothing per connection.
// The server's heap growth is then the server's alone (two actnet stacks
// in one process could not be told apart).
type rawOpener struct {
	dev      *device.Memory
	mac, dst ethernet.Addr
	server   netip.Addr
	srcs     []netip.Addr
	done     chan struct{} // one token per completed handshake
	bad      atomic.Int64  // frames the opener did not expect
}

const rawISN tcp.Seq = 0x2000_0000

// read answers ARP for the source addresses and ACKs each SYN-ACK.
func (o *rawOpener) read() {
	bufs, sizes := [][]byte{make([]byte, 2048)}, []int{0}
	for {
		n, err := o.dev.ReadBatch(bufs, sizes)
		if err != nil {
			return
		}
		if n != 1 {
			continue
		}
		f, err := ethernet.NewFrame(bufs[0][:sizes[0]])
		if err != nil {
			o.bad.Add(1)
			continue
		}
		switch f.EtherType() {
		case ethernet.ARP:
			r, err := arp.Parse(f.Payload())
			if err != nil || r.Op != arp.Request {
				continue
			}
			for _, src := range o.srcs {
				if r.TargetIP == src {
					rep := make([]byte, arp.Len)
					arp.Repr{Op: arp.Reply, SenderHW: o.mac, SenderIP: src, TargetHW: r.SenderHW, TargetIP: r.SenderIP}.Emit(rep)
					o.send(ethernet.ARP, rep)
				}
			}
		case ethernet.IPv4:
			p, err := ipv4.NewPacket(f.Payload())
			if err != nil || p.Protocol() != ipv4.ProtocolTCP {
				continue
			}
			s, err := tcp.NewSegment(p.Payload())
			if err != nil || s.Flags() != tcp.FlagSYN|tcp.FlagACK || s.Ack() != rawISN+1 {
				o.bad.Add(1)
				continue
			}
			ack := tcp.Header{SrcPort: s.DstPort(), DstPort: s.SrcPort(), Seq: rawISN + 1, Ack: s.Seq() + 1,
				Flags: tcp.FlagACK, Window: 502,
				Options: tcp.Options{HasTimestamps: true, TSVal: 2, TSEcr: s.Options().TSVal}}
			o.sendTCP(p.Dst(), ack)
			o.done <- struct{}{}
		}
	}
}

// open sends the SYN of connection i: source address i/50,000, port
// 10,000 + i%50,000, with Linux's options.
func (o *rawOpener) open(i int, port uint16) {
	syn := tcp.Header{SrcPort: uint16(10000 + i%50000), DstPort: port, Seq: rawISN, Flags: tcp.FlagSYN, Window: 64240,
		Options: tcp.Options{HasMSS: true, MSS: 1460, SACKPermitted: true, HasTimestamps: true, TSVal: 1,
			HasWindowScale: true, WindowScale: 7}}
	o.sendTCP(o.srcs[i/50000], syn)
}

func (o *rawOpener) sendTCP(src netip.Addr, h tcp.Header) {
	seg := make([]byte, tcp.MaxHeaderLen)
	n, err := h.Emit(seg, nil, src, o.server)
	if err != nil {
		panic(err)
	}
	pkt := make([]byte, ipv4.HeaderLen+n)
	ipv4.Header{TTL: 64, Protocol: ipv4.ProtocolTCP, Src: src, Dst: o.server, DontFragment: true, PayloadLen: n}.Emit(pkt)
	copy(pkt[ipv4.HeaderLen:], seg[:n])
	o.send(ethernet.IPv4, pkt)
}

func (o *rawOpener) send(typ ethernet.EtherType, payload []byte) {
	f := make([]byte, ethernet.HeaderLen+len(payload))
	ethernet.Header{Dst: o.dst, Src: o.mac, Type: typ}.Emit(f)
	copy(f[ethernet.HeaderLen:], payload)
	o.dev.Write(f)
}

// BenchmarkIdleServerConnMemory holds b.N established idle connections
// on one server stack (issue 14: run it with -benchtime=100000x) and
// reports the server's live heap per connection: control block,
// connection actor and mailbox, routes, socket, and the net.Conn its
// user holds. The clients are a stateless raw opener on the memory
// link's far end (three source addresses, so 100,000 fit), and the
// stack runs on a virtual clock, so no timer fires while they idle.
func BenchmarkIdleServerConnMemory(b *testing.B) {
	quietLogs(b)
	clock := actors.NewVirtualClock(time.Unix(1_000_000, 0))
	ds, dp := device.NewMemoryPair(device.MemoryConfig{RingSize: 1024})
	n := b.N
	s, err := actnet.New(actnet.Config{Device: ds, IPv4: addrB, Logger: testLogger(b), Clock: clock,
		Limits: actnet.Limits{MaxConns: n + 1000, ConnSpawnRate: 1 << 30, Backlog: 4096}})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	defer dp.Close()
	l, err := s.Listen("tcp", ":80")
	if err != nil {
		b.Fatal(err)
	}
	defer l.Close()
	o := &rawOpener{dev: dp, mac: ethernet.Addr(dp.HardwareAddr()), dst: ethernet.Addr(ds.HardwareAddr()),
		server: addrB.Addr(), done: make(chan struct{}, 1024)}
	for i := range (n + 49999) / 50000 {
		o.srcs = append(o.srcs, netip.AddrFrom4([4]byte{10, 0, 0, byte(11 + i)}))
	}
	go o.read()
	// Each source introduces itself (an ARP request, as a Linux client's
	// first SYN would follow one), so the server's first SYN-ACKs do not
	// wait in the resolution queue, which holds a few per neighbour.
	for _, src := range o.srcs {
		req := make([]byte, arp.Len)
		arp.NewRequest(o.mac, src, o.server).Emit(req)
		o.send(ethernet.ARP, req)
	}
	waitIdle(b, s)

	accepted := make(chan net.Conn, 1024)
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				close(accepted)
				return
			}
			accepted <- c
		}
	}()
	conns := make([]net.Conn, 0, n)
	before := liveHeap()
	b.ResetTimer()
	// A window of handshakes in flight keeps the link's ring and the
	// listener's backlog from overflowing (nothing is retransmitted on
	// the frozen clock).
	const window = 64
	inflight := 0
	for i := 0; i < n || len(conns) < n; {
		switch {
		case i < n && inflight < window:
			o.open(i, 80)
			i++
			inflight++
		default:
			select {
			case <-o.done:
				inflight--
			case c, ok := <-accepted:
				if !ok {
					b.Fatalf("accept failed after %d", len(conns))
				}
				conns = append(conns, c)
			case <-time.After(30 * time.Second):
				b.Fatalf("%d of %d connections accepted, %d handshakes in flight; gauges %+v\n%s",
					len(conns), n, inflight, s.Gauges(), s.Stats())
			}
		}
	}
	b.StopTimer()
	waitIdle(b, s)
	if g := s.Gauges(); g.TCPConns != n {
		b.Fatalf("gauges %+v, want %d connections", g, n)
	}
	after := liveHeap()
	b.ReportMetric(float64(int64(after)-int64(before))/float64(n), "B/conn")
	if v := o.bad.Load(); v != 0 {
		b.Errorf("%d unexpected frames from the server", v)
	}
	runtime.KeepAlive(conns)
	for _, c := range conns {
		c.Close()
	}
}
