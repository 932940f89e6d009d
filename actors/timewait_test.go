package actors

import (
	"container/heap"
	"context"
	"io"
	"net/netip"
	"runtime"
	"testing"
	"time"

	"github.com/actnet/actnet/layers/tcp"
)

// A SYN for a connection the server holds in TIME-WAIT opens a new
// connection at once (RFC 1122 §4.2.2.13) instead of being lost.
func TestTimeWaitIsReusedByANewSYN(t *testing.T) {
	a, b := startPair(t)
	q, _, err := b.Listen(80, 0, tcp.Config{})
	if err != nil {
		t.Fatal(err)
	}
	local := netip.AddrPortFrom(a.Env.IPv4().Addr.Addr(), 40000)
	to := netip.AddrPortFrom(b.Env.IPv4().Addr.Addr(), 80)
	never := make(chan struct{})

	dial := func() (client, server *Socket) {
		client, err := a.Dial(local, to, tcp.Config{})
		if err != nil {
			t.Fatal(err)
		}
		select {
		case <-client.Established():
		case <-time.After(10 * time.Second):
			t.Fatal("no handshake within 10 s")
		}
		for {
			if s, ok := q.Take(); ok {
				return client, s
			}
			select {
			case <-q.Ready():
			case <-time.After(5 * time.Second):
				t.Fatal("nothing to accept")
			}
		}
	}

	client, server := dial()
	// The server closes first, so the server ends up in TIME-WAIT.
	server.Write([]byte("bye"), never)
	server.Close(false)
	if got, err := io.ReadAll(readerOf(client)); err != nil || string(got) != "bye" {
		t.Fatalf("client read %q, %v", got, err)
	}
	client.Close(false)
	// Let the last ACK land: both stacks and the link between them idle.
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := WaitIdle(ctx, a, b, a.Env.Device.(Active), b.Env.Device.(Active)); err != nil {
		t.Fatalf("the stacks never went idle: %v", err)
	}

	client2, server2 := dial()
	roundTrip(t, client2, server2, "hello again")
	// Taken at once, not refused and retried: the counters say so, where
	// a time bound on the handshake would only guess (it failed once on a
	// machine running two test suites).
	if got := b.Env.Counters.TCP.TimeWaitReopened.Load(); got != 1 {
		t.Fatalf("time-wait reopened %d times, want 1", got)
	}
	if got := b.Env.Counters.TCP.TimeWaitSYNRefused.Load(); got != 0 {
		t.Fatalf("%d SYNs refused in TIME-WAIT, want none", got)
	}
}

type socketReader struct{ s *Socket }

func (r socketReader) Read(p []byte) (int, error) { return r.s.Read(p, timeout(5*time.Second)) }

func readerOf(s *Socket) io.Reader { return socketReader{s} }

// A connection that closes takes its route down before its user hears of
// the end: a segment the user's peer sends afterwards goes to the tcp
// actor, which answers it as a closed connection's, and is not lost in the
// mailbox of the stopping connection actor (whose Terminated may come
// later still).
func TestClosedConnectionRouteGoneBeforeUserHears(t *testing.T) {
	a, b := startPair(t)
	q, _, err := b.Listen(80, 0, tcp.Config{})
	if err != nil {
		t.Fatal(err)
	}
	client, server := connect(t, a, q, netip.AddrPortFrom(b.Env.IPv4().Addr.Addr(), 80))
	tuple := tcp.Tuple{Local: client.Local, Remote: client.Remote}
	if _, ok := a.Env.TCPRoutes.get(tuple); !ok {
		t.Fatal("an established connection has no route")
	}
	server.Close(true) // the client's connection is reset
	select {
	case <-client.Done():
	case <-time.After(10 * time.Second):
		t.Fatal("the reset connection never ended")
	}
	if _, ok := a.Env.TCPRoutes.get(tuple); ok {
		t.Fatal("the connection ended for its user with its route still up")
	}
}

// BenchmarkTimeWaitEntryMemory reports the heap one compact TIME-WAIT
// entry takes in the tcp actor's table (entry, map slot, heap slot), at
// b.N entries: go test -run '^$' -bench TimeWaitEntryMemory -benchtime=100000x ./actors
func BenchmarkTimeWaitEntryMemory(b *testing.B) {
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	w := newTimeWaits(b.N)
	local := netip.MustParseAddrPort("192.0.2.1:80")
	for i := range b.N {
		remote := netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)}), 40000)
		t := tcp.Tuple{Local: local, Remote: remote}
		e := &twEntry{tuple: t}
		w.m[t] = e
		heap.Push(&w.heap, e)
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	b.ReportMetric(float64(after.HeapAlloc-before.HeapAlloc)/float64(b.N), "B/entry")
	runtime.KeepAlive(w)
}
