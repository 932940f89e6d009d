package mailbox

import (
	"net/netip"
	"sync"
	"sync/atomic"

	"github.com/actnet/actnet/layers/ethernet"
	"github.com/actnet/actnet/layers/tcp"
)

// Packet is one received packet on its way up the stack. Each layer fills in
// what it parsed so the next one does not parse again (DESIGN.md,
// principle 2). All slices point into Buf, which the packet owns.
type Packet struct {
	Buf *Buffer

	// Set by the ethernet layer.
	Frame         []byte // the whole frame
	Network       []byte // the frame's payload: an ARP, IPv4 or IPv6 packet
	SrcMAC        ethernet.Addr
	LinkBroadcast bool // sent to the broadcast or a multicast MAC
	// ChecksumOK: the device vouched for the frame's TCP or UDP checksum
	// (offload metadata: verified by the host, or partial because the
	// host itself sent it), so the transport does not verify it — a
	// partial one would not verify. A coalesced TCP super-frame always
	// has it.
	ChecksumOK bool

	// Set by the IP layer.
	Src, Dst  netip.Addr
	Protocol  uint8
	Transport []byte // the IP payload (reassembled when it came in fragments)

	// Set by the tcp layer: the validated segment, options parsed.
	TCP tcp.Segment
}

// Release returns the packet's buffer to its pool and forgets it.
func (p *Packet) Release() {
	p.Buf.Release()
	*p = Packet{}
}

// PacketsArrived carries a batch of received packets to the next layer up.
// Batching keeps the per-packet cost of a mailbox hop low (DESIGN.md,
// principle 8). The receiver owns the batch and releases it when done.
type PacketsArrived struct {
	Packets []Packet
	// Ingress, when set, counts the batches read from the device and not
	// yet handled; the receiver calls Done so the reader can bound them.
	Ingress *atomic.Int64
}

// Done tells the device reader this batch has been handled.
func (b *PacketsArrived) Done() {
	if b.Ingress != nil {
		b.Ingress.Add(-1)
		b.Ingress = nil
	}
}

var batchPool = sync.Pool{New: func() any { return &PacketsArrived{Packets: make([]Packet, 0, 64)} }}

// NewBatch returns an empty batch from the pool.
func NewBatch() *PacketsArrived {
	return batchPool.Get().(*PacketsArrived)
}

// Add appends a packet to the batch; ownership of its buffer moves with it.
func (b *PacketsArrived) Add(p Packet) { b.Packets = append(b.Packets, p) }

// Len is the number of packets in the batch.
func (b *PacketsArrived) Len() int { return len(b.Packets) }

// Release releases every packet still in the batch and returns the batch to
// the pool. A consumer that keeps a packet sets its Buf to nil first.
func (b *PacketsArrived) Release() {
	for i := range b.Packets {
		b.Packets[i].Release()
	}
	b.Packets = b.Packets[:0]
	b.Done()
	batchPool.Put(b)
}
