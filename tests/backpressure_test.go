package tests

import (
	"bytes"
	"errors"
	"io"
	"net"
	"net/netip"
	"os"
	"testing"
	"time"

	"github.com/actnet/actnet"
	"github.com/actnet/actnet/device"
)

// tcpConnPair starts two stacks on a memory link and returns one TCP
// connection between them: its client end on a, its server end on b. The
// test's end closes both.
func tcpConnPair(t *testing.T) (a, b *actnet.Stack, client, server net.Conn) {
	t.Helper()
	a, b, _, _ = pair(t, device.MemoryConfig{})
	l, err := b.Listen("tcp", ":9000")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	accepted := make(chan net.Conn, 1)
	go func() {
		c, err := l.Accept()
		if err == nil {
			accepted <- c
		}
	}()
	client, err = a.Dial("tcp", netip.AddrPortFrom(b.Addr(), 9000).String())
	if err != nil {
		t.Fatal(err)
	}
	select {
	case server = <-accepted:
	case <-time.After(5 * time.Second):
		t.Fatal("nothing to accept")
	}
	t.Cleanup(func() { client.Close(); server.Close() })
	return a, b, client, server
}

// A peer that does not read makes the writer block: the bytes in flight
// are bounded by the buffers (send buffer, receive buffer, socket read
// limit), the advertised window closes, and the write ends with the
// deadline. Once the peer reads, everything arrives intact.
func TestTCPWriterBlocksWhenPeerDoesNotRead(t *testing.T) {
	_, _, c, server := tcpConnPair(t)

	data := randomBytes(8 << 20)
	c.SetWriteDeadline(time.Now().Add(2 * time.Second))
	n, err := c.Write(data)
	if !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("write to a peer that does not read: %d bytes, %v; want a deadline error", n, err)
	}
	const bound = 3 * 256 << 10 // send buffer + receive buffer + socket read limit
	if n == 0 || n > bound {
		t.Fatalf("%d bytes taken before blocking; want 0 < n <= %d", n, bound)
	}
	t.Logf("%d bytes taken before the writer blocked", n)

	// The peer reads now: what was taken arrives intact, and the rest can
	// be written.
	c.SetWriteDeadline(time.Time{})
	done := make(chan error, 1)
	go func() {
		_, err := c.Write(data[n:])
		if err == nil {
			err = c.(interface{ CloseWrite() error }).CloseWrite()
		}
		done <- err
	}()
	server.SetReadDeadline(time.Now().Add(30 * time.Second))
	got, err := io.ReadAll(server)
	if err != nil {
		t.Fatalf("read: %v after %d bytes", err, len(got))
	}
	if err := <-done; err != nil {
		t.Fatalf("second write: %v", err)
	}
	if string(got) != string(data) {
		t.Fatalf("received %d bytes, not the %d written", len(got), len(data))
	}
}

// Read after Close fails with net.ErrClosed, also when the peer keeps
// sending. (Data the connection actor delivers in the instant between the
// user's Close and the actor's handling of it is discarded by the socket;
// that window cannot be hit on purpose, so this test checks only the
// outcome.)
func TestTCPReadAfterCloseFails(t *testing.T) {
	a, b, c, server := tcpConnPair(t)
	c.Close()
	server.Write([]byte("too late"))
	waitIdle(t, a, b) // the data has arrived, or been refused
	if n, err := c.Read(make([]byte, 16)); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("read after close: %d bytes, %v; want net.ErrClosed", n, err)
	}
}

// Close unblocks a Write that waits for room in the send buffer, as
// net.Conn's contract says, and the close then goes on gracefully: the
// peer, once it reads, gets what was taken before the Close and then EOF.
// Before, the Write stayed blocked until the connection ended, which for a
// peer that never reads was never.
func TestTCPCloseUnblocksWrite(t *testing.T) {
	_, _, c, server := tcpConnPair(t)
	data := randomBytes(8 << 20)
	type result struct {
		n   int
		err error
	}
	done := make(chan result, 1)
	go func() {
		n, err := c.Write(data)
		done <- result{n, err}
	}()
	// Wait until the writer is blocked, waiting for the send buffer.
	waitBlocked(t, "TestTCPCloseUnblocksWrite", "(*Socket).Write")
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	var r result
	select {
	case r = <-done:
	case <-time.After(30 * time.Second):
		t.Fatal("Write still blocked 30 s after Close")
	}
	if !errors.Is(r.err, net.ErrClosed) || r.n >= len(data) {
		t.Fatalf("blocked Write after Close: %d bytes, %v; want net.ErrClosed before the end", r.n, r.err)
	}
	server.SetReadDeadline(time.Now().Add(30 * time.Second))
	got, err := io.ReadAll(server)
	if err != nil || !bytes.Equal(got, data[:r.n]) {
		t.Fatalf("peer read %d bytes (%v); want the %d taken before Close, then EOF", len(got), err, r.n)
	}
}
