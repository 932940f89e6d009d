package actors

import (
	"encoding/binary"

	"github.com/actnet/actnet/device"
	"github.com/actnet/actnet/layers/ethernet"
	"github.com/actnet/actnet/layers/tcp"
	"github.com/actnet/actnet/mailbox"
)

// The send side of the device's offloads. A connection on a device with
// checksum offload leaves its segments' checksums partial, and on one with
// TSO sends new data in super-segments of up to 64 KiB
// (tcp.Config.GSOMax); it marks the buffer (mailbox.Buffer.Tx), and the
// last step of the send path, deviceWrite, turns the mark into the
// device's offload metadata. Nothing in between looks at it but the
// path-MTU check, which lets a super-segment through whole.

// deviceOffloads is what dev offers for TCP: checksum offload, and TSO
// only when both families have it (the connection's config does not know
// its family's link features apart).
func deviceOffloads(dev device.Device) (csum, tso bool) {
	od, ok := dev.(device.OffloadDevice)
	if !ok {
		return false, false
	}
	f := od.Offloads()
	return f.Csum, f.Csum && f.TSO4 && f.TSO6
}

// gsoMax is tcp.Config.GSOMax for connections on env's device: the
// largest TCP payload that fits a 64 KiB IP packet behind the largest
// TCP header, or 0 without TSO.
func gsoMax(env *Env) int {
	if _, tso := deviceOffloads(env.Device); tso {
		return MaxIPv4Payload - tcp.MaxHeaderLen
	}
	return 0
}

// emitTCP serializes o into a buffer for out, with a partial checksum
// and its TSO mark when the device finishes them (csum) and the segment
// leaves the host. It returns the buffer and the segment's length.
func emitTCP(env *Env, out NetOutput, csum bool, o *tcp.Outgoing) (*mailbox.Buffer, int, error) {
	var buf *mailbox.Buffer
	if size := o.Len(); mailbox.Headroom+size <= env.Pool.Size() {
		buf = env.Pool.Get()
	} else {
		buf = out.Buffer(size)
	}
	if !csum || out.IsLocal(o.Tuple.Remote.Addr()) {
		n, err := o.Emit(buf.B[mailbox.Headroom:])
		return buf, n, err
	}
	n, err := o.EmitPartial(buf.B[mailbox.Headroom:])
	buf.Tx = mailbox.TxOffload{PartialCsum: true, GSOSize: uint16(o.GSOSize)}
	return buf, n, err
}

// deviceWrite writes one frame to the device, with the offload metadata
// its buffer's mark asks for. A device that cannot take the metadata
// (never so for frames this stack marked, unless the device changed) gets
// the frame finished in software.
func (e *Env) deviceWrite(buf *mailbox.Buffer, frame []byte) error {
	if buf.Tx == (mailbox.TxOffload{}) {
		return e.Device.Write(frame)
	}
	meta, ok := txMeta(frame, buf.Tx)
	if !ok {
		return device.ErrBadOffload
	}
	if od, ok := e.Device.(device.OffloadDevice); ok {
		if f := od.Offloads(); f.Csum && (meta.GSO == device.GSONone || meta.GSO == device.GSOTCPv4 && f.TSO4 || meta.GSO == device.GSOTCPv6 && f.TSO6) {
			return od.WriteOffload(frame, meta)
		}
	}
	var werr error
	_, err := device.Segment(frame, meta, nil, func(p []byte) error {
		if err := e.Device.Write(p); err != nil && werr == nil {
			werr = err
		}
		return nil
	})
	if err != nil {
		return err
	}
	return werr
}

// txMeta builds the device metadata for a TCP segment in frame (Ethernet,
// an IPv4 header with options or an IPv6 header without extensions, TCP)
// that tx marks.
func txMeta(frame []byte, tx mailbox.TxOffload) (device.Offload, bool) {
	if len(frame) < ethernet.HeaderLen+40 {
		return device.Offload{}, false
	}
	ip := frame[ethernet.HeaderLen:]
	var l4 int
	typ := device.GSOTCPv4
	switch binary.BigEndian.Uint16(frame[12:]) {
	case uint16(ethernet.IPv4):
		l4 = ethernet.HeaderLen + int(ip[0]&0x0f)*4
	case uint16(ethernet.IPv6):
		l4, typ = ethernet.HeaderLen+40, device.GSOTCPv6
	default:
		return device.Offload{}, false
	}
	if len(frame) < l4+tcp.HeaderLen {
		return device.Offload{}, false
	}
	hdr := l4 + int(frame[l4+12]>>4)*4
	meta := device.Offload{NeedsCsum: true, CsumStart: uint16(l4), CsumOffset: 16}
	if tx.GSOSize > 0 && len(frame)-hdr > int(tx.GSOSize) {
		meta.GSO, meta.GSOSize, meta.HdrLen = typ, tx.GSOSize, uint16(hdr)
	}
	return meta, true
}
