package tests

import (
	"context"
	"errors"
	"net/netip"
	"testing"
	"time"

	"github.com/actnet/actnet"
	"github.com/actnet/actnet/actors"
	"github.com/actnet/actnet/device"
	"github.com/actnet/actnet/layers/arp"
	"github.com/actnet/actnet/layers/ethernet"
)

// limitedPair starts a client with default limits and a server with lim,
// on one virtual clock.
func limitedPair(t *testing.T, lim actnet.Limits) (client, server *actnet.Stack, clock *actors.VirtualClock, db *device.Memory) {
	t.Helper()
	clock = actors.NewVirtualClock(time.Unix(1_000_000, 0))
	da, db := device.NewMemoryPair(device.MemoryConfig{})
	start := func(dev device.Device, addr netip.Prefix, lim actnet.Limits) *actnet.Stack {
		s, err := actnet.New(actnet.Config{Device: dev, IPv4: addr, Logger: testLogger(t), Clock: clock, Limits: lim})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	}
	return start(da, addrA, actnet.Limits{}), start(db, addrB, lim), clock, db
}

// rawPeerWith is rawPeerOn for a stack with limits lim.
func rawPeerWith(t *testing.T, lim actnet.Limits) (*actnet.Stack, *rawPeer, *actors.VirtualClock) {
	t.Helper()
	clock := actors.NewVirtualClock(time.Unix(1_000_000, 0))
	da, db := device.NewMemoryPair(device.MemoryConfig{})
	s, err := actnet.New(actnet.Config{Device: da, IPv4: addrA, Logger: testLogger(t), Clock: clock, Limits: lim})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	p := &rawPeer{t: t, dev: db, mac: ethernet.Addr(db.HardwareAddr()), ip: addrB.Addr(),
		dst: ethernet.Addr(da.HardwareAddr()), dstI: addrA.Addr()}
	req := make([]byte, arp.Len)
	arp.NewRequest(p.mac, p.ip, p.dstI).Emit(req)
	p.send(p.frame(ethernet.ARP, req))
	eventually(t, 5*time.Second, "the peer's ARP request learnt", func() bool { return s.Stats().ARP.RepliesSent == 1 })
	return s, p, clock
}

func TestLimitMaxConns(t *testing.T) {
	client, server, _, _ := limitedPair(t, actnet.Limits{MaxConns: 1})
	l, err := client.Listen("tcp", ":80")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	c, err := server.Dial("tcp", "10.0.0.1:80")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := server.Dial("tcp", "10.0.0.1:80"); !errors.Is(err, actors.ErrTooManyConns) {
		t.Fatalf("second dial: %v, want the table full", err)
	}
	if n := server.Stats().TCP.TableFull; n != 1 {
		t.Fatalf("table full counted %d times, want 1", n)
	}
}

func TestLimitBacklog(t *testing.T) {
	s, p, clock := rawPeerWith(t, actnet.Limits{Backlog: 1})
	l, err := s.Listen("tcp", ":80")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	p.send(p.synFrom(p.ip, 1000, 80))
	p.send(p.synFrom(p.ip, 1001, 80))
	waitIdle(t, s, clock)
	st := s.Stats().TCP
	if st.PassiveOpens != 1 || st.BacklogFull != 1 || st.CookiesSent != 1 {
		t.Fatalf("passive opens %d, backlog full %d, cookies %d; want 1 each", st.PassiveOpens, st.BacklogFull, st.CookiesSent)
	}
}

func TestLimitConnSpawnRate(t *testing.T) {
	s, p, clock := rawPeerWith(t, actnet.Limits{ConnSpawnRate: 1})
	l, err := s.Listen("tcp", ":80")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	p.send(p.synFrom(p.ip, 1000, 80))
	p.send(p.synFrom(p.ip, 1001, 80))
	waitIdle(t, s, clock)
	st := s.Stats().TCP
	if st.PassiveOpens != 1 || st.SpawnRateLimited != 1 || st.CookiesSent != 1 {
		t.Fatalf("passive opens %d, over the spawn rate %d, cookies %d; want 1 each", st.PassiveOpens, st.SpawnRateLimited, st.CookiesSent)
	}
	clock.Advance(time.Second) // a token comes back
	waitIdle(t, s, clock)
	p.send(p.synFrom(p.ip, 1002, 80))
	waitIdle(t, s, clock)
	if st := s.Stats().TCP; st.PassiveOpens != 2 || st.SpawnRateLimited != 1 {
		t.Fatalf("after a second: passive opens %d, over the rate %d; want 2 and 1", st.PassiveOpens, st.SpawnRateLimited)
	}
}

func TestLimitARPEntries(t *testing.T) {
	// The peer's own entry plus two more fill a cache of two: one is
	// evicted, and counted.
	s, p, clock := rawPeerWith(t, actnet.Limits{ARPEntries: 2})
	for _, ip := range []string{"10.0.0.50", "10.0.0.51"} {
		req := make([]byte, arp.Len)
		arp.NewRequest(p.mac, netip.MustParseAddr(ip), p.dstI).Emit(req)
		p.send(p.frame(ethernet.ARP, req))
	}
	waitIdle(t, s, clock)
	if n := s.Stats().ARP.TableFull; n != 1 {
		t.Fatalf("neighbour cache full %d times, want 1", n)
	}
}

func TestLimitUDPReceiveQueue(t *testing.T) {
	client, server, clock, _ := limitedPair(t, actnet.Limits{UDPReceiveQueue: 1000})
	srv, err := server.ListenUDP(netip.AddrPortFrom(netip.Addr{}, 7))
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	c, err := client.DialUDP(context.Background(), netip.AddrPort{}, netip.AddrPortFrom(server.Addr(), 7))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	for range 3 {
		if _, err := c.Write(make([]byte, 600)); err != nil {
			t.Fatal(err)
		}
	}
	waitIdle(t, client, server, clock)
	if n := server.Stats().UDP.QueueFull; n != 2 {
		t.Fatalf("%d datagrams dropped on the full queue, want 2", n)
	}
}

func TestLimitBufferMemory(t *testing.T) {
	// A cap below what the device reader itself holds: every frame in is
	// dropped, and counted.
	client, server, clock, _ := limitedPair(t, actnet.Limits{BufferMemory: 1})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go client.Ping(ctx, server.Addr(), 8)
	eventually(t, 5*time.Second, "a frame dropped at the buffer memory cap", func() bool {
		return server.Stats().Link.BufferMemoryFull > 0
	})
	waitIdle(t, client, server, clock)
	if st := server.Stats(); st.ARP.PacketsReceived != 0 || st.ICMPv4.EchoRepliesSent != 0 {
		t.Fatalf("frames got through the cap: %d ARP received, %d echo replies", st.ARP.PacketsReceived, st.ICMPv4.EchoRepliesSent)
	}
}

func TestLimitReassemblyBytes(t *testing.T) {
	// Two datagrams in progress of 1,200 bytes each do not fit in 2,000
	// bytes: the older is evicted to make room.
	s, p, clock := rawPeerWith(t, actnet.Limits{ReassemblyBytes: 2000})
	for id := uint16(1); id <= 2; id++ {
		p.send(p.packet(17, id, 0, true, p.dstI, make([]byte, 1200)))
	}
	waitIdle(t, s, clock)
	st := s.Stats().IPv4
	if st.ReassemblyEvicted != 1 {
		t.Fatalf("%d datagrams evicted at the reassembly cap, want 1:\n%v", st.ReassemblyEvicted, s.Stats())
	}
}

// With the connection table full, a SYN is dropped even when the
// listener's backlog is full too: no SYN cookie gets round the cap (its
// ACK would find the table full), as Linux drops the SYN. The refusal is
// counted.
func TestLimitMaxConnsBeforeCookies(t *testing.T) {
	s, p, clock := rawPeerWith(t, actnet.Limits{MaxConns: 1, Backlog: 1})
	l, err := s.Listen("tcp", ":80")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	p.send(p.synFrom(p.ip, 1000, 80)) // half-open: fills the table and the backlog
	waitIdle(t, s, clock)
	p.send(p.synFrom(p.ip, 1001, 80))
	waitIdle(t, s, clock)
	st := s.Stats().TCP
	if st.PassiveOpens != 1 || st.TableFull != 1 || st.CookiesSent != 0 || st.BacklogFull != 0 {
		t.Fatalf("passive opens %d, table full %d, cookies %d, backlog full %d; want 1, 1, 0, 0",
			st.PassiveOpens, st.TableFull, st.CookiesSent, st.BacklogFull)
	}
}

// The default cap is sized from memory: 16 KiB a connection, so 4 GiB
// free admits more than 250,000 connections.
func TestDefaultMaxConnsFromMemory(t *testing.T) {
	if n := actors.MaxConnsForMemory(4 << 30); n < 250_000 {
		t.Fatalf("4 GiB admits %d connections, want at least 250,000", n)
	}
	if actors.DefaultMaxConns < 250_000 {
		t.Fatalf("DefaultMaxConns %d, want at least 250,000", actors.DefaultMaxConns)
	}
}
