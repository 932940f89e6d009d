package tests

import (
	"context"
	"errors"
	"io"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/actnet/actnet"
	"github.com/actnet/actnet/device"
)

// The TCP counters that README promises under netstat -s names: active and
// passive openings, failed attempts, resets received and sent, segments.
func TestTCPConnectionCounters(t *testing.T) {
	a, b, _, _ := pair(t, device.MemoryConfig{})
	l, err := b.Listen("tcp", ":9000")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	client, err := a.DialTCP(ctx, netip.AddrPortFrom(b.Addr(), 9000))
	if err != nil {
		t.Fatal(err)
	}
	server, err := l.Accept()
	if err != nil {
		t.Fatal(err)
	}
	if sa, sb := a.Stats().TCP, b.Stats().TCP; sa.ActiveOpens != 1 || sa.PassiveOpens != 0 || sb.PassiveOpens != 1 || sb.ActiveOpens != 0 {
		t.Fatalf("openings: client %d active %d passive, server %d active %d passive; want 1/0 and 0/1",
			sa.ActiveOpens, sa.PassiveOpens, sb.ActiveOpens, sb.PassiveOpens)
	}

	// The server resets the connection: the client receives the reset.
	server.(*actnet.Conn).SetLinger(0)
	server.Close()
	if _, err := io.ReadAll(client); err == nil {
		t.Fatal("client read after the peer's reset: no error")
	}
	client.Close()
	// Connection counters are folded in when the connection actor ends.
	eventually(t, 5*time.Second, "the client to count the reset it received", func() bool {
		return a.Stats().TCP.ResetsReceived == 1
	})
	if got := b.Stats().TCP.ResetsSent; got != 1 {
		t.Errorf("server resets sent %d, want 1", got)
	}

	// A dial refused by a closed port is a failed connection attempt.
	if _, err := a.DialTCP(ctx, netip.AddrPortFrom(b.Addr(), 1)); !errors.Is(err, actnet.ErrConnectionRefused) {
		t.Fatalf("dial to a closed port: %v", err)
	}
	eventually(t, 5*time.Second, "the refused dial counted as a failed attempt", func() bool {
		return a.Stats().TCP.FailedAttempts == 1
	})
	st := a.Stats()
	if st.TCP.ActiveOpens != 2 || st.TCP.SegmentsSent == 0 || st.TCP.SegmentsReceived == 0 {
		t.Errorf("client tcp counters: %+v", st.TCP)
	}
	// String prints every counter that is not zero, under its name.
	if back := printedStats(t, st.String()); back.Snapshot != st.Snapshot {
		t.Errorf("String does not print the counters back:\n%s", st.String())
	}
	out := st.String()
	for _, line := range []string{"tcp:\n", "    2 active connection openings\n", "    1 failed connection attempts\n", "    1 connection resets received\n"} {
		if !strings.Contains(out, line) {
			t.Errorf("Stats().String() lacks %q:\n%s", line, out)
		}
	}
}
