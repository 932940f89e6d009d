package device

import (
	"encoding/binary"
	"errors"
)

// Offloads: a device that hands the stack coalesced super-frames and takes
// super-segments it cuts up itself (a tap opened with a virtio-net header,
// or a memory link that emulates one) says so by implementing
// OffloadDevice. Its frames carry Offload metadata, the fields of a
// virtio_net_hdr (virtio spec 1.2 §5.1.6, Linux's
// include/uapi/linux/virtio_net.h). Devices without offloads, and frames
// without metadata, are unchanged: the zero Offload means none.

// GSOType is a frame's segmentation offload type (virtio_net_hdr.gso_type).
type GSOType uint8

// The segmentation types a virtio-net header names.
const (
	GSONone  GSOType = 0    // a single packet
	GSOTCPv4 GSOType = 1    // a TCP over IPv4 super-segment
	GSOUDP   GSOType = 3    // UFO: IP fragmentation (obsolete, refused here)
	GSOTCPv6 GSOType = 4    // a TCP over IPv6 super-segment
	GSOUDPL4 GSOType = 5    // a UDP super-datagram (USO)
	GSOECN   GSOType = 0x80 // flag: the TCP super-segment carries CWR
)

// Offload is one frame's offload metadata. The zero value means none: a
// plain frame whose checksums are complete and unverified.
type Offload struct {
	// GSO, when not GSONone, marks a super-frame: its transport payload
	// is cut into GSOSize-byte pieces, each sent as a packet of its own
	// with the same headers (TCP sequence numbers, IP lengths, IDs and
	// checksums adjusted), as a NIC's TSO or Linux's GSO does.
	GSO     GSOType
	GSOSize uint16
	// HdrLen is the length of the headers before the payload (Ethernet,
	// IP and transport), a hint the kernel may use.
	HdrLen uint16
	// NeedsCsum: the transport checksum is partial. The field at
	// CsumStart+CsumOffset holds the folded sum of the pseudo-header only
	// (not complemented); the checksum over frame[CsumStart:] still has
	// to be computed and stored there (CHECKSUM_PARTIAL). A frame read
	// with it came from the host itself and can be trusted as intact.
	NeedsCsum             bool
	CsumStart, CsumOffset uint16
	// DataValid: the host already verified the frame's checksums
	// (CHECKSUM_UNNECESSARY); received frames only.
	DataValid bool
}

// IsZero reports whether o carries no metadata.
func (o Offload) IsZero() bool { return o == Offload{} }

// ChecksumTrusted reports whether the device vouches for the frame's
// transport checksum: verified (DataValid) or partial from the host
// itself (NeedsCsum). Receivers skip their own verification then, and
// must, since a partial checksum does not verify.
func (o Offload) ChecksumTrusted() bool { return o.NeedsCsum || o.DataValid }

// Features are the offloads a device negotiated.
type Features struct {
	// Csum: frames may carry partial checksums both ways (TUN_F_CSUM).
	Csum bool
	// TSO4 and TSO6: TCP super-segments over IPv4 and IPv6 both ways
	// (TUN_F_TSO4, TUN_F_TSO6): the device hands the stack coalesced
	// super-frames and takes super-segments it segments itself.
	TSO4, TSO6 bool
}

// Any reports whether any offload is on.
func (f Features) Any() bool { return f.Csum || f.TSO4 || f.TSO6 }

// OffloadDevice is implemented by devices that carry offload metadata.
// ReadBatch and Write of such a device still work, without metadata: a
// super-frame that ReadBatch meets is dropped (DropsTooLong), and Write's
// frames are plain.
type OffloadDevice interface {
	Device
	// Offloads reports what the device negotiated; all false means the
	// metadata is always zero (the link refused every offload).
	Offloads() Features
	// ReadBatchOffload is ReadBatch that also stores each frame's
	// metadata in meta[i]. A super-frame needs a buffer of up to
	// MaxOffloadFrame bytes; a frame whose metadata is bogus (an unknown
	// GSO type, a checksum position outside the frame, a GSO frame without
	// a partial checksum) is dropped and counted (DropsBadOffload), never
	// returned.
	ReadBatchOffload(bufs [][]byte, sizes []int, meta []Offload) (int, error)
	// WriteOffload sends one frame with its metadata: a super-segment of
	// up to MaxOffloadFrame bytes with GSO set, or a frame whose partial
	// checksum the device completes. The metadata must name what Offloads
	// offers. Safe for concurrent use.
	WriteOffload(frame []byte, meta Offload) error
}

// MaxOffloadFrame bounds a super-frame: an Ethernet header, a VLAN tag, an
// IPv6 header and the largest IP payload a 16-bit length field allows.
const MaxOffloadFrame = HeaderLen + 4 + 40 + 0xffff

// VirtioNetHdrLen is the length of the virtio_net_hdr a tap opened with
// IFF_VNET_HDR puts in front of every frame (without num_buffers).
const VirtioNetHdrLen = 10

// virtio_net_hdr.flags bits.
const (
	vnetNeedsCsum = 1
	vnetDataValid = 2
)

// ErrBadOffload is returned for offload metadata that does not fit its
// frame or names an unknown type.
var ErrBadOffload = errors.New("device: bogus offload metadata")

// DecodeVirtioNetHdr reads a virtio_net_hdr. Its fields are in the
// host's byte order, as a legacy tap writes them on every host Linux
// runs a tap on, little-endian ones included.
func DecodeVirtioNetHdr(b []byte) (Offload, error) {
	if len(b) < VirtioNetHdrLen {
		return Offload{}, ErrBadOffload
	}
	e := binary.NativeEndian
	o := Offload{
		NeedsCsum:  b[0]&vnetNeedsCsum != 0,
		DataValid:  b[0]&vnetDataValid != 0,
		GSO:        GSOType(b[1]),
		HdrLen:     e.Uint16(b[2:]),
		GSOSize:    e.Uint16(b[4:]),
		CsumStart:  e.Uint16(b[6:]),
		CsumOffset: e.Uint16(b[8:]),
	}
	if !o.NeedsCsum {
		// Without the flag the kernel leaves these as they were; they
		// mean nothing.
		o.CsumStart, o.CsumOffset = 0, 0
	}
	if o.GSO == GSONone {
		o.GSOSize, o.HdrLen = 0, 0
	}
	return o, nil
}

// EncodeVirtioNetHdr writes o as a virtio_net_hdr into b, which must hold
// VirtioNetHdrLen bytes.
func EncodeVirtioNetHdr(b []byte, o Offload) {
	e := binary.NativeEndian
	var flags byte
	if o.NeedsCsum {
		flags |= vnetNeedsCsum
	}
	if o.DataValid {
		flags |= vnetDataValid
	}
	b[0], b[1] = flags, byte(o.GSO)
	e.PutUint16(b[2:], o.HdrLen)
	e.PutUint16(b[4:], o.GSOSize)
	e.PutUint16(b[6:], o.CsumStart)
	e.PutUint16(b[8:], o.CsumOffset)
}

// Check reports whether o can be trusted for frame: a known GSO type with
// a segment size and a partial checksum inside the frame, a checksum
// position (when partial) whose 2-byte field lies within the frame. It
// does not look inside the frame's headers: whoever acts on the metadata
// (Segment, the stack) validates those.
func (o Offload) Check(frame []byte) error {
	if o.NeedsCsum {
		if int(o.CsumStart) < HeaderLen || int(o.CsumStart)+int(o.CsumOffset)+2 > len(frame) {
			return ErrBadOffload
		}
	}
	switch o.GSO &^ GSOECN {
	case GSONone:
		if o.GSO&GSOECN != 0 {
			return ErrBadOffload
		}
		return nil
	case GSOTCPv4, GSOTCPv6:
		if o.CsumOffset != 16 { // the TCP checksum field
			return ErrBadOffload
		}
	case GSOUDPL4:
		if o.CsumOffset != 6 { // the UDP checksum field
			return ErrBadOffload
		}
	default:
		return ErrBadOffload
	}
	if o.GSOSize == 0 || !o.NeedsCsum || len(frame) > MaxOffloadFrame {
		return ErrBadOffload
	}
	return nil
}
