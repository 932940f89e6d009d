package ethernet

import (
	"bytes"
	"net/netip"
	"testing"
)

// arpRequestFrame is a Linux ARP request ("who has 10.0.0.2? tell
// 10.0.0.1") as captured on a tap device, padded to 60 bytes.
var arpRequestFrame = []byte{
	0xff, 0xff, 0xff, 0xff, 0xff, 0xff, // dst broadcast
	0x02, 0x42, 0xac, 0x11, 0x00, 0x01, // src
	0x08, 0x06, // ARP
	0x00, 0x01, 0x08, 0x00, 0x06, 0x04, 0x00, 0x01,
	0x02, 0x42, 0xac, 0x11, 0x00, 0x01, 10, 0, 0, 1,
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 10, 0, 0, 2,
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, // padding
}

func TestFrameFixture(t *testing.T) {
	f, err := NewFrame(arpRequestFrame)
	if err != nil {
		t.Fatal(err)
	}
	if !f.Dst().IsBroadcast() || !f.Dst().IsMulticast() || f.Dst().IsUnicast() {
		t.Errorf("dst %v: want broadcast", f.Dst())
	}
	if got := f.Src().String(); got != "02:42:ac:11:00:01" {
		t.Errorf("src %s", got)
	}
	if !f.Src().IsUnicast() {
		t.Errorf("src should be unicast")
	}
	if f.EtherType() != ARP || f.EtherType().String() != "ARP" {
		t.Errorf("type %v", f.EtherType())
	}
	if len(f.Payload()) != 46 || f.Payload()[7] != 1 {
		t.Errorf("payload %x", f.Payload())
	}
	h := f.Header()
	var out [HeaderLen]byte
	h.Emit(out[:])
	if !bytes.Equal(out[:], arpRequestFrame[:HeaderLen]) {
		t.Errorf("re-emitted header %x", out)
	}
}

func TestNewFrameTruncated(t *testing.T) {
	for n := 0; n < HeaderLen; n++ {
		if _, err := NewFrame(make([]byte, n)); err != ErrTruncated {
			t.Fatalf("len %d: err %v", n, err)
		}
		if _, err := Parse(make([]byte, n)); err != ErrTruncated {
			t.Fatalf("Parse len %d: err %v", n, err)
		}
	}
	f, err := NewFrame(make([]byte, HeaderLen))
	if err != nil || len(f.Payload()) != 0 {
		t.Fatalf("header-only frame: %v %d", err, len(f.Payload()))
	}
}

func TestParseAddr(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want Addr
		ok   bool
	}{
		{"02:00:5e:10:00:01", Addr{2, 0, 0x5e, 0x10, 0, 1}, true},
		{"FF-FF-ff-ff-ff-FF", Broadcast, true},
		{"02:00:5e:10:00", Addr{}, false},
		{"02:00:5e:10:00:0g", Addr{}, false},
		{"02:00-5e:10:00:01", Addr{}, false},
		{"02.00.5e.10.00.01", Addr{}, false},
		{"", Addr{}, false},
	} {
		got, err := ParseAddr(tc.in)
		if (err == nil) != tc.ok || got != tc.want {
			t.Errorf("ParseAddr(%q) = %v, %v", tc.in, got, err)
		}
		if tc.ok {
			back, err := ParseAddr(got.String())
			if err != nil || back != got {
				t.Errorf("round trip of %v failed", got)
			}
		}
	}
}

func TestAddrClasses(t *testing.T) {
	zero := Addr{}
	if zero.IsUnicast() || zero.IsMulticast() || !zero.IsZero() {
		t.Error("zero address classes")
	}
	mc := Addr{0x01, 0x00, 0x5e, 0, 0, 1}
	if !mc.IsMulticast() || mc.IsUnicast() || mc.IsBroadcast() {
		t.Error("multicast address classes")
	}
}

func TestMulticastMapping(t *testing.T) {
	got := MulticastAddrForIPv6(netip.MustParseAddr("ff02::1:ff12:3456"))
	if want := (Addr{0x33, 0x33, 0xff, 0x12, 0x34, 0x56}); got != want {
		t.Errorf("IPv6 solicited-node: %v", got)
	}
	got = MulticastAddrForIPv4(netip.MustParseAddr("224.129.2.3"))
	if want := (Addr{0x01, 0x00, 0x5e, 0x01, 0x02, 0x03}); got != want {
		t.Errorf("IPv4 group: %v", got)
	}
	_ = MulticastAddrForIPv4(netip.Addr{})
	_ = MulticastAddrForIPv6(netip.Addr{})
}

func TestEtherTypeString(t *testing.T) {
	for typ, want := range map[EtherType]string{IPv4: "IPv4", IPv6: "IPv6", VLAN: "VLAN", 0x88cc: "0x88cc", 0: "0x0000"} {
		if got := typ.String(); got != want {
			t.Errorf("%d: %q want %q", uint16(typ), got, want)
		}
	}
}

func TestRoundTrip(t *testing.T) {
	h := Header{Dst: Addr{1, 2, 3, 4, 5, 6}, Src: Addr{2, 3, 4, 5, 6, 7}, Type: IPv6}
	b := make([]byte, h.Len()+3)
	h.Emit(b)
	got, err := Parse(b)
	if err != nil || got != h {
		t.Fatalf("got %+v, %v", got, err)
	}
}

func TestZeroAllocs(t *testing.T) {
	var out [HeaderLen]byte
	allocs := testing.AllocsPerRun(100, func() {
		f, err := NewFrame(arpRequestFrame)
		if err != nil {
			t.Fatal(err)
		}
		_, _, _, _ = f.Dst(), f.Src(), f.EtherType(), f.Payload()
		f.Header().Emit(out[:])
	})
	if allocs != 0 {
		t.Fatalf("%v allocations", allocs)
	}
}

func FuzzFrame(f *testing.F) {
	f.Add(arpRequestFrame)
	f.Add(make([]byte, HeaderLen))
	f.Add([]byte{1, 2, 3})
	f.Fuzz(func(t *testing.T, b []byte) {
		fr, err := NewFrame(b)
		if err != nil {
			if len(b) >= HeaderLen {
				t.Fatalf("rejected %d-byte frame: %v", len(b), err)
			}
			return
		}
		h := fr.Header()
		out := make([]byte, h.Len())
		h.Emit(out)
		if !bytes.Equal(out, b[:HeaderLen]) {
			t.Fatalf("round trip: %x != %x", out, b[:HeaderLen])
		}
		if len(fr.Payload()) != len(b)-HeaderLen {
			t.Fatal("payload length")
		}
		_ = fr.EtherType().String()
		_ = fr.Src().String()
	})
}
