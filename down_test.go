package actnet

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/rs/zerolog"

	"github.com/actnet/actnet/device"
	"github.com/actnet/actnet/mailbox"
)

// idleApp is an app actor that ignores its connection (the apps package
// cannot be imported here: it imports this one).
func idleApp() *actor.Props { return actor.PropsFromFunc(func(actor.Context) {}) }

// callBound is the upper bound on one call on a stack that is down; a call
// that takes longer is taken to hang (they all return at once when right).
const callBound = 10 * time.Second

// bounded runs call and fails the test if it has not returned within
// callBound; it returns call's error.
func bounded(t *testing.T, name string, call func() error) error {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- call() }()
	select {
	case err := <-done:
		return err
	case <-time.After(callBound):
		t.Errorf("%s: still blocked after %v on a stack that is down", name, callBound)
		return errHung
	}
}

// errHung is what bounded returns for a call that did not return; its
// caller has nothing more to check.
var errHung = errors.New("call hung")

// downFixture is everything a stack's user can hold, opened while the stack
// ran, and the calls left blocked on it when it went down.
type downFixture struct {
	s, peer   *Stack
	idle      *Listener // nothing ever connects to it
	svc       *Service
	conn      *Conn // s → peer
	packet    *UDPConn
	connected *UDPConn
	blocked   map[string]chan error
}

func newDownFixture(t *testing.T) *downFixture {
	t.Helper()
	log := zerolog.Nop()
	da, db := device.NewMemoryPair(device.MemoryConfig{})
	s, err := New(Config{Device: da, IPv4: netip.MustParsePrefix("10.0.0.1/24"), Logger: &log})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	peer, err := New(Config{Device: db, IPv4: netip.MustParsePrefix("10.0.0.2/24"), Logger: &log})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { peer.Close() })
	f := &downFixture{s: s, peer: peer, blocked: map[string]chan error{}}

	if f.idle, err = s.ListenTCP(netip.AddrPort{}); err != nil {
		t.Fatal(err)
	}
	if f.svc, err = s.Serve(0, idleApp()); err != nil {
		t.Fatal(err)
	}
	pl, err := peer.Listen("tcp", ":9000")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pl.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if f.conn, err = s.DialTCP(ctx, netip.MustParseAddrPort("10.0.0.2:9000")); err != nil {
		t.Fatal(err)
	}
	if f.packet, err = s.ListenUDP(netip.AddrPort{}); err != nil {
		t.Fatal(err)
	}
	if f.connected, err = s.DialUDP(ctx, netip.AddrPort{}, netip.MustParseAddrPort("10.0.0.2:9")); err != nil {
		t.Fatal(err)
	}

	// Calls that block until something arrives; the stack going down is
	// that something.
	block := func(name string, call func() error) {
		ch := make(chan error, 1)
		f.blocked[name] = ch
		go func() { ch <- call() }()
	}
	block("Listener.Accept", func() error { _, err := f.idle.Accept(); return err })
	block("Conn.Read", func() error { _, err := f.conn.Read(make([]byte, 10)); return err })
	block("UDPConn.ReadFrom", func() error { _, _, err := f.packet.ReadFrom(make([]byte, 10)); return err })
	block("UDPConn.Read (connected)", func() error { _, err := f.connected.Read(make([]byte, 10)); return err })
	return f
}

// check runs every call of the public API on the fixture's stack, which
// is down, and checks each returns, with an error matching want where it
// returns one. Close-like calls may also succeed: the user had not closed
// those yet.
func (f *downFixture) check(t *testing.T, want error) {
	t.Helper()
	for name, ch := range f.blocked {
		select {
		case err := <-ch:
			if !errors.Is(err, want) {
				t.Errorf("blocked %s returned %v, want %v", name, err, want)
			}
		case <-time.After(callBound):
			t.Errorf("blocked %s still blocked after %v", name, callBound)
		}
	}
	s := f.s
	ctx := context.Background()
	peerTCP := netip.MustParseAddrPort("10.0.0.2:9000")
	peerUDP := netip.MustParseAddrPort("10.0.0.2:9")
	buf := make([]byte, 10)

	mustFail := map[string]func() error{
		"Stack.Listen":          func() error { _, err := s.Listen("tcp", ":80"); return err },
		"Stack.Listen :0":       func() error { _, err := s.Listen("tcp", ":0"); return err },
		"Stack.ListenTCP":       func() error { _, err := s.ListenTCP(netip.AddrPortFrom(netip.Addr{}, 81)); return err },
		"Stack.Dial":            func() error { _, err := s.Dial("tcp", peerTCP.String()); return err },
		"Stack.DialContext tcp": func() error { _, err := s.DialContext(ctx, "tcp", peerTCP.String()); return err },
		"Stack.DialTCP":         func() error { _, err := s.DialTCP(ctx, peerTCP); return err },
		"Stack.DialContext udp": func() error { _, err := s.DialContext(ctx, "udp", peerUDP.String()); return err },
		"Stack.DialUDP":         func() error { _, err := s.DialUDP(ctx, netip.AddrPort{}, peerUDP); return err },
		"Stack.ListenUDP":       func() error { _, err := s.ListenUDP(netip.AddrPort{}); return err },
		"Stack.ListenPacket":    func() error { _, err := s.ListenPacket("udp", ":53"); return err },
		"Stack.Serve":           func() error { _, err := s.Serve(7, idleApp()); return err },
		"Stack.Ping":            func() error { _, err := s.Ping(ctx, peerTCP.Addr(), 8); return err },
		"Listener.Accept":       func() error { _, err := f.idle.Accept(); return err },
		"Listener.AcceptTCP":    func() error { _, err := f.idle.AcceptTCP(); return err },
		"Conn.Read":             func() error { _, err := f.conn.Read(buf); return err },
		"Conn.Write":            func() error { _, err := f.conn.Write(buf); return err },
		"UDPConn.ReadFrom":      func() error { _, _, err := f.packet.ReadFrom(buf); return err },
		"UDPConn.ReadFromUDPAddrPort": func() error {
			_, _, err := f.packet.ReadFromUDPAddrPort(buf)
			return err
		},
		"UDPConn.WriteTo": func() error {
			_, err := f.packet.WriteTo(buf, net.UDPAddrFromAddrPort(peerUDP))
			return err
		},
		"UDPConn.WriteToUDPAddrPort": func() error { _, err := f.packet.WriteToUDPAddrPort(buf, peerUDP); return err },
		"UDPConn.Read (connected)":   func() error { _, err := f.connected.Read(buf); return err },
		"UDPConn.Write (connected)":  func() error { _, err := f.connected.Write(buf); return err },
		"Service.Stop":               func() error { return f.svc.Stop() },
	}
	for name, call := range mustFail {
		err := bounded(t, name, call)
		if err == errHung {
			continue
		}
		if !errors.Is(err, want) {
			t.Errorf("%s: %v, want an error matching %v", name, err, want)
		}
		// Where the net package returns a *net.OpError, so do we.
		if _, isOp := errors.AsType[*net.OpError](err); !isOp && name != "Stack.Ping" {
			t.Errorf("%s: %T is not a *net.OpError", name, err)
		}
	}

	mayFail := map[string]func() error{
		"Conn.SetNoDelay":     func() error { return f.conn.SetNoDelay(true) },
		"Conn.SetKeepAlive":   func() error { return f.conn.SetKeepAlive(true) },
		"Conn.SetDeadline":    func() error { return f.conn.SetDeadline(time.Now().Add(time.Hour)) },
		"Conn.SetLinger":      func() error { return f.conn.SetLinger(0) },
		"Conn.CloseWrite":     func() error { return f.conn.CloseWrite() },
		"Conn.Close":          func() error { return f.conn.Close() },
		"Listener.Close":      func() error { return f.idle.Close() },
		"UDPConn.SetDeadline": func() error { return f.packet.SetDeadline(time.Now().Add(time.Hour)) },
		"UDPConn.Close":       func() error { return f.packet.Close() },
		"UDPConn.Close (connected)": func() error {
			return f.connected.Close()
		},
		"Stack.PathMTU": func() error { s.PathMTU(peerTCP.Addr()); return nil },
		"Stack.Stats":   func() error { _ = s.Stats().String(); return nil },
		"addresses": func() error {
			_, _, _, _ = s.Addr(), s.HardwareAddr(), f.idle.Addr(), f.svc.Port()
			_, _ = f.conn.LocalAddr(), f.conn.RemoteAddr()
			_, _ = f.packet.LocalAddr(), f.connected.RemoteAddr()
			return nil
		},
	}
	for name, call := range mayFail {
		if err := bounded(t, name, call); err != nil && err != errHung && !errors.Is(err, want) && !errors.Is(err, net.ErrClosed) {
			t.Errorf("%s: %v, want nil or an error matching %v", name, err, want)
		}
	}
	// Everything was closed: a second Close of each says so.
	for name, call := range map[string]func() error{
		"Listener.Close again": func() error { return f.idle.Close() },
		"Conn.Close again":     func() error { return f.conn.Close() },
		"UDPConn.Close again":  func() error { return f.packet.Close() },
		"Service.Stop again":   func() error { return f.svc.Stop() },
	} {
		if err := bounded(t, name, call); err != errHung && !errors.Is(err, net.ErrClosed) {
			t.Errorf("%s: %v, want net.ErrClosed", name, err)
		}
	}
}

// Every call of the public API returns once the stack is closed, those
// blocked at the time included, with net.ErrClosed (in a *net.OpError
// where the net package would use one): none waits for an answer from an
// actor that was stopped.
func TestCallsAfterClose(t *testing.T) {
	f := newDownFixture(t)
	if err := f.s.Close(); err != nil {
		t.Fatal(err)
	}
	f.check(t, net.ErrClosed)
	if err := f.s.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
}

// failTCPLayer makes the tcp actor exceed its crash budget: it is sent
// segments that cannot be demultiplexed (a zero Segment, which no
// validated packet is), one batch each, more than the layer's budget of
// 100 crashes in 10 s allows. The tcp actor is then stopped and the stack
// fails (supervisor.LayerStrategy).
func failTCPLayer(t *testing.T, s *Stack) {
	t.Helper()
	env := s.run.Env
	for range 101 {
		b := mailbox.NewBatch()
		b.Add(mailbox.Packet{Src: netip.MustParseAddr("10.0.0.2"), Dst: s.Addr()})
		env.System.Root.Send(env.PIDs.TCP, b)
	}
	select {
	case <-s.Failed():
	case <-time.After(callBound):
		t.Fatal("the stack did not fail")
	}
	if !errors.Is(s.Err(), ErrStackFailed) {
		t.Fatalf("Err() = %v, want ErrStackFailed", s.Err())
	}
}

// The same once the stack failed: every call returns, with an error that
// errors.Is ErrStackFailed, although only the tcp layer stopped and the
// calls of other layers would still get an answer.
func TestCallsAfterFailure(t *testing.T) {
	f := newDownFixture(t)
	failTCPLayer(t, f.s)
	f.check(t, ErrStackFailed)
	// Closing the failed stack turns the errors into net.ErrClosed.
	f.s.Close()
	if _, err := f.s.Listen("tcp", ":80"); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("Listen after the failed stack was closed: %v, want net.ErrClosed", err)
	}
}

// A request already waiting for the tcp actor when it is stopped returns:
// the Listen here is queued behind the batches that make it fail.
func TestRequestInFlightWhenStackFails(t *testing.T) {
	f := newDownFixture(t)
	env := f.s.run.Env
	for range 101 {
		b := mailbox.NewBatch()
		b.Add(mailbox.Packet{Src: netip.MustParseAddr("10.0.0.2"), Dst: f.s.Addr()})
		env.System.Root.Send(env.PIDs.TCP, b)
	}
	err := bounded(t, "Listen queued behind the failure", func() error {
		_, err := f.s.Listen("tcp", ":80")
		return err
	})
	// The tcp actor may have answered before it failed.
	if err != nil && !errors.Is(err, ErrStackFailed) {
		t.Fatalf("Listen: %v, want nil or ErrStackFailed", err)
	}
	select {
	case <-f.s.Failed():
	case <-time.After(callBound):
		t.Fatal("the stack did not fail")
	}
}
