package actnet

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"syscall"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/rs/zerolog"

	"github.com/actnet/actnet/device"
	"github.com/actnet/actnet/mailbox"
)

// dualPair starts two stacks on a memory link, each with an IPv4 and a
// static IPv6 address, and waits until both IPv6 addresses are usable.
func dualPair(t *testing.T) (a, b *Stack) {
	t.Helper()
	log := zerolog.Nop()
	da, db := device.NewMemoryPair(device.MemoryConfig{})
	mk := func(dev device.Device, v4, v6 string) *Stack {
		s, err := New(Config{Device: dev, IPv4: netip.MustParsePrefix(v4), Logger: &log,
			IPv6: IPv6Config{Mode: IPv6Static, Addr: netip.MustParsePrefix(v6)}})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	}
	a, b = mk(da, "10.0.0.1/24", "2001:db8::1/64"), mk(db, "10.0.0.2/24", "2001:db8::2/64")
	ctx, cancel := context.WithTimeout(context.Background(), callBound)
	defer cancel()
	for _, s := range []*Stack{a, b} {
		if _, err := s.WaitIPv6(ctx, true); err != nil {
			t.Fatalf("IPv6 address: %v", err)
		}
	}
	return a, b
}

// reportingApp is an app actor that reports its connection's start and
// the reason it ended.
func reportingApp(connected chan<- struct{}, closed chan<- mailbox.CloseReason) *actor.Props {
	return actor.PropsFromFunc(func(ctx actor.Context) {
		switch m := ctx.Message().(type) {
		case *mailbox.Connected:
			connected <- struct{}{}
		case *mailbox.Closed:
			closed <- m.Reason
		}
	})
}

// Close resets every open connection, of both families, before the device
// closes: the peer's sockets (those it dialed and those it accepted) end
// with ECONNRESET instead of waiting forever (no keep-alive runs), the
// closing stack's app actors hear Closed with ClosedAborted, and its
// sockets' blocked reads return an error matching net.ErrClosed and
// ECONNABORTED.
func TestCloseResetsOpenConnections(t *testing.T) {
	a, b := dualPair(t)
	peers := []netip.Addr{netip.MustParseAddr("10.0.0.2"), netip.MustParseAddr("2001:db8::2")}
	mine := []netip.Addr{netip.MustParseAddr("10.0.0.1"), netip.MustParseAddr("2001:db8::1")}

	// a dials b's listener; b keeps what it accepts.
	ln, err := b.ListenTCP(netip.AddrPortFrom(netip.Addr{}, 9000))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), callBound)
	defer cancel()
	var dialed, accepted, peerDialed []*Conn
	for _, p := range peers {
		c, err := a.DialTCP(ctx, netip.AddrPortFrom(p, 9000))
		if err != nil {
			t.Fatalf("dial %v: %v", p, err)
		}
		dialed = append(dialed, c)
		ac, err := ln.AcceptTCP()
		if err != nil {
			t.Fatal(err)
		}
		accepted = append(accepted, ac)
	}
	// b dials an app actor a serves, and a's app hears of each.
	connected := make(chan struct{}, len(mine))
	closed := make(chan mailbox.CloseReason, len(mine))
	if _, err := a.Serve(7, reportingApp(connected, closed)); err != nil {
		t.Fatal(err)
	}
	for _, m := range mine {
		c, err := b.DialTCP(ctx, netip.AddrPortFrom(m, 7))
		if err != nil {
			t.Fatalf("dial %v: %v", m, err)
		}
		peerDialed = append(peerDialed, c)
		select {
		case <-connected:
		case <-time.After(callBound):
			t.Fatal("the app did not hear of its connection")
		}
	}

	// Reads blocked on a's sockets when it closes.
	blocked := make(chan error, len(dialed))
	for _, c := range dialed {
		go func() {
			_, err := c.Read(make([]byte, 10))
			blocked <- err
		}()
	}
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}

	for range dialed {
		select {
		case err := <-blocked:
			if !errors.Is(err, net.ErrClosed) || !errors.Is(err, syscall.ECONNABORTED) {
				t.Errorf("blocked Read: %v, want net.ErrClosed and ECONNABORTED", err)
			}
		case <-time.After(callBound):
			t.Fatal("a Read blocked on the closed stack did not return")
		}
	}
	for range mine {
		select {
		case r := <-closed:
			if r != mailbox.ClosedAborted {
				t.Errorf("app's connection ended %v, want %v", r, mailbox.ClosedAborted)
			}
		case <-time.After(callBound):
			t.Fatal("an app did not hear Closed")
		}
	}
	for _, c := range append(accepted, peerDialed...) {
		err := bounded(t, "peer's Read", func() error {
			_, err := c.Read(make([]byte, 10))
			return err
		})
		if err != errHung && !errors.Is(err, syscall.ECONNRESET) {
			t.Errorf("peer's Read on %v: %v, want ECONNRESET", c.RemoteAddr(), err)
		}
	}
	if got := a.Stats().TCP.ResetsSent; got < 4 {
		t.Errorf("closing stack sent %d resets, want at least 4", got)
	}
}
