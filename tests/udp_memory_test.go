package tests

import (
	"bytes"
	"context"
	"errors"
	"net"
	"net/netip"
	"os"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/actnet/actnet"
	"github.com/actnet/actnet/actors"
	"github.com/actnet/actnet/device"
	"github.com/actnet/actnet/internal/testhook"
)

// udpEchoServer echoes every datagram on c back to its sender until c is
// closed.
func udpEchoServer(t *testing.T, c net.PacketConn) {
	t.Helper()
	go func() {
		buf := make([]byte, 65536)
		for {
			n, from, err := c.ReadFrom(buf)
			if err != nil {
				return
			}
			if _, err := c.WriteTo(buf[:n], from); err != nil {
				t.Errorf("echo write: %v", err)
				return
			}
		}
	}()
}

func pattern(n int, seed byte) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i*7) + seed
	}
	return b
}

// TestUDPEchoSizes echoes datagrams from 1 byte to the IPv4 maximum
// between two stacks: the larger ones are fragmented and reassembled both
// ways and must come back intact.
func TestUDPEchoSizes(t *testing.T) {
	a, b, _, _ := pair(t, device.MemoryConfig{})
	srv, err := b.ListenPacket("udp", ":7")
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	udpEchoServer(t, srv)

	c, err := a.DialUDP(context.Background(), netip.AddrPort{}, netip.AddrPortFrom(b.Addr(), 7))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if la := c.LocalAddr().(*net.UDPAddr); la.Port < 49152 || !la.IP.Equal(net.IP(a.Addr().AsSlice())) {
		t.Errorf("local address %v: want the stack's address and an ephemeral port", la)
	}
	buf := make([]byte, 70000)
	for i, size := range []int{1, 1472, 1473, 3000, 8000, 30000, 65507} {
		want := pattern(size, byte(i))
		if _, err := c.Write(want); err != nil {
			t.Fatalf("write %d bytes: %v", size, err)
		}
		c.SetReadDeadline(time.Now().Add(3 * time.Second))
		n, err := c.Read(buf)
		if err != nil {
			t.Fatalf("read back %d bytes: %v", size, err)
		}
		if !bytes.Equal(buf[:n], want) {
			t.Fatalf("%d-byte datagram came back as %d bytes, not intact", size, n)
		}
	}
	if _, err := c.Write(make([]byte, 65508)); !errors.Is(err, syscall.EMSGSIZE) {
		t.Fatalf("65508-byte write: %v, want EMSGSIZE", err)
	}
	// b counts a datagram sent once its send returned, which may be after
	// the reply reached a: wait for the count rather than read it once.
	eventually(t, 2*time.Second, "b's udp counters to reach 7 and 7", func() bool {
		st := b.Stats().UDP
		return st.PacketsReceived == 7 && st.PacketsSent == 7
	})
	if st := b.Stats().UDP; st.PacketsReceived != 7 || st.PacketsSent != 7 {
		t.Errorf("b's udp counters: %d received, %d sent; want 7 and 7", st.PacketsReceived, st.PacketsSent)
	}
}

// TestUDPEchoWithLoss echoes through a lossy, reordering link: lost
// fragments cost whole datagrams, which are counted, and nothing hangs.
func TestUDPEchoWithLoss(t *testing.T) {
	faults := device.Faults{Seed: 11, DropPercent: 5, ReorderPercent: 10, DuplicatePercent: 2}
	da, db := device.NewMemoryPair(device.MemoryConfig{FaultsAToB: faults})
	// A virtual clock lets the test jump past the reassembly timeout.
	clock := actors.NewVirtualClock(time.Now())
	start := func(dev device.Device, addr netip.Prefix) *actnet.Stack {
		s, err := actnet.New(actnet.Config{Device: dev, IPv4: addr, Logger: testLogger(t), Clock: clock})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	}
	a, b := start(da, addrA), start(db, addrB)
	srv, err := b.ListenUDP(netip.AddrPortFrom(netip.Addr{}, 7))
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	udpEchoServer(t, srv)
	c, err := a.DialUDP(context.Background(), netip.AddrPort{}, netip.AddrPortFrom(b.Addr(), 7))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	buf := make([]byte, 70000)
	ok := 0
	const n = 60
	for i := range n {
		want := pattern(8000, byte(i))
		if _, err := c.Write(want); err != nil {
			t.Fatal(err)
		}
		c.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
		for {
			m, err := c.Read(buf)
			if errors.Is(err, os.ErrDeadlineExceeded) {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
			if bytes.Equal(buf[:m], want) {
				ok++
				break
			}
			// A duplicate of an earlier echo: read on.
		}
	}
	if ok == 0 || ok == n {
		t.Fatalf("%d of %d echoes; want some lost at 5%% loss of 6 fragments each", ok, n)
	}
	// Every datagram that lost a fragment waits in reassembly until it
	// times out (30 s at most), then is counted.
	clock.Advance(31 * time.Second)
	eventually(t, 5*time.Second, "the incomplete datagrams to time out", func() bool {
		return b.Stats().IPv4.ReassemblyTimedOut > 0
	})
	timedOut := b.Stats().IPv4.ReassemblyTimedOut
	// A duplicate fragment arriving after its datagram completed starts
	// a new one that never completes, so duplicates count too.
	if limit := uint64(n-ok) + da.FaultStats().Duplicated; timedOut > limit {
		t.Errorf("%d datagrams timed out, but only %d were lost or duplicated", timedOut, limit)
	}
	t.Logf("%d of %d echoed; %d incomplete datagrams timed out; link drops %+v", ok, n, timedOut, da.FaultStats())
}

// TestUDPPortUnreachable: a datagram to a closed port draws ICMP port
// unreachable, and the connected socket's next read fails with connection
// refused; an unconnected socket is not told.
func TestUDPPortUnreachable(t *testing.T) {
	a, b, _, _ := pair(t, device.MemoryConfig{})
	c, err := a.DialUDP(context.Background(), netip.AddrPort{}, netip.AddrPortFrom(b.Addr(), 9999))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Write([]byte("anyone?")); err != nil {
		t.Fatal(err)
	}
	c.SetReadDeadline(time.Now().Add(3 * time.Second))
	_, err = c.Read(make([]byte, 100))
	if !errors.Is(err, syscall.ECONNREFUSED) {
		t.Fatalf("read after port unreachable: %v, want ECONNREFUSED", err)
	}
	var opErr *net.OpError
	if !errors.As(err, &opErr) || opErr.Op != "read" {
		t.Errorf("error %T %v is not a read *net.OpError", err, err)
	}
	// Reported once: the socket keeps working.
	c.SetReadDeadline(time.Now().Add(50 * time.Millisecond))
	if _, err := c.Read(make([]byte, 100)); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("second read: %v, want a deadline error", err)
	}
	if got := b.Stats().UDP.NoPort; got != 1 {
		t.Errorf("b counted %d datagrams to closed ports, want 1", got)
	}
	if got := b.Stats().ICMPv4.UnreachableSent; got != 1 {
		t.Errorf("b sent %d destination unreachable, want 1", got)
	}

	u, err := a.ListenPacket("udp4", ":0")
	if err != nil {
		t.Fatal(err)
	}
	defer u.Close()
	if _, err := u.WriteTo([]byte("x"), net.UDPAddrFromAddrPort(netip.AddrPortFrom(b.Addr(), 9999))); err != nil {
		t.Fatal(err)
	}
	eventually(t, 2*time.Second, "the second error", func() bool {
		return a.Stats().UDP.ErrorsIgnored == 1
	})
	u.SetReadDeadline(time.Now().Add(50 * time.Millisecond))
	if _, _, err := u.ReadFrom(make([]byte, 10)); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("unconnected socket read: %v, want a deadline error", err)
	}
}

// TestUDPDeadlinesAndClose checks net.PacketConn semantics: a read
// deadline in the past fails at once, one in the future unblocks a waiting
// read, Close unblocks a read with net.ErrClosed, and the port is free
// again after Close.
func TestUDPDeadlinesAndClose(t *testing.T) {
	a, _, _, _ := pair(t, device.MemoryConfig{})
	c, err := a.ListenPacket("udp", "10.0.0.1:5000")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.ListenPacket("udp", ":5000"); !errors.Is(err, syscall.EADDRINUSE) {
		t.Fatalf("second bind: %v, want EADDRINUSE", err)
	}
	if _, err := a.ListenPacket("udp", "10.0.0.9:5001"); !errors.Is(err, syscall.EADDRNOTAVAIL) {
		t.Fatalf("bind to another host's address: %v, want EADDRNOTAVAIL", err)
	}
	c.SetReadDeadline(time.Now().Add(-time.Second))
	if _, _, err := c.ReadFrom(make([]byte, 10)); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("past deadline: %v", err)
	}
	var ne net.Error
	c.SetReadDeadline(time.Time{})
	done := make(chan error, 1)
	go func() { _, _, err := c.ReadFrom(make([]byte, 10)); done <- err }()
	waitBlocked(t, "TestUDPDeadlinesAndClose.func", "actors.(*UDPSocket).Receive")
	c.SetReadDeadline(time.Now().Add(30 * time.Millisecond))
	select {
	case err := <-done:
		if !errors.Is(err, os.ErrDeadlineExceeded) || !errors.As(err, &ne) || !ne.Timeout() {
			t.Fatalf("moved deadline: %v, want a timeout", err)
		}
	case <-time.After(2 * time.Second):
		t.Fatal("a deadline set while reading did not unblock the read")
	}
	c.SetReadDeadline(time.Time{})
	go func() { _, _, err := c.ReadFrom(make([]byte, 10)); done <- err }()
	waitBlocked(t, "TestUDPDeadlinesAndClose.func", "actors.(*UDPSocket).Receive")
	c.Close()
	select {
	case err := <-done:
		if !errors.Is(err, net.ErrClosed) {
			t.Fatalf("read after Close: %v, want net.ErrClosed", err)
		}
	case <-time.After(2 * time.Second):
		t.Fatal("Close did not unblock the read")
	}
	if err := c.Close(); err == nil {
		t.Error("second Close succeeded")
	}
	c.SetWriteDeadline(time.Now().Add(-time.Second))
	again, err := a.ListenPacket("udp", ":5000")
	if err != nil {
		t.Fatalf("rebind after Close: %v", err)
	}
	again.SetWriteDeadline(time.Now().Add(-time.Second))
	if _, err := again.WriteTo([]byte("x"), &net.UDPAddr{IP: net.IPv4(10, 0, 0, 2), Port: 1}); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("write after the write deadline: %v", err)
	}
	again.Close()
}

// TestUDPBroadcast: broadcast needs the option to send and to receive.
func TestUDPBroadcast(t *testing.T) {
	a, b, _, _ := pair(t, device.MemoryConfig{})
	rx, err := b.ListenUDP(netip.AddrPortFrom(netip.IPv4Unspecified(), 6000))
	if err != nil {
		t.Fatal(err)
	}
	defer rx.Close()
	tx, err := a.ListenUDP(netip.AddrPort{})
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Close()
	bcast := netip.MustParseAddrPort("10.0.0.255:6000")
	if _, err := tx.WriteToUDPAddrPort([]byte("hello"), bcast); !errors.Is(err, syscall.EACCES) {
		t.Fatalf("broadcast without the option: %v, want EACCES", err)
	}
	tx.SetBroadcast(true)
	if _, err := tx.WriteToUDPAddrPort([]byte("hello"), bcast); err != nil {
		t.Fatal(err)
	}
	eventually(t, 2*time.Second, "the broadcast dropped at b", func() bool {
		return b.Stats().UDP.BroadcastNotEnabled == 1
	})
	rx.SetBroadcast(true)
	for _, dst := range []netip.AddrPort{bcast, netip.MustParseAddrPort("255.255.255.255:6000")} {
		if _, err := tx.WriteToUDPAddrPort([]byte("hello"), dst); err != nil {
			t.Fatal(err)
		}
		rx.SetReadDeadline(time.Now().Add(2 * time.Second))
		buf := make([]byte, 10)
		n, from, err := rx.ReadFromUDPAddrPort(buf)
		if err != nil || string(buf[:n]) != "hello" || from.Addr() != a.Addr() {
			t.Fatalf("broadcast to %v: %q from %v, %v", dst, buf[:n], from, err)
		}
	}
}

// TestUDPReceiveQueueBounded: datagrams nobody reads fill the socket's
// queue up to its limit; the rest are counted as dropped.
func TestUDPReceiveQueueBounded(t *testing.T) {
	a, b, _, _ := pair(t, device.MemoryConfig{RingSize: 4096})
	rx, err := b.ListenUDP(netip.AddrPortFrom(netip.Addr{}, 6001))
	if err != nil {
		t.Fatal(err)
	}
	defer rx.Close()
	rx.SetReadBuffer(0) // clamped to one maximal datagram
	tx, err := a.DialUDP(context.Background(), netip.AddrPort{}, netip.AddrPortFrom(b.Addr(), 6001))
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Close()
	// Resolve b first: the ARP queue holds only a few packets.
	if _, err := ping(a, b.Addr(), 8, 2*time.Second); err != nil {
		t.Fatal(err)
	}
	for i := range 200 {
		if _, err := tx.Write(pattern(1000, byte(i))); err != nil {
			t.Fatal(err)
		}
	}

	eventually(t, 3*time.Second, "the overflow counted", func() bool {
		st := b.Stats().UDP
		return st.PacketsReceived == 200 && st.QueueFull > 0
	})
	dropped := b.Stats().UDP.QueueFull
	read := 0
	buf := make([]byte, 2000)
	for {
		rx.SetReadDeadline(time.Now().Add(50 * time.Millisecond))
		if _, _, err := rx.ReadFrom(buf); err != nil {
			break
		}
		read++
	}
	if uint64(read)+dropped != 200 {
		t.Fatalf("read %d, dropped %d; want 200 in all", read, dropped)
	}
}

// TestUDPLargeFirstDatagram sends a 30000-byte datagram before either
// stack knows the other's MAC: its fragments wait for ARP together and all
// leave once it resolves.
func TestUDPLargeFirstDatagram(t *testing.T) {
	a, b, _, _ := pair(t, device.MemoryConfig{})
	srv, err := b.ListenUDP(netip.AddrPortFrom(netip.Addr{}, 7))
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	udpEchoServer(t, srv)
	c, err := a.DialUDP(context.Background(), netip.AddrPort{}, netip.AddrPortFrom(b.Addr(), 7))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	want := pattern(30000, 3)
	if _, err := c.Write(want); err != nil {
		t.Fatal(err)
	}
	c.SetReadDeadline(time.Now().Add(3 * time.Second))
	buf := make([]byte, 65536)
	n, err := c.Read(buf)
	if err != nil || !bytes.Equal(buf[:n], want) {
		t.Fatalf("first datagram: %d bytes, %v", n, err)
	}
	if got := a.Stats().ARP.QueueFull; got != 0 {
		t.Errorf("%d fragments pushed out of the ARP queue", got)
	}
}

// TestUDPToSelf sends datagrams, small and large, to the stack's own
// address: they loop back whole without touching the link.
func TestUDPToSelf(t *testing.T) {
	a, _, _, _ := pair(t, device.MemoryConfig{})
	rx, err := a.ListenPacket("udp", ":8")
	if err != nil {
		t.Fatal(err)
	}
	defer rx.Close()
	tx, err := a.DialUDP(context.Background(), netip.AddrPort{}, netip.AddrPortFrom(a.Addr(), 8))
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Close()
	buf := make([]byte, 65536)
	for _, size := range []int{5, 65507} {
		want := pattern(size, 9)
		if _, err := tx.Write(want); err != nil {
			t.Fatal(err)
		}
		rx.SetReadDeadline(time.Now().Add(2 * time.Second))
		n, from, err := rx.ReadFrom(buf)
		if err != nil || !bytes.Equal(buf[:n], want) || from.String() != tx.LocalAddr().String() {
			t.Fatalf("%d bytes to self: got %d from %v, %v", size, n, from, err)
		}
	}
	if got := a.Stats().IPv4.Fragmented; got != 0 {
		t.Errorf("%d datagrams fragmented for loopback traffic", got)
	}
}

// TestCloseWaitsForSenders closes a stack while goroutines of its users
// are in the send path (large UDP datagrams, pings): each holds pool
// buffers until its device write returns, which can be after the peer has
// read the frames. Close waits for them, so when it returns every buffer
// is back in the pool, and no send gets in afterwards.
func TestCloseWaitsForSenders(t *testing.T) {
	a, b, _, _ := pair(t, device.MemoryConfig{})
	srv, err := b.ListenUDP(netip.AddrPortFrom(netip.Addr{}, 9))
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	var wg sync.WaitGroup
	errs := make(chan error, 5)
	for range 4 {
		c, err := a.DialUDP(context.Background(), netip.AddrPort{}, netip.AddrPortFrom(b.Addr(), 9))
		if err != nil {
			t.Fatal(err)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			msg := pattern(30000, 1)
			for {
				if _, err := c.Write(msg); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			// A lost reply (the flood fills the link) only ends one
			// round early.
			if _, err := ping(a, b.Addr(), 1000, 100*time.Millisecond); errors.Is(err, net.ErrClosed) {
				errs <- err
				return
			}
		}
	}()
	eventually(t, 10*time.Second, "datagrams and pings to flow", func() bool {
		return a.Stats().UDP.PacketsSent >= 8 && b.Stats().ICMPv4.EchoRepliesSent >= 2
	})
	a.Close()
	if n := testhook.Running(a).Env.Pool.Outstanding(); n != 0 {
		t.Errorf("%d packet buffers still out when Close returned", n)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		// A send whose device write met the closed device fails as a
		// link error; one that came after Close, as a closed socket.
		if !errors.Is(err, net.ErrClosed) && !errors.Is(err, syscall.ENOBUFS) {
			t.Errorf("send at Close: %v; want net.ErrClosed or ENOBUFS", err)
		}
	}
}
