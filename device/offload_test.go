package device

import (
	"bytes"
	"encoding/binary"
	"errors"
	"testing"
	"time"
)

// superFrame builds an Ethernet frame holding a TCP segment (IPv4 or IPv6)
// with payload bytes, seq and flags, its TCP checksum partial, and the
// metadata of a TSO super-segment of mss-byte pieces.
func superFrame(v6 bool, payload []byte, seq uint32, flags byte, mss int) ([]byte, Offload) {
	f := make([]byte, 14)
	ipLen := 20
	if v6 {
		ipLen = 40
		binary.BigEndian.PutUint16(f[12:], etherIPv6)
	} else {
		binary.BigEndian.PutUint16(f[12:], etherIPv4)
	}
	copy(f[0:6], []byte{2, 0, 0, 0, 0, 2})
	copy(f[6:12], []byte{2, 0, 0, 0, 0, 1})
	ip := make([]byte, ipLen)
	tcp := make([]byte, 20)
	l4 := len(tcp) + len(payload)
	if v6 {
		ip[0] = 0x60
		binary.BigEndian.PutUint16(ip[4:], uint16(l4))
		ip[6], ip[7] = protoTCP, 64
		ip[23], ip[39] = 1, 2 // ::1 and ::2 would do; any addresses
		ip[8], ip[24] = 0xfd, 0xfd
	} else {
		ip[0] = 0x45
		binary.BigEndian.PutUint16(ip[2:], uint16(ipLen+l4))
		binary.BigEndian.PutUint16(ip[4:], 100)
		ip[8], ip[9] = 64, protoTCP
		copy(ip[12:], []byte{10, 0, 0, 1, 10, 0, 0, 2})
		binary.BigEndian.PutUint16(ip[10:], ^fold(sum(ip, 0)))
	}
	binary.BigEndian.PutUint16(tcp[0:], 1234)
	binary.BigEndian.PutUint16(tcp[2:], 80)
	binary.BigEndian.PutUint32(tcp[4:], seq)
	tcp[12] = 5 << 4
	tcp[13] = flags
	binary.BigEndian.PutUint16(tcp[14:], 1000)
	f = append(append(append(f, ip...), tcp...), payload...)
	binary.BigEndian.PutUint16(f[14+ipLen+16:], PseudoHeaderPartial(f, protoTCP, l4))
	typ := GSOTCPv4
	if v6 {
		typ = GSOTCPv6
	}
	return f, Offload{GSO: typ, GSOSize: uint16(mss), HdrLen: uint16(14 + ipLen + 20),
		NeedsCsum: true, CsumStart: uint16(14 + ipLen), CsumOffset: 16}
}

// verifyTCP checks a plain packet's IP and TCP checksums.
func verifyTCP(t *testing.T, p []byte) {
	t.Helper()
	v6 := p[14]>>4 == 6
	l4 := 14 + 20
	if v6 {
		l4 = 14 + 40
	} else if fold(sum(p[14:l4], 0)) != 0xffff {
		t.Errorf("IPv4 header checksum wrong")
	}
	if fold(sum(p[l4:], pseudoSum(p, v6, protoTCP, len(p)-l4))) != 0xffff {
		t.Errorf("TCP checksum wrong")
	}
}

func TestVirtioNetHdrRoundTrip(t *testing.T) {
	o := Offload{GSO: GSOTCPv6, GSOSize: 1440, HdrLen: 74, NeedsCsum: true, CsumStart: 54, CsumOffset: 16}
	var b [VirtioNetHdrLen]byte
	EncodeVirtioNetHdr(b[:], o)
	got, err := DecodeVirtioNetHdr(b[:])
	if err != nil || got != o {
		t.Fatalf("round trip: %+v, %v; want %+v", got, err, o)
	}
	if _, err := DecodeVirtioNetHdr(b[:9]); err == nil {
		t.Fatal("a 9-byte header decoded")
	}
	// Checksum fields without NEEDS_CSUM mean nothing and are cleared.
	b[0] = vnetDataValid
	got, _ = DecodeVirtioNetHdr(b[:])
	if !got.DataValid || got.NeedsCsum || got.CsumStart != 0 || !got.ChecksumTrusted() {
		t.Fatalf("DATA_VALID header decoded as %+v", got)
	}
}

func TestOffloadCheckRefusesBogus(t *testing.T) {
	frame, good := superFrame(false, make([]byte, 3000), 1, 0x18, 1000)
	if err := good.Check(frame); err != nil {
		t.Fatalf("good metadata refused: %v", err)
	}
	bogus := map[string]func(o *Offload){
		"unknown type":           func(o *Offload) { o.GSO = 9 },
		"UFO":                    func(o *Offload) { o.GSO = GSOUDP },
		"zero segment size":      func(o *Offload) { o.GSOSize = 0 },
		"GSO without NEEDS_CSUM": func(o *Offload) { o.NeedsCsum = false },
		"csum past the end":      func(o *Offload) { o.CsumStart = uint16(len(frame) - 1) },
		"csum in Ethernet":       func(o *Offload) { o.CsumStart = 2 },
		"TCP csum offset":        func(o *Offload) { o.CsumOffset = 6 },
		"ECN alone":              func(o *Offload) { *o = Offload{GSO: GSOECN} },
	}
	for name, mutate := range bogus {
		o := good
		mutate(&o)
		if err := o.Check(frame); !errors.Is(err, ErrBadOffload) {
			t.Errorf("%s: Check = %v, want ErrBadOffload", name, err)
		}
		if _, err := Segment(frame, o, nil, func([]byte) error { return nil }); err == nil {
			t.Errorf("%s: Segment accepted it", name)
		}
	}
}

func TestSegmentTCP(t *testing.T) {
	for _, v6 := range []bool{false, true} {
		payload := make([]byte, 2500)
		for i := range payload {
			payload[i] = byte(i)
		}
		frame, o := superFrame(v6, payload, 0xfffffc00, 0x80|0x18|0x01, 1000) // CWR PSH ACK FIN
		var got [][]byte
		_, err := Segment(frame, o, nil, func(p []byte) error {
			got = append(got, append([]byte(nil), p...))
			return nil
		})
		if err != nil {
			t.Fatalf("v6=%v: %v", v6, err)
		}
		if len(got) != 3 {
			t.Fatalf("v6=%v: %d packets, want 3", v6, len(got))
		}
		l4 := 34
		if v6 {
			l4 = 54
		}
		var joined []byte
		for i, p := range got {
			verifyTCP(t, p)
			seq := binary.BigEndian.Uint32(p[l4+4:])
			if want := 0xfffffc00 + uint32(i*1000); seq != want {
				t.Errorf("v6=%v packet %d: seq %#x, want %#x (wrapping)", v6, i, seq, want)
			}
			flags := p[l4+13]
			wantFlags := byte(0x10)
			if i == 0 {
				wantFlags |= 0x80
			}
			if i == 2 {
				wantFlags |= 0x08 | 0x01
			}
			if flags != wantFlags {
				t.Errorf("v6=%v packet %d: flags %#x, want %#x", v6, i, flags, wantFlags)
			}
			if v6 {
				if n := int(binary.BigEndian.Uint16(p[18:])); n != len(p)-54 {
					t.Errorf("payload length %d, want %d", n, len(p)-54)
				}
			} else {
				if n := int(binary.BigEndian.Uint16(p[16:])); n != len(p)-14 {
					t.Errorf("total length %d, want %d", n, len(p)-14)
				}
				if id := binary.BigEndian.Uint16(p[18:]); id != 100+uint16(i) {
					t.Errorf("IP ID %d, want %d", id, 100+i)
				}
			}
			joined = append(joined, p[l4+20:]...)
		}
		if !bytes.Equal(joined, payload) {
			t.Errorf("v6=%v: the pieces do not join up to the payload", v6)
		}
	}
}

func TestCompleteChecksum(t *testing.T) {
	frame, o := superFrame(false, []byte("hello"), 7, 0x18, 1000)
	o.GSO, o.GSOSize, o.HdrLen = GSONone, 0, 0
	if err := CompleteChecksum(frame, o); err != nil {
		t.Fatal(err)
	}
	verifyTCP(t, frame)
}

func TestMemoryOffloadCarriesSuperFrames(t *testing.T) {
	a, b := NewMemoryPair(MemoryConfig{Offload: true})
	defer a.Close()
	defer b.Close()
	if f := a.Offloads(); !f.TSO4 || !f.TSO6 || !f.Csum {
		t.Fatalf("offload link offers %+v", f)
	}
	frame, o := superFrame(false, make([]byte, 4000), 1, 0x18, 1460)
	if err := a.WriteOffload(frame, o); err != nil {
		t.Fatal(err)
	}
	bufs := [][]byte{make([]byte, MaxOffloadFrame)}
	sizes := make([]int, 1)
	meta := make([]Offload, 1)
	n, err := b.ReadBatchOffload(bufs, sizes, meta)
	if err != nil || n != 1 || sizes[0] != len(frame) || meta[0] != o {
		t.Fatalf("read %d frames (%v), size %d meta %+v; want the super-frame whole", n, err, sizes[0], meta[0])
	}

	// A plain reader never sees a super-frame.
	if err := a.WriteOffload(frame, o); err != nil {
		t.Fatal(err)
	}
	small, _ := superFrame(false, []byte("x"), 1, 0x18, 1460)
	if err := a.Write(small); err != nil {
		t.Fatal(err)
	}
	n, err = b.ReadBatch(bufs, sizes)
	if err != nil || n != 1 || sizes[0] != len(small) {
		t.Fatalf("plain read: %d frames (%v), size %d; want the small frame only", n, err, sizes[0])
	}
	if st := b.Stats(); st.DropsTooLong != 1 {
		t.Errorf("DropsTooLong = %d, want 1", st.DropsTooLong)
	}

	// With faults on, the link cuts it into packets the faults can drop.
	if err := a.SetFaults(Faults{Delay: time.Microsecond}); err != nil {
		t.Fatal(err)
	}
	if err := a.WriteOffload(frame, o); err != nil {
		t.Fatal(err)
	}
	got := 0
	for got < 3 {
		n, err := b.ReadBatchOffload(bufs, sizes, meta)
		if err != nil {
			t.Fatal(err)
		}
		for i := range n {
			if !meta[i].IsZero() || sizes[i] > 1514 {
				t.Fatalf("packet %d: %d bytes, meta %+v; want plain packets", got, sizes[i], meta[i])
			}
			verifyTCP(t, bufs[i][:sizes[i]])
			got++
		}
	}
}

func TestMemoryWithoutOffloadRefusesMetadata(t *testing.T) {
	a, b := NewMemoryPair(MemoryConfig{})
	defer a.Close()
	defer b.Close()
	frame, o := superFrame(false, make([]byte, 4000), 1, 0x18, 1460)
	if err := a.WriteOffload(frame, o); !errors.Is(err, ErrBadOffload) {
		t.Fatalf("WriteOffload on a plain link = %v, want ErrBadOffload", err)
	}
	if st := a.Stats(); st.DropsBadOffload != 1 {
		t.Errorf("DropsBadOffload = %d, want 1", st.DropsBadOffload)
	}
}

// FuzzOffload feeds arbitrary virtio-net headers and frames through the
// checks and the software segmentation: nothing may panic, and what comes
// out is a plain packet no longer than the MTU-bound piece it stands for.
func FuzzOffload(f *testing.F) {
	frame, o := superFrame(false, make([]byte, 3000), 1, 0x18, 1000)
	var h [VirtioNetHdrLen]byte
	EncodeVirtioNetHdr(h[:], o)
	f.Add(h[:], frame)
	frame6, o6 := superFrame(true, make([]byte, 100), 1, 0x18, 1000)
	EncodeVirtioNetHdr(h[:], o6)
	f.Add(h[:], frame6)
	f.Add([]byte{1, 1, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff}, frame)
	f.Fuzz(func(t *testing.T, hdr, frame []byte) {
		o, err := DecodeVirtioNetHdr(hdr)
		if err != nil {
			return
		}
		if o.Check(frame) != nil {
			return
		}
		cp := append([]byte(nil), frame...)
		_ = CompleteChecksum(cp, Offload{NeedsCsum: o.NeedsCsum, CsumStart: o.CsumStart, CsumOffset: o.CsumOffset})
		_, _ = Segment(frame, o, nil, func(p []byte) error {
			if len(p) > len(frame) {
				t.Fatalf("a %d-byte piece of a %d-byte frame", len(p), len(frame))
			}
			return nil
		})
	})
}
