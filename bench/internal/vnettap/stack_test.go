package vnettap

import (
	"bytes"
	"context"
	"io"
	"net/netip"
	"testing"
	"time"

	"golang.org/x/sys/unix"
	"gvisor.dev/gvisor/pkg/tcpip"
	"gvisor.dev/gvisor/pkg/tcpip/adapters/gonet"
	"gvisor.dev/gvisor/pkg/tcpip/link/ethernet"

	"github.com/actnet/actnet/bench/internal/gvstack"
)

// TestTwoStacksWithGSO joins two gVisor stacks, each on an Endpoint, by a
// SOCK_SEQPACKET socket pair in place of the tap and the kernel: what one
// endpoint writes the other reads unchanged, as a kernel delivering GSO
// frames whole would hand them over. One megabyte over TCP, in each
// family, must arrive intact, and must have crossed as super-frames with
// partial checksums that the receiving endpoint trusted.
func TestTwoStacksWithGSO(t *testing.T) {
	for _, c := range []struct {
		name     string
		from, to netip.Prefix
	}{
		{"IPv4", netip.MustParsePrefix("10.0.0.1/24"), netip.MustParsePrefix("10.0.0.2/24")},
		{"IPv6", netip.MustParsePrefix("fd00:77::1/64"), netip.MustParsePrefix("fd00:77::2/64")},
	} {
		t.Run(c.name, func(t *testing.T) {
			fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_SEQPACKET, 0)
			if err != nil {
				t.Skipf("no socket pair: %v", err)
			}
			var eps [2]*Endpoint
			for i, fd := range fds {
				unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_SNDBUF, 4<<20)
				unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUF, 4<<20)
				mac := tcpip.LinkAddress([]byte{2, 0, 0, 0, 0, byte(i + 1)})
				if eps[i], err = New(fd, 1500, mac, 1<<16); err != nil {
					t.Fatal(err)
				}
			}
			client, err := gvstack.New(ethernet.New(eps[0]), c.from)
			if err != nil {
				t.Fatal(err)
			}
			defer client.Close()
			server, err := gvstack.New(ethernet.New(eps[1]), c.to)
			if err != nil {
				t.Fatal(err)
			}
			defer server.Close()

			l, err := gonet.ListenTCP(server, gvstack.FullAddress(c.to.Addr(), 9001), gvstack.Protocol(c.to.Addr()))
			if err != nil {
				t.Fatal(err)
			}
			defer l.Close()
			want := make([]byte, 1<<20)
			for i := range want {
				want[i] = byte(i * 7)
			}
			got := make(chan []byte, 1)
			go func() {
				conn, err := l.Accept()
				if err != nil {
					got <- nil
					return
				}
				defer conn.Close()
				// A bound on a broken run, not a timing assertion.
				conn.SetDeadline(time.Now().Add(30 * time.Second))
				b, _ := io.ReadAll(conn)
				got <- b
			}()
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			conn, err := gonet.DialContextTCP(ctx, client, gvstack.FullAddress(c.to.Addr(), 9001), gvstack.Protocol(c.to.Addr()))
			if err != nil {
				t.Fatal(err)
			}
			conn.SetDeadline(time.Now().Add(30 * time.Second))
			if _, err := conn.Write(want); err != nil {
				t.Fatal(err)
			}
			conn.Close()
			if b := <-got; !bytes.Equal(b, want) {
				t.Fatalf("server read %d bytes, not the %d written", len(b), len(want))
			}
			tx, rx := &eps[0].Stats, &eps[1].Stats
			t.Logf("client sent %d frames, %d of them super-frames; server received %d, %d super-frames",
				tx.TxFrames.Load(), tx.TxSuperFrames.Load(), rx.RxFrames.Load(), rx.RxSuperFrames.Load())
			if tx.TxSuperFrames.Load() == 0 || rx.RxSuperFrames.Load() == 0 {
				t.Errorf("no super-frames: client sent %d of %d frames as super-frames, server received %d of %d",
					tx.TxSuperFrames.Load(), tx.TxFrames.Load(), rx.RxSuperFrames.Load(), rx.RxFrames.Load())
			}
			for i, e := range eps {
				s := &e.Stats
				if n := s.RxBadHeader.Load() + s.RxBadChecksum.Load() + s.RxUnverifiable.Load() + s.TxRefused.Load(); n != 0 {
					t.Errorf("endpoint %d refused %d frames (bad header %d, bad checksum %d, unverifiable %d, tx refused %d)",
						i, n, s.RxBadHeader.Load(), s.RxBadChecksum.Load(), s.RxUnverifiable.Load(), s.TxRefused.Load())
				}
			}
		})
	}
}
