package actors

import (
	"errors"
	"io"
	"net/netip"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/actnet/actnet/device"
	"github.com/actnet/actnet/layers/tcp"
)

func startPair(t *testing.T) (a, b *Running) {
	t.Helper()
	da, db := device.NewMemoryPair(device.MemoryConfig{})
	var err error
	a, err = Start(Options{Device: da, IPv4: netip.MustParsePrefix("10.0.0.1/24"), Log: zerolog.Nop()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close() })
	b, err = Start(Options{Device: db, IPv4: netip.MustParsePrefix("10.0.0.2/24"), Log: zerolog.Nop()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	return a, b
}

// connect opens a connection from a to b's listening queue and returns
// both ends.
func connect(t *testing.T, a *Running, q *AcceptQueue, to netip.AddrPort) (client, server *Socket) {
	t.Helper()
	client, err := a.Dial(netip.AddrPort{}, to, tcp.Config{})
	if err != nil {
		t.Fatal(err)
	}
	select {
	case <-client.Established():
	case <-time.After(5 * time.Second):
		t.Fatal("handshake did not complete")
	}
	deadline := time.After(5 * time.Second)
	for {
		if s, ok := q.Take(); ok {
			return client, s
		}
		select {
		case <-q.Ready():
		case <-deadline:
			t.Fatal("nothing to accept")
		}
	}
}

func roundTrip(t *testing.T, from, to *Socket, msg string) {
	t.Helper()
	never := make(chan struct{})
	if _, err := from.Write([]byte(msg), never); err != nil {
		t.Fatalf("write: %v", err)
	}
	buf := make([]byte, len(msg))
	n := 0
	for n < len(msg) {
		k, err := to.Read(buf[n:], timeout(5*time.Second))
		if err != nil {
			t.Fatalf("read: %v", err)
		}
		n += k
	}
	if string(buf) != msg {
		t.Fatalf("got %q, want %q", buf, msg)
	}
}

func timeout(d time.Duration) <-chan struct{} {
	ch := make(chan struct{})
	time.AfterFunc(d, func() { close(ch) })
	return ch
}

// A connection actor that panics is stopped: its peer is reset, its user
// sees an error, the crash is counted, and another connection between the
// same stacks carries on untouched.
func TestConnectionActorCrashIsIsolated(t *testing.T) {
	a, b := startPair(t)
	q, _, err := b.Listen(7, 0, tcp.Config{})
	if err != nil {
		t.Fatal(err)
	}
	to := netip.AddrPortFrom(b.Env.IPv4().Addr.Addr(), 7)
	victim, victimPeer := connect(t, a, q, to)
	bystander, bystanderPeer := connect(t, a, q, to)
	roundTrip(t, victim, victimPeer, "hello")

	victim.Configure(func(time.Time, *tcp.Conn) { panic("injected crash") })

	// The victim's user gets an error, not a hang.
	if _, err := victim.Read(make([]byte, 1), timeout(5*time.Second)); !errors.Is(err, errConnGone) {
		t.Fatalf("victim read: %v, want the crash error", err)
	}
	// Its peer was reset.
	if _, err := victimPeer.Read(make([]byte, 1), timeout(5*time.Second)); !errors.Is(err, tcp.ErrReset) {
		t.Fatalf("victim's peer read: %v, want connection reset", err)
	}
	if got := a.Env.Counters.TCP.ConnCrashes.Load(); got != 1 {
		t.Fatalf("crashes counted: %d, want 1", got)
	}
	// The other connection never noticed.
	roundTrip(t, bystander, bystanderPeer, "still here")
	roundTrip(t, bystanderPeer, bystander, "and back")
	bystander.CloseWrite()
	if _, err := bystanderPeer.Read(make([]byte, 1), timeout(5*time.Second)); err != io.EOF {
		t.Fatalf("orderly close after the crash: %v, want EOF", err)
	}
}
