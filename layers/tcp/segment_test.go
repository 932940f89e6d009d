package tcp

import (
	"bytes"
	"errors"
	"net/netip"
	"testing"
)

var (
	addr4a = netip.MustParseAddr("192.0.2.1")
	addr4b = netip.MustParseAddr("198.51.100.7")
	addr6a = netip.MustParseAddr("2001:db8::1")
	addr6b = netip.MustParseAddr("2001:db8::2")
)

// naiveChecksum is an obviously correct RFC 1071 checksum over an explicit
// pseudo-header, to check the fast path against.
func naiveChecksum(src, dst netip.Addr, seg []byte) uint16 {
	var ph []byte
	if src.Is4() {
		a, b := src.As4(), dst.As4()
		ph = append(append(ph, a[:]...), b[:]...)
		ph = append(ph, 0, 6, byte(len(seg)>>8), byte(len(seg)))
	} else {
		a, b := src.As16(), dst.As16()
		ph = append(append(ph, a[:]...), b[:]...)
		ph = append(ph, byte(len(seg)>>24), byte(len(seg)>>16), byte(len(seg)>>8), byte(len(seg)), 0, 0, 0, 6)
	}
	all := append(ph, seg...)
	if len(all)%2 == 1 {
		all = append(all, 0)
	}
	var s uint32
	for i := 0; i < len(all); i += 2 {
		s += uint32(all[i])<<8 | uint32(all[i+1])
	}
	for s > 0xffff {
		s = s>>16 + s&0xffff
	}
	return ^uint16(s)
}

func fullHeader() Header {
	h := Header{
		SrcPort: 40000, DstPort: 80,
		Seq: 0xfffffff0, Ack: 12345,
		Flags:  FlagSYN | FlagACK,
		Window: 65535, Urgent: 0,
	}
	h.Options.HasMSS, h.Options.MSS = true, 1460
	h.Options.HasWindowScale, h.Options.WindowScale = true, 7
	h.Options.SACKPermitted = true
	h.Options.HasTimestamps, h.Options.TSVal, h.Options.TSEcr = true, 0xdeadbeef, 42
	return h
}

func TestHeaderRoundTrip(t *testing.T) {
	for _, addrs := range [][2]netip.Addr{{addr4a, addr4b}, {addr6a, addr6b}} {
		for _, payload := range [][]byte{nil, []byte("x"), []byte("hello, world")} {
			h := fullHeader()
			buf := make([]byte, 100)
			n, err := h.Emit(buf, payload, addrs[0], addrs[1])
			if err != nil {
				t.Fatal(err)
			}
			if n != h.Len()+len(payload) || h.Len() != 20+4+4+4+12 {
				t.Fatalf("n=%d len=%d", n, h.Len())
			}
			seg, err := NewSegment(buf[:n])
			if err != nil {
				t.Fatal(err)
			}
			if got := seg.Header(); got != h {
				t.Fatalf("round trip:\n got %+v\nwant %+v", got, h)
			}
			if !bytes.Equal(seg.Payload(), payload) {
				t.Fatalf("payload %q", seg.Payload())
			}
			if seg.Len() != len(payload)+1 {
				t.Fatalf("SEG.LEN %d", seg.Len())
			}
			if !seg.VerifyChecksumAddrs(addrs[0], addrs[1]) {
				t.Fatal("checksum does not verify")
			}
			saved := seg.Checksum()
			buf[16], buf[17] = 0, 0
			if want := naiveChecksum(addrs[0], addrs[1], buf[:n]); want != saved {
				t.Fatalf("checksum %#x, naive %#x", saved, want)
			}
			buf[16], buf[17] = byte(saved>>8), byte(saved)
			buf[n-1] ^= 0x40
			if seg.VerifyChecksumAddrs(addrs[0], addrs[1]) {
				t.Fatal("corrupted segment verifies")
			}
		}
	}
}

func TestSACKRoundTrip(t *testing.T) {
	h := Header{Flags: FlagACK}
	h.Options.HasTimestamps = true
	h.Options.NumSACK = 3
	h.Options.SACK[0] = SACKBlock{1, 2}
	h.Options.SACK[1] = SACKBlock{0xfffffff0, 5}
	h.Options.SACK[2] = SACKBlock{100, 200}
	buf := make([]byte, MaxHeaderLen)
	n, err := h.Emit(buf, nil, addr4a, addr4b)
	if err != nil || n != 20+12+4+24 {
		t.Fatal(n, err)
	}
	seg, err := NewSegment(buf[:n])
	if err != nil {
		t.Fatal(err)
	}
	if got := seg.Options().SACKBlocks(); len(got) != 3 || got[1] != h.Options.SACK[1] {
		t.Fatalf("sack %v", got)
	}
	h.Options.NumSACK = 4
	if _, err := h.Emit(buf, nil, addr4a, addr4b); err != ErrOptionsTooLong {
		t.Fatalf("48 bytes of options: %v", err)
	}
	h.Options.HasTimestamps = false
	if _, err := h.Emit(buf[:30], nil, addr4a, addr4b); err != ErrBufferTooSmall {
		t.Fatalf("short buffer: %v", err)
	}
}

// rawSegment builds a 20-byte header followed by opts (padded by the caller)
// with the data offset covering them.
func rawSegment(opts []byte, payload []byte) []byte {
	b := make([]byte, 20, 20+len(opts)+len(payload))
	b[12] = byte((20+len(opts))/4) << 4
	b = append(b, opts...)
	return append(b, payload...)
}

func TestNewSegmentErrors(t *testing.T) {
	cases := []struct {
		name string
		b    []byte
		err  error
	}{
		{"empty", nil, ErrTruncated},
		{"19 bytes", make([]byte, 19), ErrTruncated},
		{"offset 4", func() []byte { b := make([]byte, 20); b[12] = 4 << 4; return b }(), ErrDataOffset},
		{"offset past end", func() []byte { b := make([]byte, 20); b[12] = 6 << 4; return b }(), ErrDataOffset},
	}
	for _, c := range cases {
		_, err := NewSegment(c.b)
		if err != c.err {
			t.Errorf("%s: got %v want %v", c.name, err, c.err)
		}
		var pe ParseError
		if !errors.As(err, &pe) || int(pe) >= NumParseErrors || pe.Error() == "" {
			t.Errorf("%s: not a ParseError: %v", c.name, err)
		}
	}
}

// Malformed options never reject a segment: as Linux's tcp_parse_options,
// parsing stops at a length below two or one running past the header
// (keeping what came before), and skips a known option of the wrong
// length. Options.Malformed says what was wrong.
func TestMalformedOptionsStopParsing(t *testing.T) {
	mss := []byte{2, 4, 0x05, 0xb4} // MSS 1460, well formed
	cases := []struct {
		name    string
		opts    []byte
		bad     ParseError
		wantMSS bool
		wantWS  bool
	}{
		{"kind without length", append(append([]byte{}, mss...), 1, 1, 1, 2), ErrOptionTruncated, true, false},
		{"length zero", append(append([]byte{}, mss...), 99, 0, 3, 3), ErrOptionLength, true, false},
		{"length one", append(append([]byte{}, mss...), 99, 1, 0, 0), ErrOptionLength, true, false},
		{"length zero before MSS", append([]byte{99, 0, 0, 0}, mss...), ErrOptionLength, false, false},
		{"runs past header", append(append([]byte{}, mss...), 99, 8, 0, 0), ErrOptionTruncated, true, false},
		{"mss 3 skipped", []byte{2, 3, 0, 1, 3, 3, 7, 0}, ErrMSSOption, false, true},
		{"mss 5", []byte{2, 5, 0, 0, 0, 1, 3, 3, 7, 0, 0, 0}, ErrMSSOption, false, true},
		{"wscale 4", append([]byte{3, 4, 0, 0}, mss...), ErrWindowScaleOption, true, false},
		{"sackok 3", []byte{4, 3, 0, 2, 4, 5, 0xb4, 0}, ErrSACKPermittedOption, true, false},
		{"sack 2", append([]byte{5, 2, 1, 1}, mss...), ErrSACKOption, true, false},
		{"sack 9", append([]byte{5, 9, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}, mss...), ErrSACKOption, false, false},
		{"ts 8", append([]byte{8, 8, 0, 0, 0, 0, 0, 0}, mss...), ErrTimestampsOption, true, false},
		{"well formed", append(append([]byte{}, mss...), 1, 3, 3, 7), 0, true, true},
	}
	for _, c := range cases {
		seg, err := NewSegment(rawSegment(c.opts, []byte("data")))
		if err != nil {
			t.Errorf("%s: rejected: %v", c.name, err)
			continue
		}
		o := seg.Options()
		if o.Malformed != c.bad {
			t.Errorf("%s: Malformed = %v, want %v", c.name, o.Malformed, c.bad)
		}
		if o.HasMSS != c.wantMSS || (c.wantMSS && o.MSS != 1460) {
			t.Errorf("%s: MSS %v/%d, want present=%v", c.name, o.HasMSS, o.MSS, c.wantMSS)
		}
		if o.HasWindowScale != c.wantWS || (c.wantWS && o.WindowScale != 7) {
			t.Errorf("%s: window scale %v/%d, want present=%v", c.name, o.HasWindowScale, o.WindowScale, c.wantWS)
		}
		if string(seg.Payload()) != "data" {
			t.Errorf("%s: payload %q", c.name, seg.Payload())
		}
	}
}

func TestOptionsLenient(t *testing.T) {
	// Unknown options are skipped, End stops parsing even before garbage,
	// and a valid SYN option list parses.
	b := rawSegment([]byte{
		254, 6, 1, 2, 3, 4, // experimental, skipped
		1,                // NOP
		2, 4, 0x05, 0xb4, // MSS 1460
		3, 3, 20, // window scale 20 (clamped later, not here)
		0, 0xff, 0xff, 0xff, 0xff, 0xff, // End, then garbage that must be ignored
	}, []byte("data"))
	seg, err := NewSegment(b)
	if err != nil {
		t.Fatal(err)
	}
	o := seg.Options()
	if !o.HasMSS || o.MSS != 1460 || !o.HasWindowScale || o.WindowScale != 20 || o.SACKPermitted || o.HasTimestamps {
		t.Fatalf("options %+v", *o)
	}
	if string(seg.Payload()) != "data" {
		t.Fatalf("payload %q", seg.Payload())
	}
}

func TestParseAllocs(t *testing.T) {
	h := fullHeader()
	buf := make([]byte, 100)
	n, _ := h.Emit(buf, []byte("abc"), addr4a, addr4b)
	var sink Seq
	allocs := testing.AllocsPerRun(100, func() {
		seg, err := NewSegment(buf[:n])
		if err != nil || !seg.VerifyChecksumAddrs(addr4a, addr4b) {
			panic("bad")
		}
		sink += seg.Seq()
	})
	if allocs != 0 {
		t.Fatalf("parse allocates %v times", allocs)
	}
	_, err := NewSegment(buf[:5])
	allocs = testing.AllocsPerRun(100, func() { _, err = NewSegment(buf[:5]) })
	if allocs != 0 || err == nil {
		t.Fatalf("rejecting allocates %v times", allocs)
	}
}

func TestFlagsString(t *testing.T) {
	if s := (FlagSYN | FlagACK).String(); s != "SA" {
		t.Fatal(s)
	}
	if s := Flags(0).String(); s != "." {
		t.Fatal(s)
	}
}

func BenchmarkNewSegment(b *testing.B) {
	h := fullHeader()
	buf := make([]byte, 1500)
	n, _ := h.Emit(buf, make([]byte, 1400), addr4a, addr4b)
	b.ReportAllocs()
	b.SetBytes(int64(n))
	for b.Loop() {
		seg, err := NewSegment(buf[:n])
		if err != nil || !seg.VerifyChecksumAddrs(addr4a, addr4b) {
			b.Fatal("bad")
		}
	}
}
