package actors

import (
	"github.com/actnet/actnet/device"
	"github.com/actnet/actnet/mailbox"
)

// offloadRx is the Ethernet reader's state on a device with offloads
// (device.OffloadDevice): Linux's GRO hands it TCP super-frames of up to
// 64 KiB, so it reads into large buffers. A frame that fits a link-sized
// buffer is copied into one (a few hundred bytes for the ACKs and small
// requests that make most frames) and the large buffer stays with the
// reader for the next read; a super-frame goes up in its large buffer,
// which the reader replaces. Memory held for the stack's packets thus stays
// link-sized per frame queued, except for super-frames, which are worth
// 40 link-sized frames each.
type offloadRx struct {
	dev   device.OffloadDevice
	small *mailbox.Pool
	large *mailbox.Pool
	meta  []device.Offload
}

func newOffloadRx(dev device.OffloadDevice, small *mailbox.Pool) *offloadRx {
	return &offloadRx{
		dev:   dev,
		small: small,
		large: mailbox.NewPool(max(mailbox.LargeSize, device.MaxOffloadFrame)),
		meta:  make([]device.Offload, readBatchSize),
	}
}

// packet makes the i-th frame read into held[i] a packet, taking held[i]
// only for a frame a link-sized buffer cannot hold. The frame's checksum
// is trusted where its metadata says the host verified it or wrote it
// partial (device.Offload.ChecksumTrusted); the transport verifies the
// others, as without offloads.
func (rx *offloadRx) packet(held []*mailbox.Buffer, i, size int) mailbox.Packet {
	var p mailbox.Packet
	if size <= rx.small.Size() {
		b := rx.small.Get()
		copy(b.B, held[i].B[:size])
		p = mailbox.Packet{Buf: b, Frame: b.B[:size]}
	} else {
		p = mailbox.Packet{Buf: held[i], Frame: held[i].B[:size]}
		held[i] = nil
	}
	p.ChecksumOK = rx.meta[i].ChecksumTrusted()
	return p
}

// outstanding is the memory the large buffers given away hold (nil: none).
func (rx *offloadRx) outstanding() int64 {
	if rx == nil {
		return 0
	}
	// The reader itself always holds readBatchSize of them.
	return max(rx.large.Outstanding()-readBatchSize, 0) * int64(rx.large.Size())
}
