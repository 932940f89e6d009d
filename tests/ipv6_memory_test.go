package tests

import (
	"bytes"
	"context"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/actnet/actnet"
	"github.com/actnet/actnet/device"
)

var (
	macA6 = net.HardwareAddr{0x02, 0, 0, 0, 0, 0x01}
	macB6 = net.HardwareAddr{0x02, 0, 0, 0, 0, 0x02}
	llA   = netip.MustParseAddr("fe80::ff:fe00:1")
	llB   = netip.MustParseAddr("fe80::ff:fe00:2")
	v6A   = netip.MustParsePrefix("2001:db8::1/64")
	v6B   = netip.MustParsePrefix("2001:db8::2/64")
)

// newStack6 starts a stack with an IPv6 configuration.
func newStack6(t testing.TB, dev device.Device, addr netip.Prefix, v6 actnet.IPv6Config) *actnet.Stack {
	t.Helper()
	s, err := actnet.New(actnet.Config{Device: dev, IPv4: addr, IPv6: v6, Logger: testLogger(t)})
	if err != nil {
		t.Fatalf("actnet.New: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// pair6 starts two stacks on a memory link with fixed MACs (so their
// EUI-64 link-local addresses are llA and llB) and waits until each has a
// usable IPv6 address (a global one when static).
func pair6(t testing.TB, static bool) (a, b *actnet.Stack, da, db *device.Memory) {
	t.Helper()
	return pair6With(t, static, device.MemoryConfig{})
}

// pair6With is pair6 on a memory link configured by cfg (its MACs
// replaced by macA6 and macB6).
func pair6With(t testing.TB, static bool, cfg device.MemoryConfig) (a, b *actnet.Stack, da, db *device.Memory) {
	t.Helper()
	cfg.MACA, cfg.MACB = macA6, macB6
	da, db = device.NewMemoryPair(cfg)
	ca, cb := actnet.IPv6Config{}, actnet.IPv6Config{}
	if static {
		ca = actnet.IPv6Config{Mode: actnet.IPv6Static, Addr: v6A}
		cb = actnet.IPv6Config{Mode: actnet.IPv6Static, Addr: v6B}
	}
	a, b = newStack6(t, da, addrA, ca), newStack6(t, db, addrB, cb)
	for _, s := range []*actnet.Stack{a, b} {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		got, err := s.WaitIPv6(ctx, static)
		cancel()
		if err != nil {
			t.Fatalf("WaitIPv6: %v (addresses %v)", err, s.IPv6Addrs())
		}
		if static && got != v6A.Addr() && got != v6B.Addr() {
			t.Fatalf("WaitIPv6(global) = %v", got)
		}
		if static {
			eventually(t, 5*time.Second, "the link-local address too", func() bool { return len(s.IPv6Addrs()) == 2 })
		}
	}
	return a, b, da, db
}

func TestIPv6LinkLocalPing(t *testing.T) {
	a, b, _, _ := pair6(t, false)
	if got := a.IPv6Addrs(); len(got) != 1 || got[0] != netip.PrefixFrom(llA, 64) {
		t.Fatalf("a's addresses %v, want [%v/64]", got, llA)
	}
	for _, c := range []struct {
		from *actnet.Stack
		to   netip.Addr
	}{{a, llB}, {b, llA}, {a, llA}} {
		for _, size := range []int{0, 56, 1452, 5000} {
			if _, err := ping(c.from, c.to, size, 3*time.Second); err != nil {
				t.Fatalf("ping6 %v size %d: %v", c.to, size, err)
			}
		}
	}
	if st := a.Stats(); st.IPv6.DADSent == 0 || st.IPv6.MLDReportsSent == 0 || st.IPv6.RouterSolicitsSent == 0 {
		t.Errorf("a sent %d DAD, %d MLD, %d RS; want each > 0", st.IPv6.DADSent, st.IPv6.MLDReportsSent, st.IPv6.RouterSolicitsSent)
	}
}

func TestIPv6StaticPingTCPUDP(t *testing.T) {
	a, b, _, _ := pair6(t, true)
	if _, err := ping(a, v6B.Addr(), 56, 3*time.Second); err != nil {
		t.Fatalf("ping6 a->b: %v", err)
	}
	if _, err := ping(b, v6A.Addr(), 3000, 3*time.Second); err != nil {
		t.Fatalf("ping6 b->a: %v", err)
	}
	// One listener serves both families.
	l, err := b.Listen("tcp", ":9000")
	if err != nil {
		t.Fatal(err)
	}
	echoServer(t, l)
	data := randomBytes(1 << 20)
	echoRoundTrip(t, a, netip.AddrPortFrom(v6B.Addr(), 9000), data, 20*time.Second)
	echoRoundTrip(t, a, netip.AddrPortFrom(addrB.Addr(), 9000), data[:100000], 20*time.Second)
	echoRoundTrip(t, a, netip.AddrPortFrom(llB, 9000), data[:100000], 20*time.Second)
	c, err := a.Dial("tcp6", "[2001:db8::2]:9000")
	if err != nil {
		t.Fatalf("Dial tcp6: %v", err)
	}
	if la := c.LocalAddr().(*net.TCPAddr).AddrPort().Addr(); la != v6A.Addr() {
		t.Errorf("local address %v, want %v", la, v6A.Addr())
	}
	c.Close()

	srv, err := b.ListenPacket("udp", "[::]:7")
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	udpEchoServer(t, srv)
	uc, err := a.Dial("udp6", "[2001:db8::2]:7")
	if err != nil {
		t.Fatal(err)
	}
	defer uc.Close()
	buf := make([]byte, 70000)
	for _, size := range []int{1, 1232, 1233, 1452, 1453, 3000, 8000, 20000} {
		want := pattern(size, byte(size))
		if _, err := uc.Write(want); err != nil {
			t.Fatalf("write %d: %v", size, err)
		}
		uc.SetReadDeadline(time.Now().Add(3 * time.Second))
		n, err := uc.Read(buf)
		if err != nil || !bytes.Equal(buf[:n], want) {
			t.Fatalf("udp6 echo of %d bytes: %d back, %v", size, n, err)
		}
	}
	if st := a.Stats().IPv6; st.Fragmented == 0 || st.Reassembled == 0 {
		t.Errorf("a fragmented %d, reassembled %d; want both > 0", st.Fragmented, st.Reassembled)
	}
	if mtu := a.PathMTU(v6B.Addr()); mtu != 1500 {
		t.Errorf("PathMTU = %d, want 1500", mtu)
	}
}
