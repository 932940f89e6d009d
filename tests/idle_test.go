package tests

import (
	"errors"
	"io"
	"net/netip"
	"testing"
	"time"

	"github.com/actnet/actnet"
	"github.com/actnet/actnet/actors"
	"github.com/actnet/actnet/apps"
	"github.com/actnet/actnet/device"
	"github.com/actnet/actnet/internal/testhook"
)

// idlePair starts a client and a server stack on one virtual clock; the
// server's connections close after idle without data.
func idlePair(t *testing.T, idle time.Duration) (client, server *actnet.Stack, clock *actors.VirtualClock) {
	t.Helper()
	clock = actors.NewVirtualClock(time.Unix(1_000_000, 0))
	da, db := device.NewMemoryPair(device.MemoryConfig{})
	start := func(dev device.Device, addr netip.Prefix, cfg actnet.TCPConfig) *actnet.Stack {
		s, err := actnet.New(actnet.Config{Device: dev, IPv4: addr, Logger: testLogger(t), Clock: clock, TCP: cfg})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	}
	return start(da, addrA, actnet.TCPConfig{}), start(db, addrB, actnet.TCPConfig{IdleTimeout: idle}), clock
}

// readAllAsync reads c to its end in the background.
func readAllAsync(c io.Reader) <-chan error {
	done := make(chan error, 1)
	go func() { _, err := io.ReadAll(c); done <- err }()
	return done
}

// An echo connection whose client goes silent is closed gracefully one
// idle timeout after the last data, not a moment before; the client reads
// its end.
func TestIdleTimeoutClosesSilentConnection(t *testing.T) {
	const idle = time.Minute
	client, server, clock := idlePair(t, idle)
	if _, err := server.Serve(7, apps.Echo()); err != nil {
		t.Fatal(err)
	}
	c, err := client.Dial("tcp", "10.0.0.2:7")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Write([]byte("hello\n")); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 6)
	if _, err := io.ReadFull(c, buf); err != nil {
		t.Fatal(err)
	}
	done := readAllAsync(c)
	waitIdle(t, client, server, clock)
	// The delayed ACK of the echo is the last data event (SND.UNA moves).
	clock.Advance(time.Second)
	waitIdle(t, client, server, clock)
	clock.Advance(idle - time.Second)
	waitIdle(t, client, server, clock)
	if n := server.Stats().TCP.IdleCloses; n != 0 {
		t.Fatalf("closed %d connections before the idle timeout", n)
	}
	clock.Advance(time.Second)
	waitIdle(t, client, server, clock)
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("client read %v, want a clean end", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the idle connection was not closed")
	}
	if st := server.Stats().TCP; st.IdleCloses != 1 || st.IdleResets != 0 {
		t.Fatalf("idle closes %d, resets %d; want 1 and 0", st.IdleCloses, st.IdleResets)
	}
}

// The source app closes fully once it has sent what was asked (and
// FIN-WAIT-2's timeout ends that), but a silent client could still hold a
// source connection forever: by never sending its request, or by asking
// for more than fits in the windows and never reading. The idle timeout
// ends both: the first with a close, the second with a reset.
func TestIdleTimeoutEndsSourceWithSilentClient(t *testing.T) {
	const idle = time.Minute
	client, server, clock := idlePair(t, idle)
	if _, err := server.Serve(19, apps.Source()); err != nil {
		t.Fatal(err)
	}
	mute, err := client.Dial("tcp", "10.0.0.2:19")
	if err != nil {
		t.Fatal(err)
	}
	defer mute.Close()
	deaf, err := client.Dial("tcp", "10.0.0.2:19")
	if err != nil {
		t.Fatal(err)
	}
	defer deaf.Close()
	if _, err := deaf.Write([]byte("100000000\n")); err != nil {
		t.Fatal(err)
	}
	conns := func() int { return testhook.Running(server).Env.TCPRoutes.Len() }
	waitIdle(t, client, server, clock)
	if conns() != 2 {
		t.Fatalf("server holds %d connections, want 2", conns())
	}
	// Two idle periods: the windows close within the first few delayed
	// ACKs, and FIN-WAIT-2's timeout (a minute) ends the closed one.
	for i := 0; i < 13 && conns() > 0; i++ {
		clock.Advance(10 * time.Second)
		waitIdle(t, client, server, clock)
	}
	if n := conns(); n != 0 {
		t.Fatalf("server still holds %d connections\n%v", n, server.Stats())
	}
	if st := server.Stats().TCP; st.IdleCloses != 1 || st.IdleResets != 1 {
		t.Fatalf("idle closes %d, resets %d; want 1 each", st.IdleCloses, st.IdleResets)
	}
}

// A client that sends to the echo app but never reads stops all data:
// the echo's replies wait for a window that never opens. The idle timeout
// resets that connection (a FIN could not get through either).
func TestIdleTimeoutResetsPeerNotReading(t *testing.T) {
	const idle = time.Minute
	client, server, clock := idlePair(t, idle)
	if _, err := server.Serve(7, apps.Echo()); err != nil {
		t.Fatal(err)
	}
	c, err := client.Dial("tcp", "10.0.0.2:7")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	// Write until the writes block: both directions are full.
	chunk := make([]byte, 64<<10)
	wrote := make(chan error, 1)
	go func() {
		for {
			if _, err := c.Write(chunk); err != nil {
				wrote <- err
				return
			}
		}
	}()
	waitBlocked(t, "TestIdleTimeoutResetsPeerNotReading", "(*Conn).Write")
	waitIdle(t, client, server, clock)
	// Persist probes and their ACKs go on; the data stops once the
	// windows close (a few delayed ACKs may move it a little first).
	for i := 0; i < 30 && server.Stats().TCP.IdleResets == 0; i++ {
		clock.Advance(10 * time.Second)
		waitIdle(t, client, server, clock)
	}
	select {
	case err := <-wrote:
		if !errors.Is(err, actnet.ErrConnectionReset) {
			t.Fatalf("client write ended with %v, want a reset", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatalf("the stuck connection was not reset\nserver:\n%v\nclient:\n%v", server.Stats(), client.Stats())
	}
	if st := server.Stats().TCP; st.IdleResets != 1 {
		t.Fatalf("idle resets %d, want 1\n%v", st.IdleResets, server.Stats())
	}
}
