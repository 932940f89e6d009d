package tests

import (
	"context"
	"io"
	"net"
	"net/netip"
	"sync"
	"testing"
	"time"

	actnet "github.com/actnet/actnet"
	"github.com/actnet/actnet/actors"
	"github.com/actnet/actnet/device"
	"github.com/actnet/actnet/internal/testhook"
)

// serverClosesFirst opens n connections from a to s's port 80 in waves
// of wave; the server closes each first, so its end stays in TIME-WAIT.
// The virtual clock moves only by seconds (for retransmissions of what a
// full link ring dropped), well within TIME-WAIT's minute. The client's
// random ports meet tuples the server holds in TIME-WAIT; a second
// before each wave moves the client's timestamp clock (and its ISNs,
// RFC 6528's 4 µs clock) past the old connections', so its SYNs reopen
// them (RFC 6191).
func serverClosesFirst(t *testing.T, a, s *actnet.Stack, l net.Listener, clock *actors.VirtualClock, n, wave int) {
	t.Helper()
	to := netip.AddrPortFrom(s.Addr(), 80)
	for done := 0; done < n; done += wave {
		clock.Advance(time.Second)
		accepted := make(chan net.Conn, wave)
		go func() {
			for range wave {
				c, err := l.Accept()
				if err != nil {
					close(accepted)
					return
				}
				accepted <- c
			}
		}()
		clients := make([]net.Conn, 0, wave)
		for range wave {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			c, err := a.DialTCP(ctx, to)
			cancel()
			if err != nil {
				t.Fatalf("dial %d: %v", done+len(clients), err)
			}
			clients = append(clients, c)
		}
		for range wave {
			c, ok := <-accepted
			if !ok {
				t.Fatal("accept failed")
			}
			c.Close()
		}
		var closed sync.WaitGroup
		for _, c := range clients {
			closed.Add(1)
			go func() {
				defer closed.Done()
				io.Copy(io.Discard, c) // to the server's FIN
				c.Close()
			}()
		}
		finished := make(chan struct{})
		go func() {
			closed.Wait()
			close(finished)
		}()
		for i := 0; ; i++ {
			waitIdle(t, a, s, clock)
			select {
			case <-finished:
				if a.Gauges().TCPConns+s.Gauges().TCPConns == 0 {
					goto next
				}
			default:
			}
			if i == 20 {
				t.Fatalf("connections left: client %+v, server %+v", a.Gauges(), s.Gauges())
			}
			clock.Advance(time.Second)
		}
	next:
	}
}

// Issue 14 (compact TIME-WAIT): connections the server closed first hold
// under 1 KiB each of the server's heap while in TIME-WAIT (an entry of
// about 290 bytes, BenchmarkTimeWaitEntryMemory), not the 4.2 KiB of a
// whole connection kept for the minute, and they do not count as
// connections. Then they expire on the virtual clock.
func TestTimeWaitIsCompact(t *testing.T) {
	if raceEnabled || testing.Short() {
		t.Skip("measures the heap: not under -race or -short")
	}
	quietLogs(t)
	clock := actors.NewVirtualClock(time.Unix(1_000_000, 0))
	da, db := device.NewMemoryPair(device.MemoryConfig{})
	a, err := actnet.New(actnet.Config{Device: da, IPv4: addrA, Logger: testLogger(t), Clock: clock})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	s, err := actnet.New(actnet.Config{Device: db, IPv4: addrB, Logger: testLogger(t), Clock: clock})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	l, err := s.Listen("tcp", ":80")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	for _, p := range [][2]*actnet.Stack{{a, s}, {s, a}} {
		if _, err := ping(p[0], p[1].Addr(), 8, 10*time.Second); err != nil {
			t.Fatalf("ping: %v", err)
		}
	}
	// Warm-up (pools, link rings, protoactor's registry: see
	// TestFinishedConnsUnreachable), then past TIME-WAIT.
	serverClosesFirst(t, a, s, l, clock, 2000, 500)
	for _, st := range []*actnet.Stack{a, s} {
		fillRegistry(testhook.Running(st).Env.System, 300_000)
	}
	clock.Advance(2 * time.Minute)
	waitIdle(t, a, s, clock)
	if g := s.Gauges(); g.TCPTimeWait != 0 {
		t.Fatalf("server gauges %+v after 2 minutes: TIME-WAIT left", g)
	}
	for _, p := range [][2]*actnet.Stack{{a, s}, {s, a}} {
		if _, err := ping(p[0], p[1].Addr(), 8, 10*time.Second); err != nil {
			t.Fatalf("ping: %v", err)
		}
	}

	const n = 5000
	before := liveHeap()
	serverClosesFirst(t, a, s, l, clock, n, 500)
	// Some tuples came round again and were reopened from TIME-WAIT.
	g := s.Gauges()
	if g.TCPConns != 0 || g.TCPTimeWait < n/2 {
		t.Fatalf("server gauges %+v, want no connection and most of %d in TIME-WAIT", g, n)
	}
	after := liveHeap()
	per := (int64(after) - int64(before)) / int64(g.TCPTimeWait)
	t.Logf("live heap %d KiB before, %d KiB with %d connections in TIME-WAIT: %d bytes each", before>>10, after>>10, g.TCPTimeWait, per)
	if per > 1024 {
		t.Fatalf("%d bytes of heap per connection in TIME-WAIT, want at most 1 KiB", per)
	}

	clock.Advance(2 * time.Minute)
	waitIdle(t, a, s, clock)
	if g := s.Gauges(); g.TCPTimeWait != 0 {
		t.Fatalf("server gauges %+v after 2 minutes: TIME-WAIT left", g)
	}
	// Memory returned (issue 14): with every entry expired, the live heap
	// is back within 10% of before (TestFinishedConnsUnreachable proves
	// the same for whole connections), allowing for the memory link's
	// rings as there.
	returned := liveHeap()
	rings := uint64(2 * device.DefaultRingSize * (da.MTU() + 18))
	t.Logf("live heap %d KiB after TIME-WAIT expired", returned>>10)
	if returned > before+before/10+rings {
		t.Errorf("live heap %d KiB after every TIME-WAIT entry expired, %d KiB before (+10%%, +%d KiB for the link's rings): entries kept",
			returned>>10, before>>10, rings>>10)
	}
	st := s.Stats().TCP
	if st.TimeWaitEntered != 2000+n || st.TimeWaitExpired+st.TimeWaitReopened != st.TimeWaitEntered {
		t.Fatalf("TIME-WAIT entered %d (want %d), expired %d, reopened %d", st.TimeWaitEntered, 2000+n, st.TimeWaitExpired, st.TimeWaitReopened)
	}
}
