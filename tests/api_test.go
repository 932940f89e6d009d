package tests

import (
	"context"
	"errors"
	"io"
	"net"
	"net/netip"
	"os"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/actnet/actnet"
	"github.com/actnet/actnet/apps"
	"github.com/actnet/actnet/device"
)

// Errors of TCP connections match the errnos Go's net package reports for
// them, and actnet's own sentinels as well.
func TestTCPErrorsMatchErrnos(t *testing.T) {
	t.Run("refused", func(t *testing.T) {
		a, b, _, _ := pair(t, device.MemoryConfig{})
		_, err := a.Dial("tcp", netip.AddrPortFrom(b.Addr(), 4242).String())
		if !errors.Is(err, syscall.ECONNREFUSED) || !errors.Is(err, actnet.ErrConnectionRefused) {
			t.Fatalf("dial to a closed port: %v, want ECONNREFUSED and ErrConnectionRefused", err)
		}
		if _, ok := errors.AsType[*net.OpError](err); !ok {
			t.Fatalf("%T is not a *net.OpError", err)
		}
	})
	t.Run("reset", func(t *testing.T) {
		_, _, client, server := tcpConnPair(t)
		server.(*actnet.Conn).SetLinger(0)
		server.Close()
		client.SetReadDeadline(time.Now().Add(10 * time.Second))
		_, err := client.Read(make([]byte, 1))
		if !errors.Is(err, syscall.ECONNRESET) || !errors.Is(err, actnet.ErrConnectionReset) {
			t.Fatalf("read after the peer's RST: %v, want ECONNRESET and ErrConnectionReset", err)
		}
	})
	t.Run("timed out", func(t *testing.T) {
		da, db := device.NewMemoryPair(device.MemoryConfig{})
		a, err := actnet.New(actnet.Config{Device: da, IPv4: addrA, Logger: testLogger(t),
			TCP: actnet.TCPConfig{InitialRTO: 50 * time.Millisecond, R2Syn: 300 * time.Millisecond}})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { a.Close() })
		b := newStack(t, db, addrB)
		if _, err := ping(a, b.Addr(), 8, 5*time.Second); err != nil {
			t.Fatal(err) // the neighbour is known: only the SYNs will be lost
		}
		if err := da.SetFaults(device.Faults{DropPercent: 100}); err != nil {
			t.Fatal(err)
		}
		_, err = a.Dial("tcp", netip.AddrPortFrom(b.Addr(), 9).String())
		if !errors.Is(err, syscall.ETIMEDOUT) || !errors.Is(err, actnet.ErrTimedOut) {
			t.Fatalf("dial with every SYN lost: %v, want ETIMEDOUT and ErrTimedOut", err)
		}
		if ne, ok := errors.AsType[net.Error](err); !ok || !ne.Timeout() {
			t.Fatalf("%v: not a net.Error with Timeout", err)
		}
		if errors.Is(err, os.ErrDeadlineExceeded) {
			t.Fatalf("%v: a protocol timeout is not a deadline", err)
		}
	})
	t.Run("deadline", func(t *testing.T) {
		_, _, client, _ := tcpConnPair(t)
		client.SetReadDeadline(time.Now().Add(10 * time.Millisecond))
		_, err := client.Read(make([]byte, 1))
		if !errors.Is(err, os.ErrDeadlineExceeded) || errors.Is(err, syscall.ETIMEDOUT) {
			t.Fatalf("read past its deadline: %v, want os.ErrDeadlineExceeded only", err)
		}
	})
}

// Listen on port 0 picks a free ephemeral port (RFC 6335 §6), as net's
// does, and Addr reports it; Serve on port 0 likewise, through Port.
func TestListenPortZero(t *testing.T) {
	a, b, _, _ := pair(t, device.MemoryConfig{})
	l, err := b.Listen("tcp", ":0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	port := l.Addr().(*net.TCPAddr).Port
	if port < 49152 || port > 65535 {
		t.Fatalf("Listen :0 got port %d, want one in 49152..65535", port)
	}
	l2, err := b.Listen("tcp", ":0")
	if err != nil {
		t.Fatal(err)
	}
	defer l2.Close()
	if l2.Addr().(*net.TCPAddr).Port == port {
		t.Fatalf("two listeners on port %d", port)
	}
	go func() {
		if c, err := l.Accept(); err == nil {
			c.Write([]byte("hi"))
			c.Close()
		}
	}()
	c, err := a.Dial("tcp", l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	if got, err := io.ReadAll(c); err != nil || string(got) != "hi" {
		t.Fatalf("read %q, %v", got, err)
	}

	svc, err := b.Serve(0, apps.Echo())
	if err != nil {
		t.Fatal(err)
	}
	defer svc.Stop()
	if svc.Port() == 0 || svc.Port() == uint16(port) {
		t.Fatalf("Serve(0) got port %d", svc.Port())
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	e, err := a.DialContext(ctx, "tcp", netip.AddrPortFrom(b.Addr(), svc.Port()).String())
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	e.SetDeadline(time.Now().Add(10 * time.Second))
	e.Write([]byte("echo"))
	e.(*actnet.Conn).CloseWrite()
	if got, err := io.ReadAll(e); err != nil || string(got) != "echo" {
		t.Fatalf("echo %q, %v", got, err)
	}
}

// Listener.Close may be called from many goroutines at once (net.Listener
// allows it): exactly one succeeds, the others get net.ErrClosed, and the
// race detector has nothing to say.
func TestListenerCloseConcurrent(t *testing.T) {
	_, b, _, _ := pair(t, device.MemoryConfig{})
	l, err := b.Listen("tcp", ":0")
	if err != nil {
		t.Fatal(err)
	}
	const n = 8
	errs := make(chan error, n)
	var start sync.WaitGroup
	start.Add(1)
	for range n {
		go func() { start.Wait(); errs <- l.Close() }()
	}
	start.Done()
	ok := 0
	for range n {
		if err := <-errs; err == nil {
			ok++
		} else if !errors.Is(err, net.ErrClosed) {
			t.Errorf("Close: %v, want nil or net.ErrClosed", err)
		}
	}
	if ok != 1 {
		t.Fatalf("%d Close calls succeeded, want 1", ok)
	}
}
