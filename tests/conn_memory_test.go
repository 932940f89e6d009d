package tests

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/netip"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"

	actnet "github.com/actnet/actnet"
	"github.com/actnet/actnet/actors"
	"github.com/actnet/actnet/device"
	"github.com/actnet/actnet/internal/testhook"
)

// idleProcess stands in for an actor in the process registry.
type idleProcess struct{}

func (idleProcess) SendUserMessage(*actor.PID, any)   {}
func (idleProcess) SendSystemMessage(*actor.PID, any) {}
func (idleProcess) Stop(*actor.PID)                   {}

// fillRegistry adds and removes n processes, so that (with near
// certainty) each of the registry's maps has had an entry.
func fillRegistry(sys *actor.ActorSystem, n int) {
	for i := range n {
		pid, _ := sys.ProcessRegistry.Add(idleProcess{}, fmt.Sprintf("fill%d", i))
		sys.ProcessRegistry.Remove(pid)
	}
}

// liveHeap is the heap still reachable after two collections.
func liveHeap() uint64 {
	var m runtime.MemStats
	runtime.GC()
	runtime.GC()
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

// connWaves opens n connections from a to s's port 80 in waves of wave,
// has the client close first and the server after it, and lets the
// client's TIME-WAIT expire on the virtual clock after each wave.
func connWaves(t *testing.T, a, s *actnet.Stack, l net.Listener, clock *actors.VirtualClock, n, wave int) {
	t.Helper()
	to := netip.AddrPortFrom(s.Addr(), 80)
	for done := 0; done < n; done += wave {
		// Each wave starts with fresh neighbour entries: the clock
		// jumped past their lifetime, and a burst of segments would
		// overflow the resolution queue.
		for _, p := range [][2]*actnet.Stack{{a, s}, {s, a}} {
			if _, err := ping(p[0], p[1].Addr(), 8, 10*time.Second); err != nil {
				t.Fatalf("ping: %v", err)
			}
		}
		// Accepted as they come: a full accept queue would hold
		// connections back on timers of the virtual clock.
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
		servers := make([]net.Conn, 0, wave)
		for range wave {
			c, ok := <-accepted
			if !ok {
				t.Fatal("accept failed")
			}
			servers = append(servers, c)
		}
		for _, c := range clients {
			c.Close()
		}
		var closed sync.WaitGroup
		for _, c := range servers {
			closed.Add(1)
			go func() {
				defer closed.Done()
				io.Copy(io.Discard, c) // to the client's FIN
				c.Close()
			}()
		}
		done := make(chan struct{})
		go func() {
			closed.Wait()
			close(done)
		}()
		// Past TIME-WAIT (2 MSL), and past the retransmissions of
		// whatever a full link ring dropped.
		for i := 0; ; i++ {
			waitIdle(t, a, s, clock)
			select {
			case <-done:
				if g, h := a.Gauges(), s.Gauges(); g.TCPConns+h.TCPConns+g.TCPTimeWait+h.TCPTimeWait == 0 {
					goto next
				}
			default:
			}
			if i == 20 {
				t.Fatalf("connections left after 40 minutes: client %+v, server %+v\n%s", a.Gauges(), s.Gauges(), a.Stats().String()+"\n-----\n"+s.Stats().String())
			}
			clock.Advance(2 * time.Minute)
		}
	next:
	}
}

// After 10,000 connections have come and gone (the client closing first,
// its TIME-WAIT expired), the live heap is back within 10% of what it was
// before them: nothing keeps a finished connection reachable, whatever
// protoactor's bookkeeping of children does (its PIDSet kept a pointer to
// every removed child in spare capacity, which held each finished
// connection's actor, mailbox and control block, up to the most
// connections ever open at once). A warm-up in small waves fills the
// pools before the measure.
func TestFinishedConnsUnreachable(t *testing.T) {
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

	// The warm-up, in small waves: the pools and the memory link's ring
	// slots reach their working size. protoactor's process registry is
	// 32,768 small maps per actor system, each keeping the bucket its
	// first entry made (about 10 MB once every one has had a PID); it is
	// filled up front, as a long-running stack's would be.
	connWaves(t, a, s, l, clock, 5000, 100)
	for _, st := range []*actnet.Stack{a, s} {
		fillRegistry(testhook.Running(st).Env.System, 300_000)
	}
	before := liveHeap()
	connWaves(t, a, s, l, clock, 10000, 1000)
	if g := a.Gauges(); g.TCPConns != 0 || g.TCPTimeWait != 0 {
		t.Fatalf("client gauges %+v: connections left", g)
	}
	if g := s.Gauges(); g.TCPConns != 0 || g.TCPTimeWait != 0 {
		t.Fatalf("server gauges %+v: connections left", g)
	}
	after := liveHeap()
	t.Logf("live heap %d KiB before, %d KiB after 10,000 connections", before>>10, after>>10)
	// The memory link's rings (test equipment, not the stack) give a slot
	// a frame buffer the first time the ring is that full, and a wave
	// fills them further than the warm-up did: at most a ring's worth of
	// frames each, allowed for on top of the 10%.
	rings := uint64(2 * device.DefaultRingSize * (da.MTU() + 18))
	if after > before+before/10+rings {
		t.Fatalf("live heap %d KiB after every connection closed, %d KiB before (+10%%, +%d KiB for the link's rings): finished connections kept",
			after>>10, before>>10, rings>>10)
	}
}
