package device

import "encoding/binary"

// Software segmentation and checksum completion: what a host does for a
// super-frame or a partial checksum headed for a link that cannot take
// them (Linux's skb_gso_segment and skb_checksum_help). The memory link
// uses them to hand plain frames to a peer without offloads, and to cut
// super-frames into the packets its faults drop one by one; tests use them
// to check what a super-frame stands for. They read only the Ethernet, IP
// and TCP or UDP headers the metadata points at, and refuse (ErrBadOffload)
// what they do not understand instead of guessing.

const (
	etherIPv4 = 0x0800
	etherIPv6 = 0x86dd
	protoTCP  = 6
	protoUDP  = 17
)

// CompleteChecksum finishes the partial checksum of frame in place, as
// o.NeedsCsum asks; other frames are left alone.
func CompleteChecksum(frame []byte, o Offload) error {
	if !o.NeedsCsum {
		return nil
	}
	if err := o.Check(frame); err != nil {
		return err
	}
	at := int(o.CsumStart) + int(o.CsumOffset)
	// The field holds the pseudo-header sum: summing the region with it
	// gives the full sum (RFC 1071).
	c := ^fold(sum(frame[o.CsumStart:], 0))
	if c == 0 && o.CsumOffset == 6 {
		c = 0xffff // UDP sends a zero checksum as all ones (RFC 768)
	}
	binary.BigEndian.PutUint16(frame[at:], c)
	return nil
}

// gsoLayout is where a super-frame's headers lie.
type gsoLayout struct {
	v6          bool
	l4, payload int // offsets of the transport header and of the payload
	tcp         bool
}

func layoutOf(frame []byte, o Offload) (gsoLayout, error) {
	var l gsoLayout
	if len(frame) < HeaderLen {
		return l, ErrBadOffload
	}
	var proto byte
	switch binary.BigEndian.Uint16(frame[12:]) {
	case etherIPv4:
		if len(frame) < HeaderLen+20 || frame[HeaderLen]>>4 != 4 {
			return l, ErrBadOffload
		}
		ihl := int(frame[HeaderLen]&0x0f) * 4
		if ihl < 20 || len(frame) < HeaderLen+ihl {
			return l, ErrBadOffload
		}
		l.l4, proto = HeaderLen+ihl, frame[HeaderLen+9]
	case etherIPv6:
		if len(frame) < HeaderLen+40 || frame[HeaderLen]>>4 != 6 {
			return l, ErrBadOffload
		}
		l.v6, l.l4, proto = true, HeaderLen+40, frame[HeaderLen+6]
	default:
		return l, ErrBadOffload
	}
	switch g := o.GSO &^ GSOECN; {
	case (g == GSOTCPv4 && !l.v6 || g == GSOTCPv6 && l.v6) && proto == protoTCP:
		if len(frame) < l.l4+20 {
			return l, ErrBadOffload
		}
		l.tcp = true
		l.payload = l.l4 + int(frame[l.l4+12]>>4)*4
		if l.payload < l.l4+20 || l.payload > len(frame) {
			return l, ErrBadOffload
		}
	case g == GSOUDPL4 && proto == protoUDP:
		l.payload = l.l4 + 8
		if l.payload > len(frame) {
			return l, ErrBadOffload
		}
	default:
		return l, ErrBadOffload
	}
	if int(o.CsumStart) != l.l4 {
		return l, ErrBadOffload
	}
	return l, nil
}

// Segment cuts the super-frame frame (o.GSO set) into the packets it stands
// for and calls emit with each, in order, with plain metadata and complete
// checksums. Each packet is built in scratch, which it grows as needed and
// returns for reuse; emit must not keep the slice. A frame whose payload
// fits one segment comes out as one packet. It returns ErrBadOffload,
// emitting nothing, for metadata that does not match the frame's headers.
func Segment(frame []byte, o Offload, scratch []byte, emit func(pkt []byte) error) ([]byte, error) {
	if err := o.Check(frame); err != nil {
		return scratch, err
	}
	if o.GSO == GSONone {
		scratch = append(scratch[:0], frame...)
		if err := CompleteChecksum(scratch, o); err != nil {
			return scratch, err
		}
		return scratch, emit(scratch)
	}
	l, err := layoutOf(frame, o)
	if err != nil {
		return scratch, err
	}
	hdr := frame[:l.payload]
	data := frame[l.payload:]
	size := int(o.GSOSize)
	var seq uint32
	var id uint16
	var flags byte
	if l.tcp {
		seq = binary.BigEndian.Uint32(frame[l.l4+4:])
		flags = frame[l.l4+13]
	}
	if !l.v6 {
		id = binary.BigEndian.Uint16(frame[HeaderLen+4:])
	}
	for i, off := 0, 0; off < len(data) || off == 0; i++ {
		n := min(size, len(data)-off)
		last := off+n >= len(data)
		scratch = append(append(scratch[:0], hdr...), data[off:off+n]...)
		p := scratch
		ipLen := len(p) - HeaderLen
		if l.v6 {
			binary.BigEndian.PutUint16(p[HeaderLen+4:], uint16(ipLen-40))
		} else {
			binary.BigEndian.PutUint16(p[HeaderLen+2:], uint16(ipLen))
			binary.BigEndian.PutUint16(p[HeaderLen+4:], id+uint16(i))
			p[HeaderLen+10], p[HeaderLen+11] = 0, 0
			binary.BigEndian.PutUint16(p[HeaderLen+10:], ^fold(sum(p[HeaderLen:l.l4], 0)))
		}
		l4 := p[l.l4:]
		var proto byte = protoUDP
		at := 6
		if l.tcp {
			proto, at = protoTCP, 16
			binary.BigEndian.PutUint32(l4[4:], seq+uint32(off))
			f := flags
			if !last {
				f &^= 0x01 | 0x08 // FIN and PSH go with the last piece
			}
			if i > 0 {
				f &^= 0x80 // CWR goes with the first
			}
			l4[13] = f
		} else {
			binary.BigEndian.PutUint16(l4[4:], uint16(len(l4)))
		}
		l4[at], l4[at+1] = 0, 0
		c := ^fold(sum(l4, pseudoSum(p, l.v6, proto, len(l4))))
		if c == 0 && !l.tcp {
			c = 0xffff
		}
		binary.BigEndian.PutUint16(l4[at:], c)
		if err := emit(p); err != nil {
			return scratch, err
		}
		off += n
		if last {
			break
		}
	}
	return scratch, nil
}

// pseudoSum is the unfolded sum of the IP pseudo-header of packet p
// (RFC 9293 §3.1, RFC 8200 §8.1).
func pseudoSum(p []byte, v6 bool, proto byte, l4len int) uint64 {
	var s uint64
	if v6 {
		s = sum(p[HeaderLen+8:HeaderLen+40], 0)
	} else {
		s = sum(p[HeaderLen+12:HeaderLen+20], 0)
	}
	return s + uint64(proto) + uint64(l4len)
}

// PseudoHeaderPartial returns what a partial checksum field holds for a
// transport segment of l4len bytes in the IPv4 or IPv6 packet that starts
// at frame[HeaderLen:]: the folded pseudo-header sum, not complemented.
func PseudoHeaderPartial(frame []byte, proto byte, l4len int) uint16 {
	return fold(pseudoSum(frame, frame[HeaderLen]>>4 == 6, proto, l4len))
}

// sum adds b to s as 16-bit big-endian words (RFC 1071), unfolded.
func sum(b []byte, s uint64) uint64 {
	for len(b) >= 8 {
		v := binary.BigEndian.Uint64(b)
		s += v>>48 + v>>32&0xffff + v>>16&0xffff + v&0xffff
		b = b[8:]
	}
	for len(b) >= 2 {
		s += uint64(binary.BigEndian.Uint16(b))
		b = b[2:]
	}
	if len(b) == 1 {
		s += uint64(b[0]) << 8
	}
	return s
}

func fold(s uint64) uint16 {
	for s > 0xffff {
		s = s>>16 + s&0xffff
	}
	return uint16(s)
}
