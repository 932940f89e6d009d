package vnettap

import (
	"bytes"
	"testing"

	"golang.org/x/sys/unix"
	"gvisor.dev/gvisor/pkg/buffer"
	"gvisor.dev/gvisor/pkg/tcpip"
	"gvisor.dev/gvisor/pkg/tcpip/header"
	"gvisor.dev/gvisor/pkg/tcpip/stack"
)

// recorder is a NetworkDispatcher that hands each delivered frame to a
// channel.
type recorder chan []byte

func (r recorder) DeliverNetworkPacket(_ tcpip.NetworkProtocolNumber, pkt *stack.PacketBuffer) {
	v := pkt.ToView()
	r <- append([]byte(nil), v.AsSlice()...)
	v.Release()
}

func (r recorder) DeliverLinkPacket(tcpip.NetworkProtocolNumber, *stack.PacketBuffer) {}

// newPair makes an endpoint on one end of a SOCK_SEQPACKET socket pair,
// which keeps message boundaries as a tap does, and returns the other
// end, playing the kernel's side of the tap.
func newPair(t *testing.T) (*Endpoint, int) {
	t.Helper()
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_SEQPACKET, 0)
	if err != nil {
		t.Skipf("no socket pair: %v", err)
	}
	// Room for a 64 KiB frame in one message.
	for _, fd := range fds {
		unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_SNDBUF, 1<<20)
		unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUF, 1<<20)
	}
	e, err := New(fds[0], 1500, "\x02\x00\x00\x00\x00\x02", 65536)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		e.Close()
		e.Wait()
		unix.Close(fds[1])
	})
	return e, fds[1]
}

func TestEndpointReceive(t *testing.T) {
	e, kernel := newPair(t)
	rec := make(recorder, 4)
	e.Attach(rec)
	super := tcpFrame(false, 40*1448, false) // a 58 KiB super-frame
	start := uint16(header.EthernetMinimumSize + header.IPv4MinimumSize)
	good := encode(header.VirtioNetHeaderFields{Flags: flagNeedsCsum, GSOType: gsoTCPv4, HdrLen: start + 20, GSOSize: 1448, CSumStart: start, CSumOffset: 16})
	bogus := encode(header.VirtioNetHeaderFields{Flags: flagNeedsCsum, GSOType: gsoTCPv4, GSOSize: 1448, CSumStart: start, CSumOffset: 0xfff0})
	badSum := tcpFrame(true, 100, true)
	badSum[len(badSum)-1] ^= 1
	small := tcpFrame(true, 100, true)
	// The largest IPv4 packet: its frame is 13 bytes longer than the
	// 64 KiB buffer and ends in the reader's tail.
	maximal := tcpFrame(false, 0xffff-header.IPv4MinimumSize-header.TCPMinimumSize, false)
	for _, msg := range [][]byte{
		append(bogus, super...),                 // refused: checksum outside the frame
		append(make([]byte, hdrLen), badSum...), // refused: no flags, bad checksum
		append(good, super...),                  // delivered whole
		append(make([]byte, hdrLen), small...),  // delivered, checked here
		append(good, maximal...),                // delivered whole
	} {
		if _, err := unix.Write(kernel, msg); err != nil {
			t.Fatal(err)
		}
	}
	if got := <-rec; !bytes.Equal(got, super) {
		t.Fatalf("super-frame delivered as %d bytes, want the %d sent", len(got), len(super))
	}
	if got := <-rec; !bytes.Equal(got, small) {
		t.Fatalf("small frame delivered as %d bytes, want the %d sent", len(got), len(small))
	}
	if got := <-rec; !bytes.Equal(got, maximal) {
		t.Fatalf("maximal frame delivered as %d bytes, want the %d sent", len(got), len(maximal))
	}
	// The reader handles frames in order, so the refused ones were
	// counted before the last delivery.
	s := &e.Stats
	if s.RxBadHeader.Load() != 1 || s.RxBadChecksum.Load() != 1 || s.RxFrames.Load() != 3 || s.RxSuperFrames.Load() != 2 {
		t.Errorf("counters: bad header %d, bad checksum %d, frames %d, super-frames %d; want 1, 1, 3, 2",
			s.RxBadHeader.Load(), s.RxBadChecksum.Load(), s.RxFrames.Load(), s.RxSuperFrames.Load())
	}
}

func TestEndpointWrite(t *testing.T) {
	e, kernel := newPair(t)
	frame := tcpFrame(true, 20000, false)
	const eth, ip6, tcp = header.EthernetMinimumSize, header.IPv6MinimumSize, header.TCPMinimumSize
	pkt := stack.NewPacketBuffer(stack.PacketBufferOptions{
		ReserveHeaderBytes: eth + ip6 + tcp,
		Payload:            buffer.MakeWithData(frame[eth+ip6+tcp:]),
	})
	copy(pkt.TransportHeader().Push(tcp), frame[eth+ip6:])
	copy(pkt.NetworkHeader().Push(ip6), frame[eth:])
	copy(pkt.LinkHeader().Push(eth), frame)
	pkt.GSOOptions = stack.GSO{Type: stack.GSOTCPv6, NeedsCsum: true, CsumOffset: 16, MSS: 1440, L3HdrLen: ip6, MaxSize: 65536}
	// A packet gVisor would have to segment itself cannot go to a tap.
	refused := stack.NewPacketBuffer(stack.PacketBufferOptions{Payload: buffer.MakeWithData(frame)})
	refused.GSOOptions = stack.GSO{Type: stack.GSOGvisor, MSS: 1440}
	var l stack.PacketBufferList
	l.PushBack(refused)
	l.PushBack(pkt)
	n, werr := e.WritePackets(l)
	l.Reset() // the caller's references, as the NIC drops them
	if n != 1 || werr != nil {
		t.Fatalf("WritePackets = %d, %v; want 1, nil", n, werr)
	}
	buf := make([]byte, 1<<17)
	n, err := unix.Read(kernel, buf)
	if err != nil {
		t.Fatal(err)
	}
	want := header.VirtioNetHeaderFields{Flags: flagNeedsCsum, GSOType: gsoTCPv6, HdrLen: eth + ip6 + tcp, GSOSize: 1440, CSumStart: eth + ip6, CSumOffset: 16}
	if got := decodeHeader(buf[:hdrLen]); got != want {
		t.Errorf("header %+v, want %+v", got, want)
	}
	if !bytes.Equal(buf[hdrLen:n], frame) {
		t.Errorf("frame of %d bytes differs from the %d-byte packet", n-hdrLen, len(frame))
	}
	if e.Stats.TxRefused.Load() != 1 || e.Stats.TxSuperFrames.Load() != 1 {
		t.Errorf("refused %d, super-frames %d; want 1, 1", e.Stats.TxRefused.Load(), e.Stats.TxSuperFrames.Load())
	}
}
