package tests

import (
	"context"
	"net/netip"
	"testing"
	"time"

	"github.com/actnet/actnet"
	"github.com/actnet/actnet/actors"
	"github.com/actnet/actnet/device"
	"github.com/actnet/actnet/layers/arp"
	"github.com/actnet/actnet/layers/ethernet"
)

// An address nobody answers for is asked for four times, a second apart,
// then given up: the waiting packet is dropped and counted. Virtual time
// makes the retries deterministic.
func TestARPGivesUpOnSilentAddress(t *testing.T) {
	clock := actors.NewVirtualClock(time.Unix(1_000_000, 0))
	da, db := device.NewMemoryPair(device.MemoryConfig{})
	s, err := actnet.New(actnet.Config{Device: da, IPv4: addrA, Logger: testLogger(t), Clock: clock})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	defer db.Close()

	silent := netip.MustParseAddr("10.0.0.99")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go s.Ping(ctx, silent, 8)

	requests := func() uint64 { return s.Stats().ARP.RequestsSent }
	eventually(t, 5*time.Second, "the first ARP request", func() bool { return requests() == 1 })
	for i := 2; i <= 4; i++ {
		clock.Advance(time.Second)
		eventually(t, 5*time.Second, "ARP request retry", func() bool { return requests() == uint64(i) })
	}
	clock.Advance(time.Second)
	eventually(t, 5*time.Second, "the packet counted as unresolved", func() bool {
		return s.Stats().ARP.Unresolved == 1
	})
	clock.Advance(10 * time.Second)
	waitIdle(t, s, clock)
	if got := requests(); got != 4 {
		t.Fatalf("%d requests sent, want 4 (one and three retries)", got)
	}
}

// A host claiming the stack's address draws a defending announcement
// (RFC 5227 §2.4 (b)), and the claim is not learned.
func TestARPDefendsItsAddress(t *testing.T) {
	// On virtual time the second start-up announcement never comes, so
	// an announcement now can only be the defence.
	s, p := rawPeerOn(t, actors.NewVirtualClock(time.Unix(1_000_000, 0)))
	before := s.Stats().ARP.AnnouncementsSent
	forged := make([]byte, arp.Len)
	arp.Repr{Op: arp.Reply, SenderHW: p.mac, SenderIP: p.dstI, TargetHW: p.dst, TargetIP: p.dstI}.Emit(forged)
	p.send(p.frame(ethernet.ARP, forged))
	defended := p.await(3*time.Second, func(f ethernet.Frame) bool {
		if f.EtherType() != ethernet.ARP || !f.Dst().IsBroadcast() {
			return false
		}
		r, err := arp.Parse(f.Payload())
		return err == nil && r.Op == arp.Request && r.SenderIP == p.dstI && r.TargetIP == p.dstI &&
			r.SenderHW == p.dst
	})
	if !defended {
		t.Fatal("no defending announcement after a conflicting claim")
	}
	if got := s.Stats().ARP.Conflicts; got != 1 {
		t.Fatalf("conflicts counted %d, want 1", got)
	}
	if got := s.Stats().ARP.AnnouncementsSent; got != before+1 {
		t.Fatalf("announcements went from %d to %d, want one defence", before, got)
	}
	// The stack still answers its own address afterwards.
	p.send(p.frame(ethernet.IPv4, p.echo(7)))
	if !p.awaitEchoReply(7, 2*time.Second) {
		t.Fatal("no echo reply after the conflict")
	}
}
