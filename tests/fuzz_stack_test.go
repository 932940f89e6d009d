package tests

import (
	"context"
	"encoding/binary"
	"net/netip"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/actnet/actnet"
	"github.com/actnet/actnet/actors"
	"github.com/actnet/actnet/apps"
	"github.com/actnet/actnet/device"
	"github.com/actnet/actnet/internal/testhook"
	"github.com/actnet/actnet/layers/checksum"
)

// The input of FuzzStack is a sequence of records, each an operation byte,
// a big-endian 16-bit length and that many bytes:
//
//	op%4 == 0  inject the bytes as an Ethernet frame, as they are
//	op%4 == 1  inject them with the IPv4 header checksum and the TCP or UDP
//	           checksum fixed, so that mutations reach past the checks
//	op%4 == 2  as 1, and the TCP acknowledgment number taken as an offset
//	           from the stack's last SYN-ACK sequence number on that port
//	           plus one, so the peer can complete handshakes and talk to
//	           established connections
//	op%4 == 3  advance the stack's virtual clock by length × 10 ms
//
// The peer is the raw other end of a memory link. The stack serves echo on
// TCP port 7 and has a UDP socket on port 53.
const (
	fuzzOpRaw = iota
	fuzzOpFixed
	fuzzOpAck
	fuzzOpAdvance
)

var (
	fuzzStackMAC  = [6]byte{0x02, 0, 0, 0, 7, 1}
	fuzzPeerMAC   = [6]byte{0x02, 0, 0, 0, 7, 2}
	fuzzPeerIP    = [4]byte{10, 7, 0, 2}
	fuzzStackIP   = [4]byte{10, 7, 0, 1}
	fuzzStackAddr = netip.MustParsePrefix("10.7.0.1/24")
	fuzzEpoch     = time.Unix(1_700_000_000, 0)
)

// FuzzStack feeds frames from the fuzzer to a whole stack and checks after
// each input that no panic escaped or was contained (a layer's packet
// guard, a connection or app actor), that every frame the link took is
// counted as accepted or dropped by the Ethernet layer and every frame it
// passed up by the ARP or IPv4 layer, and that after Close every goroutine
// ended and every packet buffer came back to the pool.
func FuzzStack(f *testing.F) {
	// The committed corpus is testdata/fuzz/FuzzStack; these two keep the
	// target meaningful even without it.
	f.Add([]byte{})
	f.Add(fuzzRecord(fuzzOpAdvance, make([]byte, 0)))
	f.Fuzz(func(t *testing.T, in []byte) {
		runFuzzStack(t, in)
	})
}

func runFuzzStack(t *testing.T, in []byte) actnet.Stats {
	before := goroutines()
	da, db := device.NewMemoryPair(device.MemoryConfig{MACA: fuzzStackMAC[:], MACB: fuzzPeerMAC[:]})
	clock := actors.NewVirtualClock(fuzzEpoch)
	log := zerolog.Nop()
	s, err := actnet.New(actnet.Config{Device: da, IPv4: fuzzStackAddr, Logger: &log, Clock: clock})
	if err != nil {
		t.Fatal(err)
	}
	run := testhook.Running(s)
	closed := false
	defer func() {
		if !closed {
			s.Close()
			db.Close()
		}
	}()
	if _, err := s.Serve(7, apps.Echo()); err != nil {
		t.Fatal(err)
	}
	udp, err := s.ListenUDP(netip.AddrPortFrom(fuzzStackAddr.Addr(), 53))
	if err != nil {
		t.Fatal(err)
	}
	defer udp.Close()

	peer := &fuzzPeer{isn: map[uint16]uint32{}}
	readerDone := make(chan struct{})
	go peer.read(db, readerDone)

	idle := func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		// db too: the frames the stack sends must have reached the
		// peer's reader (which learns the ISNs that ack records use)
		// before the next record goes in.
		if err := actors.WaitIdle(ctx, run, da, db, clock); err != nil {
			t.Fatalf("stack never went idle: %v", err)
		}
	}
	injected := uint64(0)
	for rest := in; len(rest) >= 3; {
		op := rest[0] % 4
		n := int(binary.BigEndian.Uint16(rest[1:3]))
		rest = rest[3:]
		if op == fuzzOpAdvance {
			clock.Advance(time.Duration(n) * 10 * time.Millisecond)
			idle()
			continue
		}
		n = min(n, len(rest))
		frame := append([]byte(nil), rest[:n]...)
		rest = rest[n:]
		if op != fuzzOpRaw {
			peer.fix(frame, op == fuzzOpAck)
		}
		if err := db.Write(frame); err != nil {
			continue // a frame the link refuses (shorter than a header, longer than the MTU)
		}
		injected++
		idle()
	}
	idle()

	select {
	case <-s.Failed():
		t.Fatalf("the stack failed: %v", s.Err())
	default:
	}
	st := s.Stats()
	for _, v := range st.Values() {
		if strings.Contains(v.Name, "crash") && v.Value != 0 {
			t.Errorf("%s: %s = %d: a panic on input", v.Layer, v.Name, v.Value)
		}
	}
	// Frames the link took: read, or lost at the memory link's ring.
	if st.Link.FramesReceived > injected {
		t.Errorf("link: %d frames received, %d injected", st.Link.FramesReceived, injected)
	}
	e := st.Ethernet
	if got, want := e.FramesReceived, st.Link.FramesReceived-st.Link.RingFull; got != want {
		t.Errorf("ethernet: %d frames received, link passed %d", got, want)
	}
	ethDropped := e.Truncated + e.NotForUs + e.BadSource + e.UnknownType + e.VLAN + e.NoIPv6 + e.HandlerCrashes
	if got, want := st.ARP.PacketsReceived+st.IPv4.PacketsReceived+ethDropped, e.FramesReceived; got != want {
		t.Errorf("ethernet: %d frames received, but %d to ARP + %d to IPv4 + %d dropped = %d",
			want, st.ARP.PacketsReceived, st.IPv4.PacketsReceived, ethDropped, got)
	}

	udp.Close()
	s.Close()
	db.Close()
	closed = true
	<-readerDone
	if n := run.Env.Pool.Outstanding(); n != 0 {
		t.Errorf("%d packet buffers never returned to the pool", n)
	}
	deadline := time.Now().Add(5 * time.Second)
	for goroutines() > before {
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<20)
			t.Fatalf("goroutines: %d before, %d after Close:\n%s", before, goroutines(), buf[:runtime.Stack(buf, true)])
		}
		time.Sleep(time.Millisecond)
	}
	return st
}

// fuzzPeer is the raw end of the link: it drains what the stack sends and
// remembers the sequence number of its last SYN-ACK on each port.
type fuzzPeer struct {
	mu  sync.Mutex
	isn map[uint16]uint32 // by the peer's port
}

func (p *fuzzPeer) read(dev *device.Memory, done chan<- struct{}) {
	defer close(done)
	bufs, sizes := [][]byte{make([]byte, 2048)}, []int{0}
	for {
		n, err := dev.ReadBatch(bufs, sizes)
		if err != nil {
			return
		}
		if n != 1 {
			continue
		}
		f := bufs[0][:sizes[0]]
		// Ethernet, IPv4 without options, TCP with SYN and ACK.
		if len(f) < 14+20+20 || binary.BigEndian.Uint16(f[12:]) != 0x0800 || f[14]&0x0f != 5 || f[14+9] != 6 {
			continue
		}
		tcp := f[34:]
		if tcp[13]&0x12 == 0x12 {
			p.mu.Lock()
			p.isn[binary.BigEndian.Uint16(tcp[2:])] = binary.BigEndian.Uint32(tcp[4:])
			p.mu.Unlock()
		}
	}
}

// fix rewrites the checksums of an IPv4 frame (and with ack, the TCP
// acknowledgment number) in place; frames it cannot parse stay as they are.
func (p *fuzzPeer) fix(f []byte, ack bool) {
	if len(f) < 14+20 || binary.BigEndian.Uint16(f[12:]) != 0x0800 {
		return
	}
	ip := f[14:]
	ihl := int(ip[0]&0x0f) * 4
	total := int(binary.BigEndian.Uint16(ip[2:]))
	if ihl < 20 || len(ip) < ihl || total < ihl || total > len(ip) {
		return
	}
	ip[10], ip[11] = 0, 0
	binary.BigEndian.PutUint16(ip[10:], checksum.Checksum(ip[:ihl]))
	if binary.BigEndian.Uint16(ip[6:])&0x3fff != 0 {
		return // a fragment: its transport checksum covers the whole datagram
	}
	src, _ := netip.AddrFromSlice(ip[12:16])
	dst, _ := netip.AddrFromSlice(ip[16:20])
	l4 := ip[ihl:total]
	switch ip[9] {
	case 6:
		if len(l4) < 20 {
			return
		}
		if ack {
			p.mu.Lock()
			isn, ok := p.isn[binary.BigEndian.Uint16(l4[0:])]
			p.mu.Unlock()
			if ok {
				binary.BigEndian.PutUint32(l4[8:], isn+1+binary.BigEndian.Uint32(l4[8:]))
			}
		}
		l4[16], l4[17] = 0, 0
		binary.BigEndian.PutUint16(l4[16:], checksum.Fold(checksum.Sum(l4, checksum.PseudoHeaderSum(src, dst, 6, len(l4)))))
	case 17:
		if len(l4) < 8 {
			return
		}
		l4[6], l4[7] = 0, 0
		c := checksum.Fold(checksum.Sum(l4, checksum.PseudoHeaderSum(src, dst, 17, len(l4))))
		if c == 0 {
			c = 0xffff
		}
		binary.BigEndian.PutUint16(l4[6:], c)
	}
}

func fuzzRecord(op byte, data []byte) []byte {
	r := []byte{op, 0, 0}
	binary.BigEndian.PutUint16(r[1:], uint16(len(data)))
	return append(r, data...)
}

// TestFuzzStackCorpus runs the committed seed corpus (as FuzzStack does)
// and, with ACTNET_WRITE_FUZZ_CORPUS=1, writes it afresh first.
func TestFuzzStackCorpus(t *testing.T) {
	dir := filepath.Join("testdata", "fuzz", "FuzzStack")
	if os.Getenv("ACTNET_WRITE_FUZZ_CORPUS") == "1" {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		for name, in := range fuzzStackSeeds() {
			body := "go test fuzz v1\n[]byte(" + goQuote(in) + ")\n"
			if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) < len(fuzzStackSeeds()) {
		t.Fatalf("%d seeds in %s, want %d (ACTNET_WRITE_FUZZ_CORPUS=1 writes them)", len(entries), dir, len(fuzzStackSeeds()))
	}
	// The seeds reach the paths they are for.
	seeds := fuzzStackSeeds()
	for name, check := range map[string]func(st actnet.Stats) bool{
		"ping":          func(st actnet.Stats) bool { return st.ICMPv4.EchoRepliesSent == 1 },
		"tcp-echo":      func(st actnet.Stats) bool { return st.TCP.Established == 1 && st.TCP.ResetsSent == 0 },
		"udp":           func(st actnet.Stats) bool { return st.UDP.PacketsReceived == 2 && st.UDP.NoPort == 1 },
		"udp-fragments": func(st actnet.Stats) bool { return st.IPv4.Reassembled == 1 && st.UDP.NoPort == 0 },
	} {
		if st := runFuzzStack(t, seeds[name]); !check(st) {
			t.Errorf("seed %s did not do what it is for:\n%s", name, st)
		}
	}
}

// goQuote quotes b as a Go string literal with every byte escaped, the
// form the fuzzing engine reads back.
func goQuote(b []byte) string {
	var sb strings.Builder
	sb.WriteByte('"')
	for _, c := range b {
		sb.WriteString("\\x")
		sb.WriteByte("0123456789abcdef"[c>>4])
		sb.WriteByte("0123456789abcdef"[c&15])
	}
	sb.WriteByte('"')
	return sb.String()
}

// fuzzStackSeeds is the seed corpus: valid traffic of every kind the stack
// handles, as records (see FuzzStack).
func fuzzStackSeeds() map[string][]byte {
	arp := fuzzRecord(fuzzOpRaw, fuzzARPRequest())
	cat := func(rs ...[]byte) []byte {
		var b []byte
		for _, r := range rs {
			b = append(b, r...)
		}
		return b
	}
	syn := func(port uint16) []byte {
		// MSS, SACK permitted, timestamps, window scale.
		opts := []byte{2, 4, 0x05, 0xb4, 4, 2, 8, 10, 0, 0, 0, 1, 0, 0, 0, 0, 1, 3, 3, 7}
		return fuzzRecord(fuzzOpFixed, fuzzTCP(40000, port, 1000, 0, 0x02, opts, nil))
	}
	seg := func(seq, ack uint32, flags byte, data string) []byte {
		return fuzzRecord(fuzzOpAck, fuzzTCP(40000, 7, seq, ack, flags, nil, []byte(data)))
	}
	udp := func(port uint16, data string) []byte {
		return fuzzRecord(fuzzOpFixed, fuzzIPv4(17, 0, 0, fuzzUDP(5353, port, []byte(data))))
	}
	dgram := fuzzUDP(5353, 53, make([]byte, 40))
	return map[string][]byte{
		"arp-request": arp,
		"ping":        cat(arp, fuzzRecord(fuzzOpRaw, fuzzIPv4(1, 0, 0, fuzzEcho()))),
		"tcp-echo": cat(arp, syn(7), seg(1001, 0, 0x10, ""), seg(1001, 0, 0x18, "hello\n"),
			fuzzRecord(fuzzOpAdvance, make([]byte, 0)), seg(1007, 6, 0x11, ""), fuzzRecord(fuzzOpAdvance, []byte{}),
			fuzzRecord(fuzzOpAck, fuzzTCP(40000, 7, 1008, 7, 0x10, nil, nil))),
		"tcp-syn-closed-port": cat(arp, syn(9)),
		"tcp-ack-no-conn":     cat(arp, fuzzRecord(fuzzOpFixed, fuzzTCP(40001, 7, 5, 77, 0x10, nil, []byte("x")))),
		"tcp-rst-after-syn":   cat(arp, syn(7), seg(1001, 0, 0x04, "")),
		"tcp-syn-timeout":     cat(arp, syn(7), advance(3000), advance(60000)),
		"udp":                 cat(arp, udp(53, "query"), udp(54, "closed port")),
		"udp-fragments": cat(arp,
			fuzzRecord(fuzzOpFixed, fuzzIPv4(17, 0x2000, 0, dgram[:24])),
			fuzzRecord(fuzzOpFixed, fuzzIPv4(17, 0, 3, dgram[24:]))),
		"fragment-timeout": cat(arp, fuzzRecord(fuzzOpFixed, fuzzIPv4(17, 0x2000, 0, dgram[:24])), advance(4000)),
	}
}

// advance is a record that moves the clock by ms milliseconds (rounded
// down to 10 ms).
func advance(ms int) []byte {
	r := []byte{fuzzOpAdvance, 0, 0}
	binary.BigEndian.PutUint16(r[1:], uint16(ms/10))
	return r
}

func fuzzEthernet(typ uint16, payload []byte) []byte {
	f := make([]byte, 14, 14+len(payload))
	copy(f[0:6], fuzzStackMAC[:])
	copy(f[6:12], fuzzPeerMAC[:])
	binary.BigEndian.PutUint16(f[12:], typ)
	return append(f, payload...)
}

func fuzzARPRequest() []byte {
	a := make([]byte, 28)
	binary.BigEndian.PutUint16(a[0:], 1)      // Ethernet
	binary.BigEndian.PutUint16(a[2:], 0x0800) // IPv4
	a[4], a[5] = 6, 4
	binary.BigEndian.PutUint16(a[6:], 1) // request
	copy(a[8:], fuzzPeerMAC[:])
	copy(a[14:], fuzzPeerIP[:])
	copy(a[24:], fuzzStackIP[:])
	f := fuzzEthernet(0x0806, a)
	copy(f[0:6], []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff})
	return f
}

// fuzzIPv4 wraps payload in an Ethernet frame and an IPv4 header from the
// peer to the stack, with flags (DF 0x4000, MF 0x2000) and a fragment
// offset in 8-byte units.
func fuzzIPv4(proto byte, flags uint16, off uint16, payload []byte) []byte {
	ip := make([]byte, 20, 20+len(payload))
	ip[0] = 0x45
	binary.BigEndian.PutUint16(ip[2:], uint16(20+len(payload)))
	binary.BigEndian.PutUint16(ip[4:], 0x1234)
	binary.BigEndian.PutUint16(ip[6:], flags|off)
	ip[8], ip[9] = 64, proto
	copy(ip[12:], fuzzPeerIP[:])
	copy(ip[16:], fuzzStackIP[:])
	binary.BigEndian.PutUint16(ip[10:], checksum.Checksum(ip))
	return fuzzEthernet(0x0800, append(ip, payload...))
}

func fuzzEcho() []byte {
	m := []byte{8, 0, 0, 0, 0, 1, 0, 1, 'p', 'i', 'n', 'g'}
	binary.BigEndian.PutUint16(m[2:], checksum.Checksum(m))
	return m
}

func fuzzUDP(sport, dport uint16, data []byte) []byte {
	u := make([]byte, 8, 8+len(data))
	binary.BigEndian.PutUint16(u[0:], sport)
	binary.BigEndian.PutUint16(u[2:], dport)
	binary.BigEndian.PutUint16(u[4:], uint16(8+len(data)))
	u = append(u, data...)
	src, dst := netip.AddrFrom4(fuzzPeerIP), netip.AddrFrom4(fuzzStackIP)
	binary.BigEndian.PutUint16(u[6:], checksum.Fold(checksum.Sum(u, checksum.PseudoHeaderSum(src, dst, 17, len(u)))))
	return u
}

// fuzzTCP is a TCP segment in an IPv4 frame; its checksum is left for the
// record's fix-up.
func fuzzTCP(sport, dport uint16, seq, ack uint32, flags byte, opts, data []byte) []byte {
	t := make([]byte, 20, 20+len(opts)+len(data))
	binary.BigEndian.PutUint16(t[0:], sport)
	binary.BigEndian.PutUint16(t[2:], dport)
	binary.BigEndian.PutUint32(t[4:], seq)
	binary.BigEndian.PutUint32(t[8:], ack)
	t[12] = byte((20+len(opts))/4) << 4
	t[13] = flags
	binary.BigEndian.PutUint16(t[14:], 65535)
	t = append(append(t, opts...), data...)
	return fuzzIPv4(6, 0x4000, 0, t)
}
