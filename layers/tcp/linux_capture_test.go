package tcp

import (
	"encoding/hex"
	"net/netip"
	"testing"
)

// A SYN and its SYN-ACK as Linux sent them, whole Ethernet frames. They
// were captured with tcpdump on a veth pair between two network namespaces
// (192.0.2.1, the client, and 192.0.2.2, the server, listening with nc on
// port 5555; transmit checksum offload turned off on both ends, so the
// frames carry the checksums Linux computed), then deleted. The client
// connected with Python's socket.create_connection.
//
//	192.0.2.1.46628 > 192.0.2.2.5555: Flags [S], cksum 0x5101 (correct), seq 3910128401,
//	  win 64240, options [mss 1460,sackOK,TS val 1435736698 ecr 0,nop,wscale 10]
//	192.0.2.2.5555 > 192.0.2.1.46628: Flags [S.], cksum 0x7e74 (correct), seq 942816572,
//	  ack 3910128402, win 65160, options [mss 1460,sackOK,TS val 3186006926 ecr 1435736698,nop,wscale 10]
const (
	linuxSYN = "" +
		"76a258e4405886e033bb850308004500" +
		"003c7d8e40004006392ac0000201c000" +
		"0202b62415b3e90fd31100000000a002" +
		"faf051010000020405b40402080a5593" +
		"9a7a000000000103030a"
	linuxSYNACK = "" +
		"86e033bb850376a258e4405808004500" +
		"003c000040004006b6b8c0000202c000" +
		"020115b3b62438323d3ce90fd312a012" +
		"fe887e740000020405b40402080abde6" +
		"9b8e55939a7a0103030a"
)

// linuxSegment decodes one captured frame and returns its TCP segment's
// bytes with the IP addresses it came with. It checks the Ethernet and IP
// framing by hand: this package imports neither layer.
func linuxSegment(t *testing.T, frame string) (seg []byte, src, dst netip.Addr) {
	t.Helper()
	b, err := hex.DecodeString(frame)
	if err != nil {
		t.Fatal(err)
	}
	if len(b) != 74 || b[12] != 0x08 || b[13] != 0x00 {
		t.Fatalf("not a 74-byte IPv4 frame: % x", b)
	}
	ip := b[14:]
	if ip[0] != 0x45 || ip[9] != ProtocolNumber || int(ip[2])<<8|int(ip[3]) != len(ip) {
		t.Fatalf("not a bare IPv4 header carrying TCP: % x", ip[:20])
	}
	return ip[20:], netip.AddrFrom4([4]byte(ip[12:16])), netip.AddrFrom4([4]byte(ip[16:20]))
}

func TestLinuxSYN(t *testing.T) {
	b, src, dst := linuxSegment(t, linuxSYN)
	s, err := NewSegment(b)
	if err != nil {
		t.Fatalf("NewSegment: %v", err)
	}
	want := Header{
		SrcPort: 46628, DstPort: 5555,
		Seq: 3910128401, Ack: 0,
		Flags:  FlagSYN,
		Window: 64240,
		Options: Options{
			HasMSS: true, MSS: 1460,
			SACKPermitted: true,
			HasTimestamps: true, TSVal: 1435736698, TSEcr: 0,
			HasWindowScale: true, WindowScale: 10,
		},
	}
	checkLinuxSegment(t, &s, want, 40, 0x5101, src, dst)
}

func TestLinuxSYNACK(t *testing.T) {
	b, src, dst := linuxSegment(t, linuxSYNACK)
	s, err := NewSegment(b)
	if err != nil {
		t.Fatalf("NewSegment: %v", err)
	}
	want := Header{
		SrcPort: 5555, DstPort: 46628,
		Seq: 942816572, Ack: 3910128402, // the SYN's sequence number plus one
		Flags:  FlagSYN | FlagACK,
		Window: 65160,
		Options: Options{
			HasMSS: true, MSS: 1460,
			SACKPermitted: true,
			HasTimestamps: true, TSVal: 3186006926, TSEcr: 1435736698, // echoes the SYN's TSval
			HasWindowScale: true, WindowScale: 10,
		},
	}
	checkLinuxSegment(t, &s, want, 40, 0x7e74, src, dst)
}

func checkLinuxSegment(t *testing.T, s *Segment, want Header, headerLen int, sum uint16, src, dst netip.Addr) {
	t.Helper()
	if got := s.Header(); got != want {
		t.Errorf("header\n got %+v\nwant %+v", got, want)
	}
	if got := s.HeaderLen(); got != headerLen {
		t.Errorf("header length %d, want %d", got, headerLen)
	}
	if len(s.Payload()) != 0 || s.Len() != 1 {
		t.Errorf("payload %d bytes, SEG.LEN %d; want 0 and 1 (the SYN)", len(s.Payload()), s.Len())
	}
	if s.Urgent() != 0 {
		t.Errorf("urgent pointer %d", s.Urgent())
	}
	if got := s.Checksum(); got != sum {
		t.Errorf("checksum field %#04x, want %#04x", got, sum)
	}
	if !s.VerifyChecksumAddrs(src, dst) {
		t.Errorf("checksum with the pseudo-header of %v > %v does not verify", src, dst)
	}
	// The pseudo-header matters: the same bytes from another address fail.
	if s.VerifyChecksumAddrs(netip.MustParseAddr("192.0.2.3"), dst) {
		t.Error("checksum verifies with the wrong source address")
	}
	// So does every byte: flip one bit in the timestamp option.
	b := append([]byte(nil), s.Bytes()...)
	b[30] ^= 0x01
	bad, err := NewSegment(b)
	if err != nil {
		t.Fatalf("NewSegment of the altered segment: %v", err)
	}
	if bad.VerifyChecksumAddrs(src, dst) {
		t.Error("checksum verifies after a bit of the segment flipped")
	}
}
