package tests

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"io"
	"net"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/actnet/actnet"
	"github.com/actnet/actnet/device"
)

// echoServer accepts connections on l and echoes each until EOF. When the
// test ends it closes the listener and every connection it accepted.
func echoServer(t testing.TB, l net.Listener) {
	t.Helper()
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		conns []net.Conn
	)
	t.Cleanup(func() {
		l.Close()
		mu.Lock()
		for _, c := range conns {
			c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer c.Close()
				io.Copy(c, c)
			}()
		}
	}()
}

// echoRoundTrip writes data on a fresh connection, half-closes, and checks
// that exactly the same bytes come back.
func echoRoundTrip(t testing.TB, s *actnet.Stack, to netip.AddrPort, data []byte, within time.Duration) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), within)
	defer cancel()
	c, err := s.DialTCP(ctx, to)
	if err != nil {
		t.Fatalf("dial %v: %v", to, err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(within))
	errc := make(chan error, 1)
	go func() {
		_, err := c.Write(data)
		if err == nil {
			err = c.CloseWrite()
		}
		errc <- err
	}()
	got, err := io.ReadAll(c)
	if err != nil {
		t.Fatalf("read back: %v (after %d of %d bytes)", err, len(got), len(data))
	}
	if err := <-errc; err != nil {
		t.Fatalf("write: %v", err)
	}
	if sha256.Sum256(got) != sha256.Sum256(data) {
		t.Fatalf("echo differs: sent %d bytes, got %d", len(data), len(got))
	}
}

func randomBytes(n int) []byte {
	b := make([]byte, n)
	rand.Read(b)
	return b
}

func TestTCPEchoOverMemoryLink(t *testing.T) {
	a, b, _, _ := pair(t, device.MemoryConfig{})
	l, err := b.Listen("tcp", ":9000")
	if err != nil {
		t.Fatal(err)
	}
	echoServer(t, l)
	to := netip.AddrPortFrom(b.Addr(), 9000)
	for _, n := range []int{1, 100, 4096, 65536, 1 << 20} {
		echoRoundTrip(t, a, to, randomBytes(n), 30*time.Second)
	}
}

func TestTCPDialClosedPortIsRefused(t *testing.T) {
	a, b, _, _ := pair(t, device.MemoryConfig{})
	start := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, err := a.DialTCP(ctx, netip.AddrPortFrom(b.Addr(), 1))
	if !errors.Is(err, actnet.ErrConnectionRefused) {
		t.Fatalf("dial to a closed port: %v, want connection refused", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("refusal took %v; it should be immediate", d)
	}
	if got := b.Stats().TCP.ClosedPort; got != 1 {
		t.Errorf("closed-port count %d, want 1", got)
	}
}

func TestTCPEchoOverLossyMemoryLink(t *testing.T) {
	faults := func(seed int64) device.Faults {
		return device.Faults{Seed: seed, DropPercent: 2, DuplicatePercent: 1, ReorderPercent: 2, CorruptPercent: 1}
	}
	a, b, _, _ := pair(t, device.MemoryConfig{FaultsAToB: faults(11), FaultsBToA: faults(12)})
	l, err := b.Listen("tcp", ":9000")
	if err != nil {
		t.Fatal(err)
	}
	echoServer(t, l)
	size := 16 << 20
	if testing.Short() {
		size = 2 << 20
	}
	echoRoundTrip(t, a, netip.AddrPortFrom(b.Addr(), 9000), randomBytes(size), 5*time.Minute)
}
