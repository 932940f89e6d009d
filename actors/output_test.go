package actors

import (
	"errors"
	"net/netip"
	"testing"

	"github.com/rs/zerolog"

	"github.com/actnet/actnet/device"
	"github.com/actnet/actnet/layers/ethernet"
	"github.com/actnet/actnet/layers/ipv4"
	"github.com/actnet/actnet/mailbox"
)

// startOutputTest runs a stack on one end of a memory link whose far end
// is known as a resolved neighbour, and returns its send path and the far
// end to read from.
func startOutputTest(t *testing.T) (*Running, *device.Memory, netip.Addr) {
	t.Helper()
	da, db := device.NewMemoryPair(device.MemoryConfig{})
	r, err := Start(Options{Device: da, IPv4: netip.MustParsePrefix("10.1.0.1/24"), Log: zerolog.Nop()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close(); db.Close() })
	peer := netip.MustParseAddr("10.1.0.2")
	r.Env.Neighbors4.Store(&map[netip.Addr]ethernet.Addr{peer: ethernet.Addr(db.HardwareAddr())})
	return r, db, peer
}

// readIPv4 reads frames from dev until n IPv4 packets came.
func readIPv4(t *testing.T, dev *device.Memory, n int) []ipv4.Packet {
	t.Helper()
	var out []ipv4.Packet
	bufs := [][]byte{make([]byte, 2048)}
	sizes := []int{0}
	for len(out) < n {
		k, err := dev.ReadBatch(bufs, sizes)
		if err != nil {
			t.Fatal(err)
		}
		if k == 0 {
			continue
		}
		f, err := ethernet.NewFrame(bufs[0][:sizes[0]])
		if err != nil || f.EtherType() != ethernet.IPv4 {
			continue
		}
		p, err := ipv4.NewPacket(f.Payload())
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, append(ipv4.Packet(nil), p...))
	}
	return out
}

func TestSendDontFragmentTooBig(t *testing.T) {
	r, _, peer := startOutputTest(t)
	buf := r.Output.Buffer(2000)
	err := r.Output.Send(buf, 2000, NetSend{Dst: peer, Protocol: 253, DontFragment: true})
	if !errors.Is(err, ErrTooBig) {
		t.Fatalf("DF send of 2000 bytes: %v, want ErrTooBig", err)
	}
	if got := r.Env.Counters.IPv4.TooBig.Load(); got != 1 {
		t.Errorf("too big counted %d times", got)
	}
	if err := r.Output.Send(r.Output.Buffer(10), MaxIPv4Payload+1, NetSend{Dst: peer, Protocol: 253}); !errors.Is(err, ErrTooBig) {
		t.Fatalf("send above 65515 bytes: %v", err)
	}
}

func TestSendFragmentsLargest(t *testing.T) {
	r, db, peer := startOutputTest(t)
	buf := r.Output.Buffer(MaxIPv4Payload)
	if len(buf.B) < mailbox.Headroom+MaxIPv4Payload {
		t.Fatalf("Buffer(%d) has %d bytes", MaxIPv4Payload, len(buf.B))
	}
	for i := range MaxIPv4Payload {
		buf.B[mailbox.Headroom+i] = byte(i * 13)
	}
	if err := r.Output.Send(buf, MaxIPv4Payload, NetSend{Dst: peer, Protocol: 253}); err != nil {
		t.Fatal(err)
	}
	// 65515 bytes in 1480-byte pieces: 44 full fragments and one of 395.
	pkts := readIPv4(t, db, 45)
	got := make([]byte, MaxIPv4Payload)
	for i, p := range pkts {
		if p.FragmentOffset() != i*1480 || p.MoreFragments() != (i < 44) || p.ID() != pkts[0].ID() || p.DontFragment() {
			t.Fatalf("fragment %d: offset %d MF %v ID %d DF %v", i, p.FragmentOffset(), p.MoreFragments(), p.ID(), p.DontFragment())
		}
		copy(got[p.FragmentOffset():], p.Payload())
	}
	if len(pkts[44].Payload()) != MaxIPv4Payload-44*1480 {
		t.Fatalf("last fragment carries %d bytes", len(pkts[44].Payload()))
	}
	for i, b := range got {
		if b != byte(i*13) {
			t.Fatalf("byte %d differs after fragmentation", i)
		}
	}
}
