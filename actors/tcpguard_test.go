package actors

import (
	"net/netip"
	"sync/atomic"
	"testing"

	"github.com/actnet/actnet/layers/tcp"
	"github.com/actnet/actnet/mailbox"
)

// A panic while the tcp actor demultiplexes a segment is contained per
// segment (DESIGN.md, "What the code taught us" 3): each is counted, the
// batch's ingress slot goes back to the device reader, the stack does not
// fail, and connections still open.
func TestTCPDemuxPanicIsContained(t *testing.T) {
	a, b := startPair(t)
	q, port, err := b.Listen(7, 0, tcp.Config{})
	if err != nil || port != 7 {
		t.Fatalf("Listen: port %d, %v", port, err)
	}
	// A zero Segment is one no validated packet can be: reading its ports
	// panics, which stands for a bug in demultiplexing.
	ingress := new(atomic.Int64)
	ingress.Add(1)
	batch := mailbox.NewBatch()
	batch.Ingress = ingress
	for range 2 {
		batch.Add(mailbox.Packet{Src: a.Env.IPv4().Addr.Addr(), Dst: b.Env.IPv4().Addr.Addr()})
	}
	b.system.Root.Send(b.Env.PIDs.TCP, batch)
	// The tcp actor handles its mail in order: once a later Listen is
	// answered, the batch has been handled.
	if _, _, err := b.Listen(8, 0, tcp.Config{}); err != nil {
		t.Fatal(err)
	}
	if got := b.Env.Counters.Snapshot().TCP.HandlerCrashes; got != 2 {
		t.Errorf("tcp handler crashes counted: %d, want 2 (one per segment)", got)
	}
	if got := ingress.Load(); got != 0 {
		t.Errorf("ingress batches in flight after the crash: %d, want 0 (the slot leaked)", got)
	}
	select {
	case <-b.Failed():
		t.Fatalf("stack failed: %v", b.Err())
	default:
	}
	client, server := connect(t, a, q, netip.AddrPortFrom(b.Env.IPv4().Addr.Addr(), 7))
	roundTrip(t, client, server, "still demultiplexing")
}
